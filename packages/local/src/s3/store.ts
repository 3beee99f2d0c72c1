/**
 * The local S3's disk layout. Object bytes live at `<dataDir>/s3/<bucket>/<escaped key path>` so
 * a file manager shows the buckets as folders; metadata lives in a sidecar tree
 * `<dataDir>/s3-meta/<bucket>/…` so it never clutters them. Every write lands in a temp file first
 * and is renamed into place under its key's lock, so readers never see half an object, conditional
 * writes are atomic within the process, and writes of different keys never wait for each other.
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  createReadStream,
  type Dirent,
  fstatSync,
  openSync,
  readFileSync,
  type Stats,
  statSync,
  writeFile as writeFileCallback,
} from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { ServiceError } from "../edge/protocol";
import { compareKeys, decodeSegment, keyToSegments, SHADOWED_SUFFIX, validateBucketName } from "./keys";

/** What the sidecar records about one object. */
export interface ObjectMeta {
  /** Hex MD5, or `<hex>-<parts>` for multipart uploads; no quotes. */
  etag: string;
  size: number;
  /** ISO-8601. */
  lastModified: string;
  contentType: string;
  contentEncoding?: string;
  contentDisposition?: string;
  cacheControl?: string;
  /** `x-amz-meta-*` values by lower-case name without the prefix. */
  userMetadata: Record<string, string>;
  /**
   * The inode of the bytes this sidecar describes (rename keeps it), so a sidecar left stale by a
   * crash between the two renames of a commit is detected even when the size did not change.
   */
  fileId?: number;
}

export interface BucketMeta {
  creationDate: string;
  cors?: CorsRule[];
}

export interface CorsRule {
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

/** A write's precondition, checked under the key's lock against the current object. */
export interface WriteCondition {
  ifMatch?: string;
  ifNoneMatch?: string;
}

export interface ListedObject extends ObjectMeta {
  key: string;
}

// Marks metadata files in the sidecar tree; `%m` never occurs in an escaped segment.
const META_SUFFIX = "%m";
const BUCKET_META = "%bucket";

/** Strips quotes and a weak-validator prefix from an ETag as clients send it. */
export function bareEtag(value: string): string {
  return value
    .trim()
    .replace(/^W\//, "")
    .replace(/^"(.*)"$/, "$1");
}

function isMissing(error: unknown): boolean {
  const code = errorCode(error);
  return code === "ENOENT" || code === "ENOTDIR";
}

/**
 * The callback form of writeFile: each write of an object or a sidecar costs the event loop three
 * pool round trips either way, and this form spares the FileHandle and promise objects of each.
 */
const writeSmall: (path: string, data: string | Buffer, flag: "w" | "wx") => Promise<void> = (() => {
  const write = promisify(writeFileCallback);
  return (path, data, flag) => write(path, data, { flag });
})();

/** How often a write retries a step that a concurrent delete or shadowing undid. */
const MAX_WRITE_ATTEMPTS = 32;

/** Objects up to this size are read with one synchronous call (see the objects section). */
const SYNC_READ_BYTES = 1024 * 1024;

/** The lock of one object; bucket operations lock the bare bucket name, which has no "/". */
const keyLock = (bucket: string, key: string) => `${bucket}/${key}`;

/** The key whose object would sit where the key's folder at `depth` is (`a/b/c`, 0 → `a`). */
const ancestorKey = (key: string, depth: number) =>
  key
    .split("/")
    .slice(0, depth + 1)
    .join("/");

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** Runs async sections one at a time per name (a promise-chain mutex). */
class Locks {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(name: string, section: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(name) ?? Promise.resolve();
    let release = () => {};
    const current = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => current);
    this.tails.set(name, tail);
    await previous;
    try {
      return await section();
    } finally {
      release();
      if (this.tails.get(name) === tail) this.tails.delete(name);
    }
  }
}

async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const temp = `${path}.${process.pid}.${crypto.randomUUID()}.tmp`;
  await writeFile(temp, JSON.stringify(value));
  await rename(temp, path);
}

export class DiskStore {
  readonly objectsRoot: string;
  private readonly metaRoot: string;
  readonly tempRoot: string;
  readonly uploadsRoot: string;
  private readonly locks = new Locks();

  constructor(dataDir: string) {
    this.objectsRoot = join(dataDir, "s3");
    this.metaRoot = join(dataDir, "s3-meta");
    this.tempRoot = join(dataDir, "s3-tmp");
    this.uploadsRoot = join(dataDir, "s3-multipart");
  }

  async init(): Promise<void> {
    await Promise.all(
      [this.objectsRoot, this.metaRoot, this.uploadsRoot].map((dir) => mkdir(dir, { recursive: true })),
    );
    // Leftover temp files are uploads a crash interrupted; they were never acknowledged.
    await rm(this.tempRoot, { recursive: true, force: true });
    await mkdir(this.tempRoot, { recursive: true });
  }

  /** A fresh temp file path on the same filesystem as the buckets (so rename is atomic). */
  tempPath(): string {
    return join(this.tempRoot, crypto.randomUUID());
  }

  // ---- buckets ----------------------------------------------------------------------------

  async createBucket(name: string, options: { existingIsError: boolean }): Promise<void> {
    validateBucketName(name);
    await this.locks.run(name, async () => {
      if (await this.bucketExists(name)) {
        if (!options.existingIsError) return;
        throw new ServiceError(
          "BucketAlreadyOwnedByYou",
          "Your previous request to create the named bucket succeeded and you already own it.",
          409,
          { BucketName: name },
        );
      }
      await mkdir(join(this.metaRoot, name), { recursive: true });
      await writeJsonAtomic(join(this.metaRoot, name, BUCKET_META), {
        creationDate: new Date().toISOString(),
      } satisfies BucketMeta);
      await mkdir(join(this.objectsRoot, name), { recursive: true });
    });
  }

  async bucketExists(name: string): Promise<boolean> {
    if (!/^[a-z0-9][a-z0-9.-]*$/.test(name)) return false;
    // A read, so synchronous, for the reason the objects section gives; most requests ask this.
    return statSync(join(this.objectsRoot, name), { throwIfNoEntry: false })?.isDirectory() ?? false;
  }

  async requireBucket(name: string): Promise<void> {
    if (!(await this.bucketExists(name))) throw noSuchBucket(name);
  }

  async bucketMeta(name: string): Promise<BucketMeta> {
    await this.requireBucket(name);
    try {
      return JSON.parse(await readFile(join(this.metaRoot, name, BUCKET_META), "utf8")) as BucketMeta;
    } catch (error) {
      // A bucket folder made by hand (or an old data dir) has no sidecar yet.
      if (isMissing(error))
        return { creationDate: (await stat(join(this.objectsRoot, name))).birthtime.toISOString() };
      throw error;
    }
  }

  async updateBucketMeta(name: string, change: (meta: BucketMeta) => BucketMeta): Promise<void> {
    await this.locks.run(name, async () => {
      const next = change(await this.bucketMeta(name));
      await mkdir(join(this.metaRoot, name), { recursive: true });
      await writeJsonAtomic(join(this.metaRoot, name, BUCKET_META), next);
    });
  }

  async listBuckets(): Promise<{ name: string; creationDate: string }[]> {
    const entries = await readdir(this.objectsRoot, { withFileTypes: true });
    const names = entries
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort(compareKeys);
    return Promise.all(
      names.map(async (name) => ({ name, creationDate: (await this.bucketMeta(name)).creationDate })),
    );
  }

  async deleteBucket(name: string): Promise<void> {
    await this.locks.run(name, async () => {
      await this.requireBucket(name);
      if ((await readdir(join(this.objectsRoot, name))).length > 0) throw bucketNotEmpty(name);
      // Objects are written under their keys' locks, not this one: one may land after the check.
      await rmdir(join(this.objectsRoot, name)).catch((error: unknown) => {
        if (errorCode(error) === "ENOTEMPTY" || errorCode(error) === "EEXIST") throw bucketNotEmpty(name);
        throw error;
      });
      await rm(join(this.metaRoot, name), { recursive: true, force: true });
    });
  }

  // ---- objects ----------------------------------------------------------------------------
  //
  // Reads (stat, open, fstat, a sidecar of a few hundred bytes, a small object) are synchronous
  // calls: each takes microseconds from the page cache, while handing it to the libuv pool costs the
  // event loop a thread wake-up and a context switch, which a batch's profile showed as the store's
  // largest cost. Writes (create, rename, unlink, mkdir) stay asynchronous: on ext4 they can wait
  // for a journal commit that any fdatasync (the engine's histories) starts, and that wait must not
  // stop the event loop. A read is therefore one uninterrupted step; a write is not, so every write
  // step that a concurrent delete or shadowing can undo is retried.

  private metaPath(bucket: string, key: string): string {
    const { folders, name } = keyToSegments(key);
    return join(this.metaRoot, bucket, ...folders, name + META_SUFFIX);
  }

  /** Where the object's bytes are and what the filesystem says about them, if it exists. */
  private dataFile(bucket: string, key: string): { path: string; info: Stats } | undefined {
    const { folders, name } = keyToSegments(key);
    const plain = join(this.objectsRoot, bucket, ...folders, name);
    for (const path of [plain, plain + SHADOWED_SUFFIX]) {
      const info = statSync(path, { throwIfNoEntry: false });
      if (info?.isFile()) return { path, info };
    }
    return undefined;
  }

  /** The sidecar if it was written for exactly the bytes `info` describes (same inode and size). */
  private sidecarFor(bucket: string, key: string, info: Stats): ObjectMeta | undefined {
    try {
      const meta = JSON.parse(readFileSync(this.metaPath(bucket, key), "utf8")) as ObjectMeta;
      if (meta.size === info.size && (meta.fileId === undefined || meta.fileId === info.ino)) return meta;
    } catch (error) {
      if (!isMissing(error) && !(error instanceof SyntaxError)) throw error;
    }
    return undefined;
  }

  /**
   * The metadata of the bytes `info` describes. Without a matching sidecar (a crash between the two
   * renames of a commit, or a file dropped into the bucket folder by hand) the bytes describe
   * themselves.
   */
  private async describe(
    bucket: string,
    key: string,
    info: Stats,
    read: () => Readable,
  ): Promise<ObjectMeta> {
    return this.sidecarFor(bucket, key, info) ?? describeBytes(read(), info.mtime);
  }

  /** The object's metadata, or undefined when there is no such object. */
  async head(bucket: string, key: string): Promise<(ObjectMeta & { path: string }) | undefined> {
    const found = this.dataFile(bucket, key);
    if (found === undefined) return undefined;
    const meta = await this.describe(bucket, key, found.info, () => createReadStream(found.path));
    return { ...meta, path: found.path };
  }

  async requireObject(bucket: string, key: string): Promise<ObjectMeta & { path: string }> {
    const meta = await this.head(bucket, key);
    if (!meta) throw await this.missing(bucket, key);
    return meta;
  }

  /** NoSuchBucket when the bucket is gone, else NoSuchKey: checked only once a key was not found. */
  private async missing(bucket: string, key: string): Promise<ServiceError> {
    await this.requireBucket(bucket);
    return new ServiceError("NoSuchKey", "The specified key does not exist.", 404, { Key: key });
  }

  /**
   * Puts `body` (a fully written temp file, or bytes) in place as `key`, checking `condition`
   * against the current object first. Both happen under the key's lock, so of N racing conditional
   * writes on one version exactly one wins, while writes of different keys never wait for each other.
   */
  async commit(
    bucket: string,
    key: string,
    body: string | Buffer,
    meta: ObjectMeta,
    condition: WriteCondition = {},
  ): Promise<void> {
    await this.locks.run(keyLock(bucket, key), async () => {
      if (condition.ifNoneMatch !== undefined || condition.ifMatch !== undefined) {
        await this.requireBucket(bucket);
        checkCondition(await this.head(bucket, key), condition, key);
      }
      const temp = typeof body === "string" ? body : this.tempPath();
      try {
        if (typeof body !== "string") await writeSmall(temp, body, "wx");
        const { ino } = statSync(temp);
        const { folders, name } = keyToSegments(key);
        await this.place(bucket, key, folders, name, temp);
        await this.writeSidecar(bucket, folders, name, { ...meta, fileId: ino });
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
    });
  }

  /** Renames `temp` to the key's path, creating the folders on the way. */
  private async place(
    bucket: string,
    key: string,
    folders: string[],
    name: string,
    temp: string,
  ): Promise<void> {
    const root = join(this.objectsRoot, bucket);
    const plain = join(root, ...folders, name);
    for (let attempt = 1; ; attempt++) {
      try {
        try {
          await rename(temp, plain);
        } catch (error) {
          // A folder has the object's name (keys `a` and `a/b`): the bytes go beside it.
          if (errorCode(error) !== "EISDIR") throw error;
          await rename(temp, plain + SHADOWED_SUFFIX);
          return;
        }
        // A version kept beside a folder that is gone now must not outlive the new one.
        if (statSync(plain + SHADOWED_SUFFIX, { throwIfNoEntry: false })) {
          await rm(plain + SHADOWED_SUFFIX, { force: true });
        }
        return;
      } catch (error) {
        const code = errorCode(error);
        if (code !== "ENOENT" && code !== "ENOTDIR") throw error;
        if (!(await this.bucketExists(bucket))) throw noSuchBucket(bucket);
        if (attempt >= MAX_WRITE_ATTEMPTS) throw error;
        await this.ensureFolders(bucket, key, root, folders).catch((failure: unknown) => {
          // A concurrent delete pruned a parent folder mid-way: the next attempt starts over.
          if (errorCode(failure) !== "ENOENT") throw failure;
        });
      }
    }
  }

  /** Creates the folders of a key, moving an object aside when a folder needs its name. */
  private async ensureFolders(bucket: string, key: string, root: string, folders: string[]): Promise<void> {
    let current = root;
    for (const [depth, folder] of folders.entries()) {
      current = join(current, folder);
      const info = statSync(current, { throwIfNoEntry: false });
      if (info?.isDirectory()) continue;
      if (info) await this.shadow(bucket, ancestorKey(key, depth), current);
      else
        await mkdir(current).catch((error: unknown) => {
          if (errorCode(error) !== "EEXIST") throw error;
        });
    }
  }

  /**
   * Moves the object `owner` aside (`<name>%!`) so a folder can take its name. It takes the owner's
   * lock, so a write or delete of that key never sees its file move under it. Locks are only ever
   * taken from a longer key to a shorter one, so they cannot deadlock.
   */
  private async shadow(bucket: string, owner: string, path: string): Promise<void> {
    await this.locks.run(keyLock(bucket, owner), async () => {
      if (statSync(path, { throwIfNoEntry: false })?.isFile()) await rename(path, path + SHADOWED_SUFFIX);
      await mkdir(path).catch((error: unknown) => {
        if (errorCode(error) !== "EEXIST") throw error;
      });
    });
  }

  /**
   * Writes the sidecar in place. A reader that finds it half-written (or a crash that leaves it so)
   * gets a SyntaxError and describes the bytes themselves, as it does in the moment between the
   * bytes' rename and this write; the object is never misdescribed.
   */
  private async writeSidecar(bucket: string, folders: string[], name: string, meta: ObjectMeta) {
    const folder = join(this.metaRoot, bucket, ...folders);
    const path = join(folder, name + META_SUFFIX);
    const text = JSON.stringify(meta);
    for (let attempt = 1; ; attempt++) {
      try {
        await writeSmall(path, text, "w");
        return;
      } catch (error) {
        // A first object in this folder, or a concurrent delete pruned it: (re)create and retry.
        if (!isMissing(error) || attempt >= MAX_WRITE_ATTEMPTS) throw error;
        await mkdir(folder, { recursive: true });
      }
    }
  }

  /** Deletes an object (a no-op when absent, like S3) and prunes folders left empty. */
  async delete(bucket: string, key: string): Promise<void> {
    await this.locks.run(keyLock(bucket, key), async () => {
      await this.requireBucket(bucket);
      const { folders, name } = keyToSegments(key);
      const plain = join(this.objectsRoot, bucket, ...folders, name);
      // Both names go: a version kept beside a folder of its name must not outlive a delete.
      for (const path of [plain, plain + SHADOWED_SUFFIX]) {
        if (statSync(path, { throwIfNoEntry: false })?.isFile()) await rm(path, { force: true });
      }
      await rm(this.metaPath(bucket, key), { force: true });
      await pruneEmpty(join(this.objectsRoot, bucket), folders);
      await pruneEmpty(join(this.metaRoot, bucket), folders);
    });
  }

  /**
   * Opens an object for reading together with metadata that describes exactly the opened bytes:
   * the sidecar is taken only when it names the opened file's inode (a concurrent overwrite renames
   * a new file in; the descriptor keeps the old one). The caller closes `fd`.
   */
  async openObject(bucket: string, key: string): Promise<{ meta: ObjectMeta; fd: number }> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const found = this.dataFile(bucket, key);
      if (!found) throw await this.missing(bucket, key);
      let fd: number;
      try {
        fd = openSync(found.path, "r");
      } catch (error) {
        if (isMissing(error)) continue; // replaced or moved aside between the stat and the open
        throw error;
      }
      try {
        const info = fstatSync(fd);
        if (info.isFile()) {
          const read = () => createReadStream("", { fd, start: 0, autoClose: false });
          return { meta: await this.describe(bucket, key, info, read), fd };
        }
      } catch (error) {
        closeSync(fd);
        throw error;
      }
      closeSync(fd);
    }
    throw new ServiceError("SlowDown", "The object is being overwritten too quickly to read; retry.", 503);
  }

  /** An object's bytes and metadata in one read (the in-process API's GetObject). */
  async read(bucket: string, key: string): Promise<{ meta: ObjectMeta; body: Buffer }> {
    const { meta, fd } = await this.openObject(bucket, key);
    try {
      // Small objects (images, JSON) are read at once; a large one must not block the event loop.
      const body = meta.size <= SYNC_READ_BYTES ? readFileSync(fd) : await readFd(fd, meta.size);
      return { meta, body };
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Streams the bucket's objects in S3 order (UTF-8 byte order of keys), from after `startAfter`,
   * restricted to `prefix`. Each folder is read and sorted on its own, so memory stays bounded by
   * the widest folder, never the whole bucket.
   */
  async *list(bucket: string, prefix = "", startAfter = ""): AsyncGenerator<ListedObject> {
    await this.requireBucket(bucket);
    yield* this.walk(bucket, join(this.objectsRoot, bucket), "", prefix, startAfter);
  }

  private async *walk(
    bucket: string,
    folder: string,
    keyPrefix: string,
    prefix: string,
    startAfter: string,
  ): AsyncGenerator<ListedObject> {
    let entries: Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return; // pruned by a concurrent delete
      throw error;
    }
    // A folder `a` holds keys `a/…`, so it sorts as "a/"; this puts `a-c` before `a/b` as S3 does.
    const sorted = entries
      .flatMap((entry) => {
        const isFolder = entry.isDirectory();
        const raw = !isFolder && entry.name.endsWith(SHADOWED_SUFFIX) ? entry.name.slice(0, -2) : entry.name;
        let segment: string;
        try {
          segment = decodeSegment(raw);
        } catch {
          // A name this store never writes (e.g. "50%" dropped in by hand) has no key; skip it.
          return [];
        }
        return [{ entry, isFolder, key: keyPrefix + segment + (isFolder ? "/" : "") }];
      })
      .sort((a, b) => compareKeys(a.key, b.key));
    for (const { entry, isFolder, key } of sorted) {
      if (isFolder) {
        const overlapsPrefix = key.startsWith(prefix) || prefix.startsWith(key);
        // Every key below starts with `key`; if that already sorts before startAfter (and is not
        // a prefix of it), the whole folder does.
        const allBefore = compareKeys(key, startAfter) < 0 && !startAfter.startsWith(key);
        if (overlapsPrefix && !allBefore)
          yield* this.walk(bucket, join(folder, entry.name), key, prefix, startAfter);
      } else if (key.startsWith(prefix) && compareKeys(key, startAfter) > 0) {
        const meta = await this.head(bucket, key);
        if (meta) yield { key, ...meta };
      }
    }
  }
}

function bucketNotEmpty(bucket: string): ServiceError {
  return new ServiceError("BucketNotEmpty", "The bucket you tried to delete is not empty", 409, {
    BucketName: bucket,
  });
}

function noSuchBucket(bucket: string): ServiceError {
  return new ServiceError("NoSuchBucket", "The specified bucket does not exist", 404, { BucketName: bucket });
}

/** Checks a write's precondition against the object it would replace. */
function checkCondition(current: ObjectMeta | undefined, condition: WriteCondition, key: string): void {
  if (condition.ifNoneMatch !== undefined) {
    if (condition.ifNoneMatch.trim() !== "*") {
      throw new ServiceError("NotImplemented", "PutObject accepts only If-None-Match: *", 501);
    }
    if (current) throw preconditionFailed("If-None-Match");
  }
  if (condition.ifMatch !== undefined) {
    if (!current) throw new ServiceError("NoSuchKey", "The specified key does not exist.", 404, { Key: key });
    if (bareEtag(condition.ifMatch) !== current.etag && condition.ifMatch.trim() !== "*") {
      throw preconditionFailed("If-Match");
    }
  }
}

function preconditionFailed(condition: string): ServiceError {
  return new ServiceError(
    "PreconditionFailed",
    "At least one of the pre-conditions you specified did not hold",
    412,
    {
      Condition: condition,
    },
  );
}

async function pruneEmpty(root: string, folders: string[]): Promise<void> {
  for (let depth = folders.length; depth > 0; depth--) {
    try {
      await rmdir(join(root, ...folders.slice(0, depth)));
    } catch (error) {
      const code = errorCode(error);
      if (code === "ENOTEMPTY" || code === "EEXIST") return;
      if (!isMissing(error)) throw error;
    }
  }
}

/** Reads `size` bytes of a large object without blocking the event loop. */
async function readFd(fd: number, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of createReadStream("", { fd, start: 0, autoClose: false }))
    chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  if (body.length !== size)
    throw new ServiceError("SlowDown", "The object changed while it was read; retry.", 503);
  return body;
}

async function describeBytes(source: Readable, mtime: Date): Promise<ObjectMeta> {
  const hash = createHash("md5");
  let size = 0;
  await pipeline(source, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      hash.update(chunk);
      size += chunk.length;
    }
  });
  return {
    etag: hash.digest("hex"),
    size,
    lastModified: mtime.toISOString(),
    contentType: "application/octet-stream",
    userMetadata: {},
  };
}

/**
 * Streams `source` (through `decoder`, if the body is framed) into a new temp file, passing each
 * decoded chunk to `onChunk` (hashing, size limits); removes the file if anything fails.
 */
export async function streamToFile(
  source: Readable,
  decoder: Transform | undefined,
  path: string,
  onChunk: (chunk: Buffer) => void,
): Promise<void> {
  const handle = await open(path, "wx");
  const sink = handle.createWriteStream();
  const observe = async function* (chunks: AsyncIterable<Buffer>) {
    for await (const chunk of chunks) {
      onChunk(chunk);
      yield chunk;
    }
  };
  try {
    if (decoder) await pipeline(source, decoder, observe, sink);
    else await pipeline(source, observe, sink);
  } catch (error) {
    await unlink(path).catch(() => {});
    throw error;
  }
}
