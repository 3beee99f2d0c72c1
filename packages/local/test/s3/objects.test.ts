import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ServiceError } from "../../src/edge/protocol";
import { createLocalS3 } from "../../src/s3/s3";
import { errorOf, filesUnder, type S3Harness, startS3 } from "./harness";

const BUCKET = "data-bucket";
let h: S3Harness;

beforeEach(async () => {
  h = await startS3();
  await h.client.send(new CreateBucketCommand({ Bucket: BUCKET }));
});
afterEach(async () => {
  await h.close();
});

const md5 = (body: string | Buffer) => createHash("md5").update(body).digest("hex");

describe("local S3 objects", () => {
  it("stores an object and returns it with its ETag, type and user metadata", async () => {
    // Arrange
    const body = "hello, labeled world";
    // Act
    const put = await h.client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: "images_for_detection/a.png",
        Body: body,
        ContentType: "image/png",
        Metadata: { source: "camera-1" },
      }),
    );
    const got = await h.client.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: "images_for_detection/a.png" }),
    );
    // Assert
    expect(put.ETag).toBe(`"${md5(body)}"`);
    expect(await got.Body?.transformToString()).toBe(body);
    expect(got.ETag).toBe(`"${md5(body)}"`);
    expect(got.ContentType).toBe("image/png");
    expect(got.ContentLength).toBe(body.length);
    expect(got.Metadata).toEqual({ source: "camera-1" });
    expect(await readFile(join(h.dataDir, "s3", BUCKET, "images_for_detection", "a.png"), "utf8")).toBe(body);
  });

  it("answers HeadObject with size and ETag and NotFound for a missing key", async () => {
    // Arrange
    await h.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "k", Body: "12345" }));
    // Act
    const head = await h.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "k" }));
    const missing = await errorOf(h.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "nope" })));
    // Assert
    expect(head.ContentLength).toBe(5);
    expect(head.ETag).toBe(`"${md5("12345")}"`);
    expect(missing.$metadata.httpStatusCode).toBe(404);
  });

  it("refuses GetObject on a missing key with NoSuchKey and on a missing bucket with NoSuchBucket", async () => {
    // Arrange
    const missingKey = new GetObjectCommand({ Bucket: BUCKET, Key: "absent.png" });
    const missingBucket = new GetObjectCommand({ Bucket: "no-such-bucket", Key: "a" });
    // Act
    const keyError = await errorOf(h.client.send(missingKey));
    const bucketError = await errorOf(h.client.send(missingBucket));
    // Assert
    expect(keyError.name).toBe("NoSuchKey");
    expect(keyError.$metadata.httpStatusCode).toBe(404);
    expect(bucketError.name).toBe("NoSuchBucket");
  });

  it("serves byte ranges with 206 and refuses unsatisfiable ones with InvalidRange", async () => {
    // Arrange
    await h.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "r", Body: "0123456789" }));
    // Act
    const middle = await h.client.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: "r", Range: "bytes=2-5" }),
    );
    const tail = await h.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: "r", Range: "bytes=-3" }));
    const open = await h.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: "r", Range: "bytes=7-" }));
    const bad = await errorOf(
      h.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: "r", Range: "bytes=20-30" })),
    );
    // Assert
    expect(await middle.Body?.transformToString()).toBe("2345");
    expect(middle.ContentRange).toBe("bytes 2-5/10");
    expect(middle.$metadata.httpStatusCode).toBe(206);
    expect(await tail.Body?.transformToString()).toBe("789");
    expect(await open.Body?.transformToString()).toBe("789");
    expect(bad.name).toBe("InvalidRange");
    expect(bad.$metadata.httpStatusCode).toBe(416);
  });

  it("honours If-Match, If-None-Match and If-Modified-Since on GetObject", async () => {
    // Arrange
    const { ETag } = await h.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "c", Body: "v1" }));
    // Act
    const matched = await h.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: "c", IfMatch: ETag }));
    const mismatch = await errorOf(
      h.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: "c", IfMatch: '"abc"' })),
    );
    const notModified = await errorOf(
      h.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: "c", IfNoneMatch: ETag })),
    );
    const notModifiedSince = await errorOf(
      h.client.send(
        new GetObjectCommand({ Bucket: BUCKET, Key: "c", IfModifiedSince: new Date(Date.now() + 60_000) }),
      ),
    );
    const modifiedSince = await h.client.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: "c", IfModifiedSince: new Date(Date.now() - 3_600_000) }),
    );
    // Assert
    expect(await matched.Body?.transformToString()).toBe("v1");
    expect(mismatch.$metadata.httpStatusCode).toBe(412);
    expect(mismatch.name).toBe("PreconditionFailed");
    expect(notModified.$metadata.httpStatusCode).toBe(304);
    expect(notModifiedSince.$metadata.httpStatusCode).toBe(304);
    expect(await modifiedSince.Body?.transformToString()).toBe("v1");
  });

  it("copies an object with a URL-encoded copy source and keeps its metadata", async () => {
    // Arrange
    await h.client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: "src dir/ä+b.png",
        Body: "pixels",
        ContentType: "image/png",
      }),
    );
    // Act
    const copy = await h.client.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: "images_labeled_by_folder/cat/x.png",
        CopySource: `${BUCKET}/${encodeURIComponent("src dir/ä+b.png")}`,
      }),
    );
    const got = await h.client.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: "images_labeled_by_folder/cat/x.png" }),
    );
    // Assert
    expect(copy.CopyObjectResult?.ETag).toBe(`"${md5("pixels")}"`);
    expect(await got.Body?.transformToString()).toBe("pixels");
    expect(got.ContentType).toBe("image/png");
  });

  it("refuses to copy a missing source with NoSuchKey and an object onto itself with InvalidRequest", async () => {
    // Arrange
    await h.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "same", Body: "x" }));
    // Act
    const missing = await errorOf(
      h.client.send(new CopyObjectCommand({ Bucket: BUCKET, Key: "dst", CopySource: `${BUCKET}/absent` })),
    );
    const self = await errorOf(
      h.client.send(new CopyObjectCommand({ Bucket: BUCKET, Key: "same", CopySource: `${BUCKET}/same` })),
    );
    // Assert
    expect(missing.name).toBe("NoSuchKey");
    expect(self.name).toBe("InvalidRequest");
  });

  it("deletes one object, then many in one request, and prunes emptied folders", async () => {
    // Arrange
    for (const key of ["a/b/1", "a/b/2", "a/c", "top"]) {
      await h.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }));
    }
    // Act
    await h.client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "top" }));
    const many = await h.client.send(
      new DeleteObjectsCommand({
        Bucket: BUCKET,
        Delete: { Objects: [{ Key: "a/b/1" }, { Key: "a/b/2" }, { Key: "a/c" }, { Key: "never-existed" }] },
      }),
    );
    // Assert
    expect(many.Deleted?.map((d) => d.Key).sort()).toEqual(["a/b/1", "a/b/2", "a/c", "never-existed"]);
    expect(many.Errors ?? []).toEqual([]);
    expect(await filesUnder(join(h.dataDir, "s3"))).toEqual([]);
  });

  it("stores keys with spaces, unicode, plus, percent and dot segments without writing outside the bucket", async () => {
    // Arrange
    const keys = [
      "with space/file name.png",
      "ünïcödé/日本語.png",
      "a+b/c+d",
      "100%/50%25",
      "../escape",
      "../../../../etc/passwd",
      "a/./b/../c",
      "folder//double",
      'win:dows*?"<>|.txt',
      "trailing.",
    ];
    // Act
    for (const key of keys)
      await h.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: `body of ${key}` }));
    const bodies = await Promise.all(
      keys.map(async (key) => {
        const got = await h.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
        return got.Body?.transformToString();
      }),
    );
    // Assert
    expect(bodies).toEqual(keys.map((key) => `body of ${key}`));
    const everything = await filesUnder(h.root);
    const outside = everything.filter(
      (file) =>
        !file.startsWith(`data${"/"}s3${"/"}${BUCKET}/`) &&
        !file.startsWith(`data${"/"}s3-meta${"/"}${BUCKET}/`),
    );
    expect(outside).toEqual([]);
    expect(everything.filter((file) => file.startsWith("data/s3/"))).toHaveLength(keys.length);
  });

  it("keeps an object and a folder of the same name apart, and folder markers", async () => {
    // Arrange
    const keys = ["a", "a/", "a/b", "a-c"];
    // Act
    for (const key of keys)
      await h.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }));
    const bodies = [];
    for (const key of keys) {
      const got = await h.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      bodies.push(await got.Body?.transformToString());
    }
    const listed = [];
    for await (const object of h.s3.objects.list(BUCKET, "")) listed.push(object.key);
    // Assert
    expect(bodies).toEqual(keys);
    expect(listed).toEqual(["a", "a-c", "a/", "a/b"]);
  });

  it("refuses keys over 1024 bytes with KeyTooLongError and control characters with InvalidObjectName", async () => {
    // Arrange
    const long = "k".repeat(1025);
    // Act
    const tooLong = await errorOf(
      h.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: long, Body: "x" })),
    );
    const control = await errorOf(
      h.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "bell\u0007", Body: "x" })),
    );
    // Assert
    expect(tooLong.name).toBe("KeyTooLongError");
    expect(control.name).toBe("InvalidObjectName");
    expect(await filesUnder(join(h.dataDir, "s3"))).toEqual([]);
  });

  it("refuses an object above the configured maximum with EntityTooLarge and keeps nothing", async () => {
    // Arrange
    const small = await startS3({ maxObjectBytes: 10 });
    await small.client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    // Act
    const error = await errorOf(
      small.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "big", Body: "x".repeat(11) })),
    );
    const files = await filesUnder(small.dataDir);
    await small.close();
    // Assert
    expect(error.name).toBe("EntityTooLarge");
    expect(files.filter((file) => file.startsWith("s3/") || file.startsWith("s3-tmp/"))).toEqual([]);
  });

  it("refuses a body whose Content-MD5 does not match with BadDigest", async () => {
    // Arrange
    const wrong = createHash("md5").update("something else").digest("base64");
    // Act
    const error = await errorOf(
      h.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "md5", Body: "payload", ContentMD5: wrong })),
    );
    // Assert
    expect(error.name).toBe("BadDigest");
    expect(await filesUnder(join(h.dataDir, "s3"))).toEqual([]);
  });

  it("verifies a CRC32 checksum the SDK computes", async () => {
    // Arrange
    const body = Buffer.from("checked bytes");
    // Act
    const put = await h.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: "crc", Body: body, ChecksumAlgorithm: "CRC32" }),
    );
    // Assert
    expect(put.ETag).toBe(`"${md5(body)}"`);
  });
});

describe("local S3 edge cases", () => {
  it("decodes the aws-chunked body the SDK sends for a streamed upload with a checksum", async () => {
    // Arrange
    const body = Buffer.from("streamed ".repeat(1000));
    // Act
    await h.client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: "streamed.txt",
        Body: Readable.from([body.subarray(0, 4000), body.subarray(4000)]),
        ContentLength: body.length,
        ChecksumAlgorithm: "CRC32",
      }),
    );
    const stored = await h.s3.objects.get(BUCKET, "streamed.txt");
    // Assert
    expect(h.requests.at(-1)?.["content-encoding"]).toContain("aws-chunked");
    expect(stored.equals(body)).toBe(true);
  });

  it("lists with the version 1 ListObjects API and its marker", async () => {
    // Arrange
    for (const key of ["v1/a", "v1/b", "v1/c"]) await h.s3.objects.put(BUCKET, key, Buffer.from(key));
    // Act
    const listed = await h.client.send(
      new ListObjectsCommand({ Bucket: BUCKET, Prefix: "v1/", Marker: "v1/a" }),
    );
    // Assert
    expect(listed.Contents?.map((object) => object.Key)).toEqual(["v1/b", "v1/c"]);
    expect(listed.IsTruncated).toBe(false);
  });

  it("refuses subresources it does not implement with NotImplemented instead of answering a listing", async () => {
    // Arrange
    const command = new GetBucketVersioningCommand({ Bucket: BUCKET });
    // Act
    const error = await errorOf(h.client.send(command));
    // Assert
    expect(error.name).toBe("NotImplemented");
    expect(error.$metadata.httpStatusCode).toBe(501);
  });

  it("refuses a copy whose source does not match x-amz-copy-source-if-match", async () => {
    // Arrange
    await h.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "src", Body: "v1" }));
    // Act
    const error = await errorOf(
      h.client.send(
        new CopyObjectCommand({
          Bucket: BUCKET,
          Key: "dst",
          CopySource: `${BUCKET}/src`,
          CopySourceIfMatch: '"nope"',
        }),
      ),
    );
    // Assert
    expect(error.name).toBe("PreconditionFailed");
    expect(await h.s3.objects.head(BUCKET, "dst")).toBeUndefined();
  });

  it("describes the bytes on disk when a crash left the sidecar of an earlier version", async () => {
    // Arrange
    await h.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "crash.txt", Body: "aaaa" }));
    const path = join(h.dataDir, "s3", BUCKET, "crash.txt");
    await writeFile(`${path}.new`, "bbbb");
    await rename(`${path}.new`, path);
    // Act
    const head = await h.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "crash.txt" }));
    // Assert
    expect(head.ETag).toBe(`"${md5("bbbb")}"`);
  });

  it("describes the bytes on disk, on GET and HEAD, when a crash cut the sidecar's write short", async () => {
    // Arrange
    await h.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: "cut.json", Body: "{}", ContentType: "application/json" }),
    );
    const sidecar = join(h.dataDir, "s3-meta", BUCKET, "cut.json%m");
    await writeFile(sidecar, (await readFile(sidecar, "utf8")).slice(0, 10));
    // Act
    const head = await h.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "cut.json" }));
    const got = await h.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: "cut.json" }));
    // Assert
    expect(head.ETag).toBe(`"${md5("{}")}"`);
    expect(head.ContentType).toBe("application/octet-stream");
    expect(got.ETag).toBe(`"${md5("{}")}"`);
    expect(await got.Body?.transformToString()).toBe("{}");
  });

  it("discards temp files a crash left behind when it starts", async () => {
    // Arrange
    await mkdir(join(h.dataDir, "s3-tmp"), { recursive: true });
    await writeFile(join(h.dataDir, "s3-tmp", "half-written"), "partial");
    // Act
    await createLocalS3({ dataDir: h.dataDir, bus: { put: async () => {} } });
    // Assert
    expect(await filesUnder(join(h.dataDir, "s3-tmp"))).toEqual([]);
  });

  it("refuses in-process reads of a missing key with a NoSuchKey ServiceError", async () => {
    // Arrange
    const read = h.s3.objects.get(BUCKET, "absent");
    // Act
    const error = await read.catch((caught: unknown) => caught);
    // Assert
    expect(error).toBeInstanceOf(ServiceError);
    expect((error as ServiceError).code).toBe("NoSuchKey");
  });
});

describe("local S3 streaming", () => {
  it("keeps a body above the in-memory limit byte for byte through a temp file it then removes", async () => {
    // Arrange
    const body = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) % 251;

    // Act
    const put = await h.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "spill.bin", Body: body }));
    const got = await h.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: "spill.bin" }));
    const bytes = Buffer.from((await got.Body?.transformToByteArray()) ?? []);

    // Assert
    expect(put.ETag).toBe(`"${createHash("md5").update(body).digest("hex")}"`);
    expect(bytes.equals(body)).toBe(true);
    expect(await filesUnder(join(h.dataDir, "s3-tmp"))).toEqual([]);
  });

  it("reads a large object in-process with its exact bytes", async () => {
    // Arrange
    const body = Buffer.alloc(2 * 1024 * 1024 + 3, 9);
    await h.s3.objects.put(BUCKET, "in-process.bin", body);

    // Act
    const read = await h.s3.objects.get(BUCKET, "in-process.bin");

    // Assert
    expect(read.equals(body)).toBe(true);
  });

  it("streams a large object and survives a client that hangs up mid-download", async () => {
    // Arrange
    const big = Buffer.alloc(8 * 1024 * 1024, 7);
    await h.s3.objects.put(BUCKET, "large.bin", big);
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const controller = new AbortController();
    // Act
    const response = await fetch(`${h.url}/${BUCKET}/large.bin`, {
      headers: { authorization: "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request" },
      signal: controller.signal,
    });
    const reader = response.body?.getReader();
    await reader?.read();
    controller.abort();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const after = await h.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: "large.bin" }));
    const bytes = await after.Body?.transformToByteArray();
    // Assert
    expect(response.headers.get("content-length")).toBe(String(big.length));
    expect(bytes?.length).toBe(big.length);
    expect(logged).not.toHaveBeenCalled();
    logged.mockRestore();
  });
});
