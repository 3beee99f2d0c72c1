import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteBucketCorsCommand,
  GetBucketCorsCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutBucketCorsCommand,
} from "@aws-sdk/client-s3";
import { A2I_CORS_RULE } from "@secondlook/core/blueprint";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { errorOf, type S3Harness, startS3 } from "./harness";

const BUCKET = "list-bucket";
let h: S3Harness;

beforeEach(async () => {
  h = await startS3();
  await h.client.send(new CreateBucketCommand({ Bucket: BUCKET }));
});
afterEach(async () => {
  await h.close();
});

async function put(keys: string[]) {
  for (const key of keys) await h.s3.objects.put(BUCKET, key, Buffer.from(key));
}

describe("local S3 buckets", () => {
  it("creates, heads, lists and deletes buckets", async () => {
    // Arrange
    await h.client.send(new CreateBucketCommand({ Bucket: "second-bucket" }));
    // Act
    const listed = await h.client.send(new ListBucketsCommand({}));
    await h.client.send(new HeadBucketCommand({ Bucket: "second-bucket" }));
    await h.client.send(new DeleteBucketCommand({ Bucket: "second-bucket" }));
    const gone = await errorOf(h.client.send(new HeadBucketCommand({ Bucket: "second-bucket" })));
    // Assert
    expect(listed.Buckets?.map((bucket) => bucket.Name)).toEqual([BUCKET, "second-bucket"]);
    expect(listed.Buckets?.[0]?.CreationDate).toBeInstanceOf(Date);
    expect(gone.$metadata.httpStatusCode).toBe(404);
  });

  it("refuses to create an existing bucket, to delete a non-empty one and an invalid name", async () => {
    // Arrange
    await put(["keep"]);
    // Act
    const again = await errorOf(h.client.send(new CreateBucketCommand({ Bucket: BUCKET })));
    const notEmpty = await errorOf(h.client.send(new DeleteBucketCommand({ Bucket: BUCKET })));
    const invalid = await errorOf(h.client.send(new CreateBucketCommand({ Bucket: "Bad_Name" })));
    // Assert
    expect(again.name).toBe("BucketAlreadyOwnedByYou");
    expect(again.$metadata.httpStatusCode).toBe(409);
    expect(notEmpty.name).toBe("BucketNotEmpty");
    expect(notEmpty.$metadata.httpStatusCode).toBe(409);
    expect(invalid.name).toBe("InvalidBucketName");
  });

  it("creates a bucket idempotently through the in-process API", async () => {
    // Arrange
    await h.s3.createBucket("startup-bucket");
    // Act
    await h.s3.createBucket("startup-bucket");
    const listed = await h.client.send(new ListBucketsCommand({}));
    // Assert
    expect(listed.Buckets?.map((bucket) => bucket.Name)).toContain("startup-bucket");
  });

  it("stores the A2I CORS rule and returns it, and answers a browser preflight with it", async () => {
    // Arrange
    const rule = {
      AllowedHeaders: A2I_CORS_RULE.allowedHeaders,
      AllowedMethods: A2I_CORS_RULE.allowedMethods,
      AllowedOrigins: A2I_CORS_RULE.allowedOrigins,
      ExposeHeaders: A2I_CORS_RULE.exposedHeaders,
    };
    // Act
    const before = await errorOf(h.client.send(new GetBucketCorsCommand({ Bucket: BUCKET })));
    await h.client.send(
      new PutBucketCorsCommand({ Bucket: BUCKET, CORSConfiguration: { CORSRules: [rule] } }),
    );
    const stored = await h.client.send(new GetBucketCorsCommand({ Bucket: BUCKET }));
    const preflight = await fetch(`${h.url}/${BUCKET}/x.png`, {
      method: "OPTIONS",
      headers: { origin: "https://portal.example", "access-control-request-method": "GET" },
    });
    const refused = await fetch(`${h.url}/${BUCKET}/x.png`, {
      method: "OPTIONS",
      headers: { origin: "https://portal.example", "access-control-request-method": "PUT" },
    });
    await h.client.send(new DeleteBucketCorsCommand({ Bucket: BUCKET }));
    const after = await errorOf(h.client.send(new GetBucketCorsCommand({ Bucket: BUCKET })));
    // Assert
    expect(before.name).toBe("NoSuchCORSConfiguration");
    expect(stored.CORSRules?.[0]?.AllowedMethods).toEqual(["GET"]);
    expect(stored.CORSRules?.[0]?.AllowedOrigins).toEqual(["*"]);
    expect(preflight.status).toBe(200);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    expect(refused.status).toBe(403);
    expect(after.name).toBe("NoSuchCORSConfiguration");
  });
});

describe("local S3 ListObjectsV2", () => {
  it("lists keys in UTF-8 byte order, not directory-walk order", async () => {
    // Arrange
    await put(["a/b", "a-c", "a", "b", "a/a/z", "\u00e9", "\uffff", "\u{1f600}", "Z"]);
    // Act
    const listed = await h.client.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    // Assert
    expect(listed.Contents?.map((object) => object.Key)).toEqual([
      "Z",
      "a",
      "a-c",
      "a/a/z",
      "a/b",
      "b",
      "\u00e9",
      "\uffff",
      "\u{1f600}",
    ]);
    expect(listed.KeyCount).toBe(9);
    expect(listed.IsTruncated).toBe(false);
  });

  it("filters by prefix and rolls keys up into common prefixes with a delimiter", async () => {
    // Arrange
    await put([
      "images_labeled_by_folder/cat/1.png",
      "images_labeled_by_folder/cat/2.png",
      "images_labeled_by_folder/dog/1.png",
      "images_labeled_by_folder/readme.txt",
      "images_labeled_by_folder-old/x",
      "manifests/m.jsonl",
    ]);
    // Act
    const listed = await h.client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "images_labeled_by_folder/", Delimiter: "/" }),
    );
    // Assert
    expect(listed.CommonPrefixes?.map((prefix) => prefix.Prefix)).toEqual([
      "images_labeled_by_folder/cat/",
      "images_labeled_by_folder/dog/",
    ]);
    expect(listed.Contents?.map((object) => object.Key)).toEqual(["images_labeled_by_folder/readme.txt"]);
    expect(listed.KeyCount).toBe(3);
  });

  it("honours start-after and reports ETag, size and last-modified per key", async () => {
    // Arrange
    await put(["k1", "k2", "k3"]);
    // Act
    const listed = await h.client.send(new ListObjectsV2Command({ Bucket: BUCKET, StartAfter: "k1" }));
    // Assert
    expect(listed.Contents?.map((object) => object.Key)).toEqual(["k2", "k3"]);
    expect(listed.Contents?.[0]?.Size).toBe(2);
    expect(listed.Contents?.[0]?.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(listed.Contents?.[0]?.LastModified).toBeInstanceOf(Date);
    expect(listed.StartAfter).toBe("k1");
  });

  it("pages through more than 1000 keys and common prefixes, each exactly once", async () => {
    // Arrange
    const keys: string[] = [];
    for (let i = 0; i < 1100; i++) keys.push(`flat/${String(i).padStart(4, "0")}.png`);
    for (let i = 0; i < 30; i++) keys.push(`flat/folder-${String(i).padStart(2, "0")}/inner.png`);
    await Promise.all(keys.map((key) => h.s3.objects.put(BUCKET, key, Buffer.from("x"))));
    // Act
    const pages: ListObjectsV2CommandOutput[] = [];
    let token: string | undefined;
    do {
      const page = await h.client.send(
        new ListObjectsV2Command({
          Bucket: BUCKET,
          Prefix: "flat/",
          Delimiter: "/",
          MaxKeys: 400,
          ContinuationToken: token,
        }),
      );
      pages.push(page);
      token = page.NextContinuationToken;
    } while (token);
    const seenKeys = pages.flatMap((page) => page.Contents?.map((object) => object.Key) ?? []);
    const seenPrefixes = pages.flatMap((page) => page.CommonPrefixes?.map((prefix) => prefix.Prefix) ?? []);
    const defaultPage = await h.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "flat/" }));
    // Assert
    expect(pages).toHaveLength(3);
    expect(pages.map((page) => page.KeyCount)).toEqual([400, 400, 330]);
    expect(seenKeys).toEqual(keys.slice(0, 1100));
    expect(seenPrefixes).toEqual(keys.slice(1100).map((key) => key.replace("inner.png", "")));
    expect(defaultPage.KeyCount).toBe(1000);
    expect(defaultPage.IsTruncated).toBe(true);
  });

  it("resumes after a page that ended on a common prefix without repeating its keys", async () => {
    // Arrange
    await put(["p/a/1", "p/a/2", "p/a/3", "p/b", "p/c/1"]);
    // Act
    const first = await h.client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Delimiter: "/", Prefix: "p/", MaxKeys: 1 }),
    );
    const second = await h.client.send(
      new ListObjectsV2Command({
        Bucket: BUCKET,
        Delimiter: "/",
        Prefix: "p/",
        MaxKeys: 1,
        ContinuationToken: first.NextContinuationToken,
      }),
    );
    // Assert
    expect(first.CommonPrefixes?.map((prefix) => prefix.Prefix)).toEqual(["p/a/"]);
    expect(second.Contents?.map((object) => object.Key)).toEqual(["p/b"]);
  });

  it("refuses a forged continuation token and a negative max-keys with InvalidArgument", async () => {
    // Arrange
    await put(["x"]);
    // Act
    const token = await errorOf(
      h.client.send(new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: "%%%" })),
    );
    const negative = await errorOf(h.client.send(new ListObjectsV2Command({ Bucket: BUCKET, MaxKeys: -1 })));
    // Assert
    expect(token.name).toBe("InvalidArgument");
    expect(negative.name).toBe("InvalidArgument");
  });

  it("URL-encodes keys when asked with encoding-type=url", async () => {
    // Arrange
    await put(["dir/with space+plus"]);
    // Act
    const response = await fetch(`${h.url}/${BUCKET}?list-type=2&encoding-type=url`, {
      headers: { authorization: "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request" },
    });
    const xml = await response.text();
    // Assert
    expect(xml).toContain("<Key>dir/with%20space%2Bplus</Key>");
    expect(xml).toContain("<EncodingType>url</EncodingType>");
  });

  it("streams the in-process listing in S3 order with a prefix", async () => {
    // Arrange
    await put(["q/2", "q/1", "q-", "r"]);
    // Act
    const seen = [];
    for await (const object of h.s3.objects.list(BUCKET, "q")) seen.push(object.key);
    // Assert
    expect(seen).toEqual(["q-", "q/1", "q/2"]);
  });
});
