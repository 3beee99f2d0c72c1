/**
 * Multipart uploads (what the AWS CLI uses above 8 MB): parts stream to
 * `<dataDir>/s3-multipart/<uploadId>/`, and completion concatenates them into one temp file that
 * is committed like any other write. The ETag is S3's `md5(concat(part md5s))-<parts>`.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { ServiceError } from "../edge/protocol";
import { bareEtag, type ObjectMeta } from "./store";

/** S3's smallest non-final part. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
const MAX_PART_NUMBER = 10_000;

export interface UploadInfo {
  bucket: string;
  key: string;
  contentType: string;
  contentEncoding?: string;
  contentDisposition?: string;
  cacheControl?: string;
  userMetadata: Record<string, string>;
  initiated: string;
}

interface PartInfo {
  etag: string;
  size: number;
}

export class Multipart {
  constructor(private readonly root: string) {}

  private dir(uploadId: string): string {
    // Upload ids are ours (UUIDs); anything else cannot name a folder here.
    if (!/^[0-9a-f-]{36}$/.test(uploadId)) throw noSuchUpload();
    return join(this.root, uploadId);
  }

  async create(info: UploadInfo): Promise<string> {
    const uploadId = crypto.randomUUID();
    await mkdir(this.dir(uploadId), { recursive: true });
    const handle = await open(join(this.dir(uploadId), "upload.json"), "wx");
    await handle.writeFile(JSON.stringify(info));
    await handle.close();
    return uploadId;
  }

  async info(uploadId: string, bucket: string, key: string): Promise<UploadInfo> {
    let info: UploadInfo;
    try {
      info = JSON.parse(await readFile(join(this.dir(uploadId), "upload.json"), "utf8")) as UploadInfo;
    } catch (error) {
      // A missing or torn upload.json (a crash during CreateMultipartUpload) is no usable upload.
      if ((error as NodeJS.ErrnoException).code === "ENOENT" || error instanceof SyntaxError)
        throw noSuchUpload();
      throw error;
    }
    if (info.bucket !== bucket || info.key !== key) throw noSuchUpload();
    return info;
  }

  /** Validates the part number and returns where its bytes go. */
  partPath(uploadId: string, partNumber: string | null): { path: string; number: number } {
    const number = Number(partNumber);
    if (!Number.isInteger(number) || number < 1 || number > MAX_PART_NUMBER) {
      throw new ServiceError(
        "InvalidArgument",
        `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`,
      );
    }
    return { path: join(this.dir(uploadId), `part-${number}`), number };
  }

  async recordPart(uploadId: string, number: number, part: PartInfo): Promise<void> {
    const path = join(this.dir(uploadId), `part-${number}.json`);
    const temp = `${path}.${crypto.randomUUID()}.tmp`;
    await writeFile(temp, JSON.stringify(part));
    await rename(temp, path);
  }

  /**
   * Checks the client's part list against the stored parts and writes their concatenation to
   * `target`; returns the object's metadata.
   */
  async assemble(
    uploadId: string,
    requested: { partNumber: number; etag: string }[],
    target: string,
    info: UploadInfo,
    now: Date,
  ): Promise<ObjectMeta> {
    if (requested.length === 0) {
      throw new ServiceError("MalformedXML", "You must specify at least one part");
    }
    for (let i = 1; i < requested.length; i++) {
      if ((requested[i]?.partNumber ?? 0) <= (requested[i - 1]?.partNumber ?? 0)) {
        throw new ServiceError("InvalidPartOrder", "The list of parts was not in ascending order.");
      }
    }
    const md5s: Buffer[] = [];
    const parts: { path: string; size: number }[] = [];
    for (const [index, { partNumber, etag }] of requested.entries()) {
      const { path } = this.partPath(uploadId, String(partNumber));
      let stored: PartInfo;
      try {
        stored = JSON.parse(await readFile(`${path}.json`, "utf8")) as PartInfo;
      } catch {
        throw invalidPart(partNumber);
      }
      if (bareEtag(etag) !== stored.etag) throw invalidPart(partNumber);
      if (index < requested.length - 1 && stored.size < MIN_PART_BYTES) {
        throw new ServiceError(
          "EntityTooSmall",
          "Your proposed upload is smaller than the minimum allowed object size.",
        );
      }
      md5s.push(Buffer.from(stored.etag, "hex"));
      parts.push({ path, size: (await stat(path)).size });
    }
    const out = await open(target, "wx");
    try {
      const sink = out.createWriteStream();
      await pipeline(async function* () {
        for (const part of parts) yield* createReadStream(part.path);
      }, sink);
    } catch (error) {
      await rm(target, { force: true });
      throw error;
    }
    return {
      etag: `${createHash("md5").update(Buffer.concat(md5s)).digest("hex")}-${parts.length}`,
      size: parts.reduce((total, part) => total + part.size, 0),
      lastModified: now.toISOString(),
      contentType: info.contentType,
      contentEncoding: info.contentEncoding,
      contentDisposition: info.contentDisposition,
      cacheControl: info.cacheControl,
      userMetadata: info.userMetadata,
    };
  }

  async remove(uploadId: string): Promise<void> {
    await rm(this.dir(uploadId), { recursive: true, force: true });
  }
}

function noSuchUpload(): ServiceError {
  return new ServiceError(
    "NoSuchUpload",
    "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    404,
  );
}

function invalidPart(partNumber: number): ServiceError {
  return new ServiceError(
    "InvalidPart",
    `One or more of the specified parts could not be found or its ETag did not match (part ${partNumber}).`,
  );
}
