/**
 * An in-memory LocalObjects for the Rekognition tests: the same contract as the local S3's
 * in-process access, without a disk.
 */
import { createHash } from "node:crypto";
import type { LocalObjects } from "../../src/contracts";

export class NoSuchKeyError extends Error {
  constructor(bucket: string, key: string) {
    super(`s3://${bucket}/${key} does not exist`);
    this.name = "NoSuchKey";
  }
}

export function createMemoryObjects(): LocalObjects & { keys(bucket: string): string[] } {
  const buckets = new Map<string, Map<string, { body: Buffer; etag: string; lastModified: Date }>>();
  const bucket = (name: string) => {
    let found = buckets.get(name);
    if (!found) {
      found = new Map();
      buckets.set(name, found);
    }
    return found;
  };
  return {
    async get(b, key) {
      const object = buckets.get(b)?.get(key);
      if (!object) throw new NoSuchKeyError(b, key);
      return Buffer.from(object.body);
    },
    async put(b, key, body) {
      const etag = `"${createHash("md5").update(body).digest("hex")}"`;
      bucket(b).set(key, { body: Buffer.from(body), etag, lastModified: new Date() });
      return { etag };
    },
    async head(b, key) {
      const object = buckets.get(b)?.get(key);
      return object
        ? { size: object.body.length, etag: object.etag, lastModified: object.lastModified }
        : undefined;
    },
    async *list(b, prefix) {
      const keys = [...(buckets.get(b)?.keys() ?? [])].filter((k) => k.startsWith(prefix)).sort();
      for (const key of keys) {
        const object = buckets.get(b)?.get(key);
        if (object)
          yield { key, size: object.body.length, etag: object.etag, lastModified: object.lastModified };
      }
    },
    keys(b) {
      return [...(buckets.get(b)?.keys() ?? [])].sort();
    },
  };
}
