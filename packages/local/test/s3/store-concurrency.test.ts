import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ServiceError } from "../../src/edge/protocol";
import { DiskStore, type ObjectMeta, type WriteCondition } from "../../src/s3/store";

const roots: string[] = [];

afterEach(async () => {
  await Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true })));
});

async function freshStore(store?: DiskStore): Promise<DiskStore> {
  if (!store) {
    const root = await mkdtemp(join(tmpdir(), "secondlook-store-"));
    roots.push(root);
    store = new DiskStore(root);
  }
  await store.init();
  await store.createBucket("bucket", { existingIsError: true });
  return store;
}

/** Writes `body` to a temp file and commits it as `key`. */
async function put(store: DiskStore, key: string, body: string, condition?: WriteCondition): Promise<void> {
  const temp = store.tempPath();
  await writeFile(temp, body);
  const meta: ObjectMeta = {
    etag: createHash("md5").update(body).digest("hex"),
    size: Buffer.byteLength(body),
    lastModified: new Date(0).toISOString(),
    contentType: "text/plain",
    userMetadata: {},
  };
  await store.commit("bucket", key, temp, meta, condition);
}

const etagOf = (body: string) => createHash("md5").update(body).digest("hex");

/** A store whose conditional checks on one key wait for a gate: that key's lock stays held. */
class GatedStore extends DiskStore {
  private open = () => {};
  private readonly gate = new Promise<void>((resolve) => {
    this.open = resolve;
  });
  private arrived = () => {};
  /** Resolves once a conditional write on the gated key holds its lock and waits at the gate. */
  readonly waiting = new Promise<void>((resolve) => {
    this.arrived = resolve;
  });
  constructor(
    root: string,
    private readonly gatedKey: string,
  ) {
    super(root);
  }
  override async head(bucket: string, key: string) {
    if (key === this.gatedKey) {
      this.arrived();
      await this.gate;
    }
    return super.head(bucket, key);
  }
  release() {
    this.open();
  }
}

async function gatedStore(key: string): Promise<GatedStore> {
  const root = await mkdtemp(join(tmpdir(), "secondlook-store-"));
  roots.push(root);
  return (await freshStore(new GatedStore(root, key))) as GatedStore;
}

async function listed(store: DiskStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of store.list("bucket", prefix)) keys.push(object.key);
  return keys;
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

  it("lets a write to one key finish while another key's conditional write holds its lock", async () => {
    // Arrange
    const store = await gatedStore("slow");
    const slow = put(store, "slow", "first", { ifNoneMatch: "*" });
    await store.waiting;
    const slowAgain = put(store, "slow", "second");
    let slowAgainDone = false;
    void slowAgain.then(() => {
      slowAgainDone = true;
    });

    // Act
    await put(store, "fast", "not waiting");

    // Assert
    expect(await bodyOf(store, "fast")).toBe("not waiting");
    expect(slowAgainDone).toBe(false);
    await expect(readFile(join(store.objectsRoot, "bucket", "slow"))).rejects.toThrow(/ENOENT/);
    store.release();
    await Promise.all([slow, slowAgain]);
    expect(await bodyOf(store, "slow")).toBe("second");
  });

  it("lets exactly one of 20 If-Match writes on the same version win while other keys are written", async () => {
    // Arrange
    const store = await freshStore();
    await put(store, "state/counter", "0");
    const version = etagOf("0");

    // Act
    const outcomes = await Promise.allSettled([
      ...Array.from({ length: 20 }, (_, i) => put(store, "state/counter", `${i + 1}`, { ifMatch: version })),
      ...Array.from({ length: 20 }, (_, i) => put(store, `state/other-${i}`, "other")),
    ]);

    // Assert
    const conditional = outcomes.slice(0, 20);
    const winners = conditional.flatMap((outcome, i) => (outcome.status === "fulfilled" ? [i] : []));
    expect(winners).toHaveLength(1);
    for (const outcome of conditional) {
      if (outcome.status === "rejected") {
        expect(outcome.reason).toBeInstanceOf(ServiceError);
        expect((outcome.reason as ServiceError).code).toBe("PreconditionFailed");
      }
    }
    expect(await bodyOf(store, "state/counter")).toBe(`${(winners[0] ?? 0) + 1}`);
    expect((await store.requireObject("bucket", "state/counter")).etag).toBe(
      etagOf(`${(winners[0] ?? 0) + 1}`),
    );
    expect(outcomes.slice(20).every((outcome) => outcome.status === "fulfilled")).toBe(true);
  });

  it("keeps an object readable with its own metadata while keys below its name come and go", async () => {
    // Arrange
    const store = await freshStore();
    await put(store, "a", "version 0");
    const below = Array.from({ length: 10 }, (_, i) => `a/b-${i}`);

    // Act
    await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => put(store, "a", `version ${i + 1}`)),
      ...below.map(async (key) => {
        await put(store, key, key);
        await store.delete("bucket", key);
      }),
    ]);

    // Assert
    const meta = await store.requireObject("bucket", "a");
    const body = await bodyOf(store, "a");
    expect(body).toMatch(/^version \d+$/);
    expect(meta.etag).toBe(etagOf(body));
    expect(meta.contentType).toBe("text/plain");
    expect(await listed(store, "a")).toEqual(["a"]);
  });

  it("answers a bucket deletion racing a write with BucketNotEmpty or NoSuchBucket, never half of each", async () => {
    // Arrange
    const store = await freshStore();

    // Act
    const [write, removal] = await Promise.allSettled([
      put(store, "late/object", "body"),
      store.deleteBucket("bucket"),
    ]);

    // Assert
    const codes = [write, removal].flatMap((outcome) =>
      outcome.status === "rejected" ? [(outcome.reason as ServiceError).code] : [],
    );
    expect(codes).toHaveLength(1);
    if (removal.status === "rejected") {
      expect(codes).toEqual(["BucketNotEmpty"]);
      expect(await bodyOf(store, "late/object")).toBe("body");
    } else {
      expect(codes).toEqual(["NoSuchBucket"]);
      expect(await store.bucketExists("bucket")).toBe(false);
    }
  });
});
