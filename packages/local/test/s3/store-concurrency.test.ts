import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DiskStore, type ObjectMeta } from "../../src/s3/store";

const roots: string[] = [];

afterEach(async () => {
  await Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true })));
});

async function freshStore(): Promise<DiskStore> {
  const root = await mkdtemp(join(tmpdir(), "secondlook-store-"));
  roots.push(root);
  const store = new DiskStore(root);
  await store.init();
  await store.createBucket("bucket", { existingIsError: true });
  return store;
}

/** Writes `body` to a temp file and commits it as `key`. */
async function put(store: DiskStore, key: string, body: string): Promise<void> {
  const temp = store.tempPath();
  await writeFile(temp, body);
  const meta: ObjectMeta = {
    etag: createHash("md5").update(body).digest("hex"),
    size: Buffer.byteLength(body),
    lastModified: new Date(0).toISOString(),
    contentType: "text/plain",
    userMetadata: {},
  };
  await store.commit("bucket", key, temp, meta);
}

async function bodyOf(store: DiskStore, key: string): Promise<string> {
  const meta = await store.requireObject("bucket", key);
  return readFile(meta.path, "utf8");
}

describe("local S3 store under concurrent writes", () => {
  it("keeps every object of 200 writes racing into one existing folder", async () => {
    // Arrange
    const store = await freshStore();
    await put(store, "batch/seed", "seed");
    const keys = Array.from({ length: 200 }, (_, i) => `batch/image-${i}.png`);

    // Act
    await Promise.all(keys.map((key) => put(store, key, `body of ${key}`)));

    // Assert
    const listed: string[] = [];
    for await (const object of store.list("bucket", "batch/image-")) listed.push(object.key);
    expect(listed.sort()).toEqual([...keys].sort());
    for (const key of keys) expect(await bodyOf(store, key)).toBe(`body of ${key}`);
  });

  it("keeps an object and the folder of the same name apart when both are written at once", async () => {
    // Arrange
    const store = await freshStore();
    await put(store, "other/x", "x");
    const writes = [
      ["a", "object a"],
      ["a/b", "object a/b"],
      ["a/c/d", "object a/c/d"],
      ["a/c", "object a/c"],
    ] as const;

    // Act
    await Promise.all(writes.map(([key, body]) => put(store, key, body)));

    // Assert
    for (const [key, body] of writes) expect(await bodyOf(store, key)).toBe(body);
    const listed: string[] = [];
    for await (const object of store.list("bucket", "a")) listed.push(object.key);
    expect(listed).toEqual(["a", "a/b", "a/c", "a/c/d"]);
  });

  it("loses no write racing with deletes that prune the folder it lands in", async () => {
    // Arrange
    const store = await freshStore();
    const doomed = Array.from({ length: 20 }, (_, i) => `shared/old-${i}`);
    await Promise.all(doomed.map((key) => put(store, key, "old")));
    const fresh = Array.from({ length: 20 }, (_, i) => `shared/new-${i}`);

    // Act
    await Promise.all([
      ...doomed.map((key) => store.delete("bucket", key)),
      ...fresh.map((key) => put(store, key, `new ${key}`)),
    ]);

    // Assert
    const listed: string[] = [];
    for await (const object of store.list("bucket", "shared/")) listed.push(object.key);
    expect(listed.sort()).toEqual([...fresh].sort());
    for (const key of fresh) expect(await bodyOf(store, key)).toBe(`new ${key}`);
  });
});
