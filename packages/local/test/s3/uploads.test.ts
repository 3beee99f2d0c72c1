import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3ServiceException,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BusEvent } from "../../src/contracts";
import { errorOf, filesUnder, type S3Harness, startS3 } from "./harness";

const BUCKET = "upload-bucket";
const AUTH =
  "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";
let h: S3Harness;

beforeEach(async () => {
  h = await startS3();
  await h.client.send(new CreateBucketCommand({ Bucket: BUCKET }));
});
afterEach(async () => {
  await h.close();
});

const md5 = (body: Buffer | string) => createHash("md5").update(body).digest();
const crcBase64 = (data: Buffer) => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(data));
  return out.toString("base64");
};

describe("local S3 multipart uploads", () => {
  it("assembles parts into one object with S3's md5-of-md5s ETag", async () => {
    // Arrange
    const part1 = Buffer.alloc(5 * 1024 * 1024, 1);
    const part2 = Buffer.from("the tail");
    const { UploadId } = await h.client.send(
      new CreateMultipartUploadCommand({
        Bucket: BUCKET,
        Key: "big/file.bin",
        ContentType: "application/x-test",
      }),
    );
    // Act
    const first = await h.client.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: "big/file.bin", UploadId, PartNumber: 1, Body: part1 }),
    );
    const second = await h.client.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: "big/file.bin", UploadId, PartNumber: 2, Body: part2 }),
    );
    const done = await h.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: "big/file.bin",
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: first.ETag },
            { PartNumber: 2, ETag: second.ETag },
          ],
        },
      }),
    );
    const got = await h.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: "big/file.bin" }));
    const bytes = Buffer.from((await got.Body?.transformToByteArray()) ?? []);
    // Assert
    const expected = `"${createHash("md5")
      .update(Buffer.concat([md5(part1), md5(part2)]))
      .digest("hex")}-2"`;
    expect(done.ETag).toBe(expected);
    expect(got.ETag).toBe(expected);
    expect(got.ContentType).toBe("application/x-test");
    expect(bytes.equals(Buffer.concat([part1, part2]))).toBe(true);
    expect(h.events.map((event) => event.detail.reason)).toEqual(["CompleteMultipartUpload"]);
    expect(await filesUnder(`${h.dataDir}/s3-multipart`)).toEqual([]);
  });

  it("refuses parts out of order, unknown ETags, small non-final parts and aborted uploads", async () => {
    // Arrange
    const key = "m";
    const { UploadId } = await h.client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    const a = await h.client.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 1, Body: "a" }),
    );
    const b = await h.client.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 2, Body: "b" }),
    );
    const complete = (parts: { PartNumber: number; ETag?: string }[]) =>
      h.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: BUCKET,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    // Act
    const order = await errorOf(
      complete([
        { PartNumber: 2, ETag: b.ETag },
        { PartNumber: 1, ETag: a.ETag },
      ]),
    );
    const etag = await errorOf(complete([{ PartNumber: 1, ETag: '"0000"' }]));
    const small = await errorOf(
      complete([
        { PartNumber: 1, ETag: a.ETag },
        { PartNumber: 2, ETag: b.ETag },
      ]),
    );
    await h.client.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId }));
    const aborted = await errorOf(complete([{ PartNumber: 1, ETag: a.ETag }]));
    // Assert
    expect(order.name).toBe("InvalidPartOrder");
    expect(etag.name).toBe("InvalidPart");
    expect(small.name).toBe("EntityTooSmall");
    expect(aborted.name).toBe("NoSuchUpload");
    expect(h.events).toEqual([]);
  });
});

describe("local S3 conditional writes", () => {
  it("lets exactly one of 20 racing If-Match writes win per version", async () => {
    // Arrange
    const { ETag: v1 } = await h.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: "state/counter", Body: "0" }),
    );
    // client-s3 3.699 predates PutObject's IfMatch member, so the header is added on the wire.
    const conditionalPut = (body: string) => {
      const command = new PutObjectCommand({ Bucket: BUCKET, Key: "state/counter", Body: body });
      command.middlewareStack.add(
        (next) => async (args) => {
          (args.request as { headers: Record<string, string> }).headers["if-match"] = v1 ?? "";
          return next(args);
        },
        { step: "build" },
      );
      return h.client.send(command);
    };
    // Act
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => conditionalPut(`writer ${i}`)),
    );
    const winners = results.filter((result) => result.status === "fulfilled");
    const losers = results.filter((result) => result.status === "rejected");
    const final = await h.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: "state/counter" }));
    // Assert
    expect(winners).toHaveLength(1);
    expect(losers.map((result) => (result.reason as S3ServiceException).name)).toEqual(
      Array(19).fill("PreconditionFailed"),
    );
    expect(final.ETag).toBe(winners[0]?.status === "fulfilled" ? winners[0].value.ETag : "none");
  });

  it("lets exactly one of 20 racing If-None-Match creates win", async () => {
    // Arrange
    const attempts = Array.from(
      { length: 20 },
      (_, i) =>
        new PutObjectCommand({ Bucket: BUCKET, Key: "state/lock", Body: `owner ${i}`, IfNoneMatch: "*" }),
    );
    // Act
    const results = await Promise.allSettled(attempts.map((command) => h.client.send(command)));
    // Assert
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(1);
    const failures = results.flatMap((result) =>
      result.status === "rejected" ? [result.reason as S3ServiceException] : [],
    );
    expect(failures.every((error) => error.$metadata.httpStatusCode === 412)).toBe(true);
  });
});

describe("local S3 request bodies", () => {
  it("decodes an unsigned aws-chunked body and verifies its trailing CRC32", async () => {
    // Arrange
    const data = Buffer.from("hello chunked world, twice: hello chunked world");
    const framed = Buffer.concat([
      Buffer.from(`10\r\n`),
      data.subarray(0, 16),
      Buffer.from(`\r\n${(data.length - 16).toString(16)}\r\n`),
      data.subarray(16),
      Buffer.from(`\r\n0\r\nx-amz-checksum-crc32:${crcBase64(data)}\r\n\r\n`),
    ]);
    // Act
    const response = await fetch(`${h.url}/${BUCKET}/chunked.txt`, {
      method: "PUT",
      body: framed,
      headers: {
        authorization: AUTH,
        "content-encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": String(data.length),
        "x-amz-trailer": "x-amz-checksum-crc32",
      },
    });
    const stored = await h.s3.objects.get(BUCKET, "chunked.txt");
    // Assert
    expect(response.status).toBe(200);
    expect(response.headers.get("etag")).toBe(`"${md5(data).toString("hex")}"`);
    expect(stored.equals(data)).toBe(true);
  });

  it("decodes a SigV4-signed aws-chunked body", async () => {
    // Arrange
    const data = Buffer.from("signed chunk payload");
    const signature = "a".repeat(64);
    const framed = Buffer.concat([
      Buffer.from(`${data.length.toString(16)};chunk-signature=${signature}\r\n`),
      data,
      Buffer.from(`\r\n0;chunk-signature=${signature}\r\n\r\n`),
    ]);
    // Act
    const response = await fetch(`${h.url}/${BUCKET}/signed.txt`, {
      method: "PUT",
      body: framed,
      headers: {
        authorization: AUTH,
        "content-encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "x-amz-decoded-content-length": String(data.length),
      },
    });
    // Assert
    expect(response.status).toBe(200);
    expect((await h.s3.objects.get(BUCKET, "signed.txt")).toString()).toBe("signed chunk payload");
  });

  it("refuses a body whose trailing CRC32 does not match with BadDigest and keeps nothing", async () => {
    // Arrange
    const data = Buffer.from("payload");
    const framed = Buffer.from(
      `7\r\npayload\r\n0\r\nx-amz-checksum-crc32:${crcBase64(Buffer.from("other"))}\r\n\r\n`,
    );
    // Act
    const response = await fetch(`${h.url}/${BUCKET}/bad.txt`, {
      method: "PUT",
      body: framed,
      headers: {
        authorization: AUTH,
        "content-encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": String(data.length),
        "x-amz-trailer": "x-amz-checksum-crc32",
      },
    });
    // Assert
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("<Code>BadDigest</Code>");
    expect(await h.s3.objects.head(BUCKET, "bad.txt")).toBeUndefined();
    expect(await filesUnder(`${h.dataDir}/s3-tmp`)).toEqual([]);
  });

  it("refuses malformed aws-chunked framing with InvalidRequest", async () => {
    // Arrange
    const framed = Buffer.from("zz\r\nnot hex\r\n0\r\n\r\n");
    // Act
    const response = await fetch(`${h.url}/${BUCKET}/broken.txt`, {
      method: "PUT",
      body: framed,
      headers: {
        authorization: AUTH,
        "content-encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": "7",
      },
    });
    // Assert
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("<Code>InvalidRequest</Code>");
  });

  it("refuses malformed XML in DeleteObjects with MalformedXML", async () => {
    // Arrange
    const body = "<Delete><Object><Key>a</Key></Object>";
    // Act
    const response = await fetch(`${h.url}/${BUCKET}?delete`, {
      method: "POST",
      body,
      headers: { authorization: AUTH },
    });
    // Assert
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("<Code>MalformedXML</Code>");
  });
});

describe("local S3 authorization", () => {
  it("refuses anonymous requests with AccessDenied", async () => {
    // Arrange
    await h.s3.objects.put(BUCKET, "private.png", Buffer.from("secret"));
    // Act
    const response = await fetch(`${h.url}/${BUCKET}/private.png`);
    // Assert
    expect(response.status).toBe(403);
    expect(await response.text()).toContain("<Code>AccessDenied</Code>");
  });

  it("serves a presigned GET URL until it expires", async () => {
    // Arrange
    await h.s3.objects.put(BUCKET, "shared image.png", Buffer.from("pixels"), "image/png");
    const presign = (signedAt: Date, expires: number) => {
      const amzDate = signedAt
        .toISOString()
        .replace(/[-:]/g, "")
        .replace(/\.\d{3}/, "");
      const query = new URLSearchParams({
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": `test/${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request`,
        "X-Amz-Date": amzDate,
        "X-Amz-Expires": String(expires),
        "X-Amz-SignedHeaders": "host",
        "X-Amz-Signature": "0".repeat(64),
      });
      return `${h.url}/${BUCKET}/shared%20image.png?${query}`;
    };
    // Act
    const fresh = await fetch(presign(new Date(), 900));
    const expired = await fetch(presign(new Date(Date.now() - 3_600_000), 900));
    // Assert
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get("content-type")).toBe("image/png");
    expect(await fresh.text()).toBe("pixels");
    expect(expired.status).toBe(403);
    expect(await expired.text()).toContain("Request has expired");
  });
});

describe("local S3 presigned URL forms", () => {
  it("refuses a presigned URL with an expiry beyond seven days and accepts an unexpired SigV2 URL", async () => {
    // Arrange
    await h.s3.objects.put(BUCKET, "v2.txt", Buffer.from("legacy"));
    const amzDate = new Date()
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d{3}/, "");
    const tooLong = new URLSearchParams({
      "X-Amz-Credential": `test/${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request`,
      "X-Amz-Date": amzDate,
      "X-Amz-Expires": "604801",
      "X-Amz-Signature": "0".repeat(64),
    });
    const v2 = new URLSearchParams({
      AWSAccessKeyId: "test",
      Expires: String(Math.floor(Date.now() / 1000) + 600),
      Signature: "abc",
    });
    // Act
    const refused = await fetch(`${h.url}/${BUCKET}/v2.txt?${tooLong}`);
    const accepted = await fetch(`${h.url}/${BUCKET}/v2.txt?${v2}`);
    // Assert
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("<Code>AuthorizationQueryParametersError</Code>");
    expect(await accepted.text()).toBe("legacy");
  });
});

describe("local S3 Object Created events", () => {
  it("publishes S3's EventBridge shape with a URL-encoded key after PutObject", async () => {
    // Arrange
    const key = "images_for_detection/my photo+1 é.png";
    // Act
    const put = await h.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: "12345" }));
    // Assert
    expect(h.events).toHaveLength(1);
    const event = h.events[0] as BusEvent;
    expect(event).toMatchObject({
      version: "0",
      "detail-type": "Object Created",
      source: "aws.s3",
      account: "000000000000",
      region: "us-east-1",
      resources: [`arn:aws:s3:::${BUCKET}`],
      detail: {
        version: "0",
        bucket: { name: BUCKET },
        object: {
          key: "images_for_detection/my+photo%2B1+%C3%A9.png",
          size: 5,
          etag: put.ETag?.replaceAll('"', ""),
        },
        requester: "000000000000",
        "source-ip-address": "127.0.0.1",
        reason: "PutObject",
      },
    });
    expect(event.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect((event.detail.object as { sequencer: string }).sequencer).toMatch(/^[0-9A-F]{16}$/);
    expect(typeof event.detail["request-id"]).toBe("string");
  });

  it("publishes CopyObject and in-process puts, with increasing sequencers, and nothing for failed writes", async () => {
    // Arrange
    await h.s3.objects.put(BUCKET, "a.json", Buffer.from("{}"), "application/json");
    // Act
    await h.client.send(
      new CopyObjectCommand({ Bucket: BUCKET, Key: "b.json", CopySource: `${BUCKET}/a.json` }),
    );
    await errorOf(
      h.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "a.json", Body: "x", IfNoneMatch: "*" })),
    );
    // Assert
    expect(h.events.map((event) => event.detail.reason)).toEqual(["PutObject", "CopyObject"]);
    const [first, second] = h.events.map((event) => (event.detail.object as { sequencer: string }).sequencer);
    expect((second ?? "") > (first ?? "")).toBe(true);
  });
});
