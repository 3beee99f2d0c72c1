/**
 * The local S3's disk layout. Object bytes live at `<dataDir>/s3/<bucket>/<escaped key path>` so
 * a file manager shows the buckets as folders; metadata lives in a sidecar tree
 * `<dataDir>/s3-meta/<bucket>/…` so it never clutters them. Every write lands in a temp file first
 * and is renamed into place under the bucket's lock, so readers never see half an object and
 * conditional writes are atomic within the process.
 */
import { createHash } from "node:crypto";
import { createReadStream, type Dirent } from "node:fs";
import {
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import type { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
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

/** A write's precondition, checked under the bucket lock against the current object. */
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
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
}

/** Runs async sections one at a time per key (a promise-chain mutex). */
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
    try {
      return (await stat(join(this.objectsRoot, name))).isDirectory();
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  async requireBucket(name: string): Promise<void> {
    if (!(await this.bucketExists(name))) {
      throw new ServiceError("NoSuchBucket", "The specified bucket does not exist", 404, {
        BucketName: name,
      });
    }
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
      if ((await readdir(join(this.objectsRoot, name))).length > 0) {
        throw new ServiceError("BucketNotEmpty", "The bucket you tried to delete is not empty", 409, {
          BucketName: name,
        });
      }
      await rmdir(join(this.objectsRoot, name));
      await rm(join(this.metaRoot, name), { recursive: true, force: true });
    });
  }

  // ---- objects ----------------------------------------------------------------------------

  private metaPath(bucket: string, key: string): string {
    const { folders, name } = keyToSegments(key);
    return join(this.metaRoot, bucket, ...folders, name + META_SUFFIX);
  }

  /** Where the object's bytes are, if it exists. */
  private async dataPath(bucket: string, key: string): Promise<string | undefined> {
    const { folders, name } = keyToSegments(key);
    const plain = join(this.objectsRoot, bucket, ...folders, name);
    try {
      if ((await stat(plain)).isFile()) return plain;
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
    try {
      const shadowed = plain + SHADOWED_SUFFIX;
      if ((await stat(shadowed)).isFile()) return shadowed;
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
    return undefined;
  }

  /** The object's metadata, or undefined when there is no such object. */
  async head(bucket: string, key: string): Promise<(ObjectMeta & { path: string }) | undefined> {
    const path = await this.dataPath(bucket, key);
    if (path === undefined) return undefined;
    const info = await stat(path);
    try {
      const meta = JSON.parse(await readFile(this.metaPath(bucket, key), "utf8")) as ObjectMeta;
      if (meta.size === info.size && (meta.fileId === undefined || meta.fileId === info.ino)) {
        return { ...meta, path };
      }
    } catch (error) {
      if (!isMissing(error) && !(error instanceof SyntaxError)) throw error;
    }
    // The bytes were committed but the sidecar was not (a crash between the two renames), or
    // someone dropped a file into the bucket folder: describe the bytes as they are.
    return { ...(await describeFile(path, info.mtime)), path };
  }

  async requireObject(bucket: string, key: string): Promise<ObjectMeta & { path: string }> {
    await this.requireBucket(bucket);
    const meta = await this.head(bucket, key);
    if (!meta) throw new ServiceError("NoSuchKey", "The specified key does not exist.", 404, { Key: key });
    return meta;
  }

  /**
   * Moves a fully written temp file into place as `key`, checking `condition` against the current
   * object first; both happen under the bucket lock, so of N racing conditional writes on one
   * version exactly one wins.
   */
  async commit(
    bucket: string,
    key: string,
    tempFile: string,
    meta: ObjectMeta,
    condition: WriteCondition = {},
  ): Promise<void> {
    await this.locks.run(bucket, async () => {
      await this.requireBucket(bucket);
      const current = await this.head(bucket, key);
      if (condition.ifNoneMatch !== undefined) {
        if (condition.ifNoneMatch.trim() !== "*") {
          throw new ServiceError("NotImplemented", "PutObject accepts only If-None-Match: *", 501);
        }
        if (current) throw preconditionFailed("If-None-Match");
      }
      if (condition.ifMatch !== undefined) {
        if (!current)
          throw new ServiceError("NoSuchKey", "The specified key does not exist.", 404, { Key: key });
        if (bareEtag(condition.ifMatch) !== current.etag && condition.ifMatch.trim() !== "*") {
          throw preconditionFailed("If-Match");
        }
      }
      const { folders, name } = keyToSegments(key);
      const folder = await this.ensureFolders(join(this.objectsRoot, bucket), folders);
      await mkdir(join(this.metaRoot, bucket, ...folders), { recursive: true });
      const plain = join(folder, name);
      const target = (await isDirectory(plain)) ? plain + SHADOWED_SUFFIX : plain;
      if (target === plain) await unlink(plain + SHADOWED_SUFFIX).catch(ignoreMissing);
      const { ino } = await stat(tempFile);
      await rename(tempFile, target);
      await writeJsonAtomic(this.metaPath(bucket, key), { ...meta, fileId: ino });
    });
  }

  /** Creates the folders of a key, moving an object aside when a folder needs its name. */
  private async ensureFolders(root: string, folders: string[]): Promise<string> {
    let current = root;
    for (const folder of folders) {
      const next = join(current, folder);
      try {
        const info = await stat(next);
        if (info.isFile()) {
          await rename(next, next + SHADOWED_SUFFIX);
          await mkdir(next);
        }
      } catch (error) {
        if (!isMissing(error)) throw error;
        await mkdir(next);
      }
      current = next;
    }
    return current;
  }

  /** Deletes an object (a no-op when absent, like S3) and prunes folders left empty. */
  async delete(bucket: string, key: string): Promise<void> {
    await this.locks.run(bucket, async () => {
      await this.requireBucket(bucket);
      const path = await this.dataPath(bucket, key);
      if (path) await unlink(path);
      await unlink(this.metaPath(bucket, key)).catch(ignoreMissing);
      const { folders } = keyToSegments(key);
      await pruneEmpty(join(this.objectsRoot, bucket), folders);
      await pruneEmpty(join(this.metaRoot, bucket), folders);
    });
  }

  /**
   * Opens an object for reading together with metadata that describes exactly the opened bytes
   * (a concurrent overwrite renames a new file in; the open handle keeps the old one).
   */
  async openObject(bucket: string, key: string): Promise<{ meta: ObjectMeta; handle: FileHandle }> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const meta = await this.requireObject(bucket, key);
      let handle: FileHandle;
      try {
        handle = await open(meta.path, "r");
      } catch (error) {
        if (isMissing(error)) continue;
        throw error;
      }
      const info = await handle.stat();
      const again = await this.head(bucket, key);
      if (again && again.etag === meta.etag && info.size === meta.size && again.path === meta.path) {
        return { meta, handle };
      }
      await handle.close();
    }
    throw new ServiceError("SlowDown", "The object is being overwritten too quickly to read; retry.", 503);
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

function ignoreMissing(error: unknown): void {
  if (!isMissing(error)) throw error;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

async function pruneEmpty(root: string, folders: string[]): Promise<void> {
  for (let depth = folders.length; depth > 0; depth--) {
    try {
      await rmdir(join(root, ...folders.slice(0, depth)));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOTEMPTY" || code === "EEXIST") return;
      if (!isMissing(error)) throw error;
    }
  }
}

async function describeFile(path: string, mtime: Date): Promise<ObjectMeta> {
  const hash = createHash("md5");
  let size = 0;
  await pipeline(createReadStream(path), async (source: AsyncIterable<Buffer>) => {
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
