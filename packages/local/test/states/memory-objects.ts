/** An in-memory LocalObjects for engine tests: what the local S3 offers the engine in-process. */
import { createHash } from "node:crypto";
import type { LocalObjects } from "../../src/contracts";

export interface MemoryObjects extends LocalObjects {
  text(bucket: string, key: string): string;
  keys(bucket: string): string[];
}

/** Objects kept in a Map; `get` of a missing key fails like S3's NoSuchKey. */
export function memoryObjects(initial: Record<string, string | Buffer> = {}): MemoryObjects {
  const store = new Map<string, { body: Buffer; etag: string; lastModified: Date }>();
  const put = (bucket: string, key: string, body: Buffer) => {
    const etag = createHash("md5").update(body).digest("hex");
    store.set(`${bucket}/${key}`, { body, etag, lastModified: new Date("2026-01-02T03:04:05Z") });
    return { etag };
  };
  for (const [path, body] of Object.entries(initial)) {
    const slash = path.indexOf("/");
    put(path.slice(0, slash), path.slice(slash + 1), Buffer.from(body));
  }
  return {
    async get(bucket, key) {
      const object = store.get(`${bucket}/${key}`);
      if (!object) throw Object.assign(new Error("The specified key does not exist."), { name: "NoSuchKey" });
      return object.body;
    },
    async put(bucket, key, body) {
      return put(bucket, key, body);
    },
    async head(bucket, key) {
      const object = store.get(`${bucket}/${key}`);
      return object && { size: object.body.length, etag: object.etag, lastModified: object.lastModified };
    },
    async *list(bucket, prefix) {
      const keys = [...store.keys()].filter((k) => k.startsWith(`${bucket}/${prefix}`)).sort();
      for (const path of keys) {
        const object = store.get(path);
        if (!object) continue;
        yield {
          key: path.slice(bucket.length + 1),
          size: object.body.length,
          etag: object.etag,
          lastModified: object.lastModified,
        };
      }
    },
    text(bucket, key) {
      const object = store.get(`${bucket}/${key}`);
      if (!object) throw new Error(`No object ${bucket}/${key}`);
      return object.body.toString("utf8");
    },
    keys(bucket) {
      return [...store.keys()]
        .filter((k) => k.startsWith(`${bucket}/`))
        .map((k) => k.slice(bucket.length + 1))
        .sort();
    },
  };
}
