/**
 * The local `grant_read_access`: short-lived URLs to one object, signed with HMAC-SHA256 under a
 * key generated at first start and kept in the data folder — the local stand-in for S3 presigning.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Clock } from "../contracts";

/** How long a granted URL stays valid; longer than a task hold so an open task keeps its image. */
export const GRANT_TTL_SECONDS = 15 * 60;

export class InvalidS3UriError extends Error {
  constructor(uri: string) {
    super(`grant_read_access expects s3://<bucket>/<key>, got ${JSON.stringify(uri)}`);
    this.name = "InvalidS3UriError";
  }
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** True for keys that can name an object: no empty, "." or ".." segments and no control characters. */
export function isSafeKey(key: string): boolean {
  if (key.length === 0 || key.length > 1024) return false;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f\\]/.test(key)) return false;
  return key.split("/").every((segment) => segment !== "." && segment !== "..");
}

export function isSafeBucket(bucket: string): boolean {
  return BUCKET.test(bucket);
}

/** Reads the signing key from `<dataDir>/portal/url-signing.key`, creating it on first start. */
export async function loadSigningKey(dataDir: string): Promise<Buffer> {
  const dir = join(dataDir, "portal");
  const path = join(dir, "url-signing.key");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    await writeFile(path, randomBytes(32).toString("hex"), { flag: "wx", mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const key = Buffer.from((await readFile(path, "utf8")).trim(), "hex");
  if (key.length < 32) throw new Error(`The URL signing key ${path} is damaged; delete it to make a new one`);
  return key;
}

const encodeKey = (key: string) => key.split("/").map(encodeURIComponent).join("/");

/** Signs and verifies `/files/<bucket>/<key>?expires=…&sig=…` URLs. */
export function createUrlSigner(key: Buffer, clock: Clock) {
  const sign = (bucket: string, objectKey: string, expires: number) =>
    createHmac("sha256", key).update(`${bucket}\n${objectKey}\n${expires}`).digest("hex");

  return {
    /** Turns `s3://bucket/key` into a root-relative signed URL. */
    grant(s3Uri: string): string {
      const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(s3Uri);
      const bucket = match?.[1];
      const objectKey = match?.[2];
      if (!bucket || !objectKey || !isSafeBucket(bucket) || !isSafeKey(objectKey)) {
        throw new InvalidS3UriError(s3Uri);
      }
      const expires = Math.floor(clock.now().getTime() / 1000) + GRANT_TTL_SECONDS;
      return `/files/${bucket}/${encodeKey(objectKey)}?expires=${expires}&sig=${sign(bucket, objectKey, expires)}`;
    },
    /** True when the signature matches this exact object and has not expired. */
    verify(bucket: string, objectKey: string, expires: string | null, sig: string | null): boolean {
      if (!expires || !sig || !/^\d{1,12}$/.test(expires) || !/^[0-9a-f]{64}$/.test(sig)) return false;
      const expected = Buffer.from(sign(bucket, objectKey, Number(expires)), "hex");
      if (!timingSafeEqual(expected, Buffer.from(sig, "hex"))) return false;
      return Number(expires) * 1000 > clock.now().getTime();
    },
  };
}

export type UrlSigner = ReturnType<typeof createUrlSigner>;
