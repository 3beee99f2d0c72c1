/**
 * ListBuckets, ListObjectsV2 and ListObjects (v1) documents over the disk store's ordered walk.
 */
import { LOCAL_ACCOUNT } from "../contracts";
import { ServiceError } from "../edge/protocol";
import { encodeListingValue } from "./keys";
import type { DiskStore, ObjectMeta } from "./store";
import { S3_XMLNS } from "./xml";

/** The ListAllMyBucketsResult document. */
export async function listBucketsDocument(store: DiskStore): Promise<Record<string, unknown>> {
  const buckets = await store.listBuckets();
  return {
    ListAllMyBucketsResult: {
      "@_xmlns": S3_XMLNS,
      Owner: { ID: LOCAL_ACCOUNT, DisplayName: "local" },
      Buckets: {
        Bucket: buckets.map((bucket) => ({ Name: bucket.name, CreationDate: bucket.creationDate })),
      },
    },
  };
}

/** The ListBucketResult document for a v1 or v2 (`list-type=2`) listing request. */
export async function listObjectsDocument(
  store: DiskStore,
  bucket: string,
  query: URLSearchParams,
): Promise<Record<string, unknown>> {
  const v2 = query.get("list-type") === "2";
  const prefix = query.get("prefix") ?? "";
  const delimiter = query.get("delimiter") ?? "";
  const encodingType = query.get("encoding-type");
  if (encodingType !== null && encodingType !== "url") {
    throw new ServiceError("InvalidArgument", "Invalid Encoding Method specified in Request");
  }
  const maxKeysText = query.get("max-keys");
  const maxKeys = maxKeysText === null ? 1000 : Number(maxKeysText);
  if (!Number.isInteger(maxKeys) || maxKeys < 0) {
    throw new ServiceError("InvalidArgument", "Provided max-keys not an integer or within integer range");
  }
  const token = query.get("continuation-token");
  let after = v2 ? (query.get("start-after") ?? "") : (query.get("marker") ?? "");
  if (v2 && token !== null) after = decodeToken(token);
  const page = await listPage(store, bucket, prefix, delimiter, after, Math.min(maxKeys, 1000));
  const encode = (value: string) => (encodingType === "url" ? encodeListingValue(value) : value);
  const contents = page.contents.map((object) => ({
    Key: encode(object.key),
    LastModified: object.lastModified,
    ETag: `"${object.etag}"`,
    Size: object.size,
    ...(query.get("fetch-owner") === "true" || !v2
      ? { Owner: { ID: LOCAL_ACCOUNT, DisplayName: "local" } }
      : {}),
    StorageClass: "STANDARD",
  }));
  const commonPrefixes = page.commonPrefixes.map((value) => ({ Prefix: encode(value) }));
  const shared = {
    "@_xmlns": S3_XMLNS,
    Name: bucket,
    Prefix: encode(prefix),
    ...(delimiter ? { Delimiter: encode(delimiter) } : {}),
    MaxKeys: maxKeys,
    ...(encodingType ? { EncodingType: encodingType } : {}),
    IsTruncated: page.truncated,
  };
  const result = v2
    ? {
        ...shared,
        KeyCount: contents.length + commonPrefixes.length,
        ...(token !== null ? { ContinuationToken: token } : {}),
        ...(query.has("start-after") ? { StartAfter: encode(query.get("start-after") ?? "") } : {}),
        ...(page.truncated ? { NextContinuationToken: encodeToken(page.last) } : {}),
      }
    : {
        ...shared,
        Marker: encode(query.get("marker") ?? ""),
        ...(page.truncated && delimiter ? { NextMarker: encode(page.last) } : {}),
      };
  return { ListBucketResult: { ...result, Contents: contents, CommonPrefixes: commonPrefixes } };
}

function encodeToken(last: string): string {
  return Buffer.from(JSON.stringify({ after: last }), "utf8").toString("base64url");
}

function decodeToken(token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { after?: unknown };
    if (typeof parsed.after === "string") return parsed.after;
  } catch {
    // falls through to the error below
  }
  throw new ServiceError("InvalidArgument", "The continuation token provided is incorrect");
}

/** Sorts after every key that starts with the given prefix (U+10FFFF is the largest code point). */
const PAST_PREFIX = "\u{10FFFF}";

/**
 * One page of a listing. A common prefix counts as one entry; after one, the walk resumes past
 * every key that rolls up into it (so a folder of 10,000 images costs one directory read, not
 * 10,000 metadata reads), and a page that ends on one resumes past all of its keys.
 */
async function listPage(
  store: DiskStore,
  bucket: string,
  prefix: string,
  delimiter: string,
  after: string,
  maxKeys: number,
): Promise<{
  contents: (ObjectMeta & { key: string })[];
  commonPrefixes: string[];
  truncated: boolean;
  last: string;
}> {
  const contents: (ObjectMeta & { key: string })[] = [];
  const commonPrefixes: string[] = [];
  let last = after;
  let truncated = false;
  const rollUp = (key: string) => {
    if (!delimiter) return undefined;
    const index = key.indexOf(delimiter, prefix.length);
    return index < 0 ? undefined : key.slice(0, index + delimiter.length);
  };
  // A token that ended on a common prefix: keys under it were already reported.
  let skip = after !== "" && rollUp(after) === after ? after : undefined;
  let cursor = skip ? skip + PAST_PREFIX : after;
  let restart = true;
  while (restart && !truncated) {
    restart = false;
    for await (const object of store.list(bucket, prefix, cursor)) {
      if (skip && object.key.startsWith(skip)) continue;
      const common = rollUp(object.key);
      if (contents.length + commonPrefixes.length >= maxKeys) {
        truncated = true;
        break;
      }
      if (common === undefined) {
        contents.push(object);
        last = object.key;
        continue;
      }
      commonPrefixes.push(common);
      last = common;
      skip = common;
      cursor = common + PAST_PREFIX;
      restart = true;
      break;
    }
  }
  return { contents, commonPrefixes, truncated, last };
}
