/** ObjectStore on S3, including the conditional writes the retrain counter relies on. */
import {
  CopyObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import {
  ObjectNotFoundError,
  type ObjectRef,
  type ObjectStore,
  StorageUnavailableError,
  WriteConflictError,
} from "@secondlook/core";
import { awsErrorName, httpStatusOf, isTransient } from "./errors";

const TRANSIENT = ["SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout"];

/** Rethrows an S3 failure as StorageUnavailableError when a retry may help, else unchanged. */
function mapFailure(error: unknown, ref: ObjectRef, action: string): never {
  if (isTransient(error, TRANSIENT)) {
    throw new StorageUnavailableError(
      `S3 ${action} s3://${ref.bucket}/${ref.key} failed: ${(error as Error).message}`,
    );
  }
  throw error;
}

const isMissing = (error: unknown) => {
  const name = awsErrorName(error);
  return name === "NoSuchKey" || name === "NotFound" || httpStatusOf(error) === 404;
};

/** 412 = the condition failed; 409 = a concurrent conditional write to the same key won. */
const isConditionFailure = (error: unknown) => {
  const status = httpStatusOf(error);
  return status === 412 || status === 409;
};

/** CopySource is `bucket/key` with the key URL-encoded; `/` stays as the separator. */
export function copySource(ref: ObjectRef): string {
  return `${ref.bucket}/${ref.key.split("/").map(encodeURIComponent).join("/")}`;
}

/** PutObject's input with `IfMatch`, under the name newer SDK versions model it by. */
type PutInput = ConstructorParameters<typeof PutObjectCommand>[0] & { IfMatch?: string };

const IF_MATCH_MIDDLEWARE = "secondlookIfMatch";

/**
 * Makes the client send a PutObject's `IfMatch` as the If-Match header. This SDK version does not
 * model PutObject's IfMatch yet, so the header is added in the build step, where the request
 * exists. It is installed on the client, once, rather than on each command: a client created with
 * `cacheMiddleware` (clients.ts) resolves a command's middleware once per command type and would
 * silently skip middleware added to one command, sending an unconditional write.
 */
function sendIfMatch(client: S3Client) {
  if (client.middlewareStack.identify().some((entry) => entry.startsWith(`${IF_MATCH_MIDDLEWARE} `))) return;
  client.middlewareStack.add(
    (next) => async (args) => {
      const etag = (args.input as PutInput).IfMatch;
      const request = args.request as { headers?: Record<string, string> };
      if (etag && request.headers) request.headers["if-match"] = etag;
      return next(args);
    },
    { step: "build", name: IF_MATCH_MIDDLEWARE },
  );
}

/** Creates an ObjectStore backed by the given S3 client. */
export function createS3ObjectStore(client: S3Client): ObjectStore {
  sendIfMatch(client);
  return {
    async get(ref) {
      try {
        const result = await client.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
        const body = (await result.Body?.transformToString("utf-8")) ?? "";
        return { body, etag: result.ETag ?? "" };
      } catch (error) {
        if (isMissing(error)) return undefined;
        return mapFailure(error, ref, "GetObject");
      }
    },

    async head(ref) {
      try {
        const result = await client.send(new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
        return { etag: result.ETag ?? "", size: result.ContentLength ?? 0 };
      } catch (error) {
        if (isMissing(error)) return undefined;
        return mapFailure(error, ref, "HeadObject");
      }
    },

    async put(ref, body, contentType) {
      try {
        const result = await client.send(
          new PutObjectCommand({ Bucket: ref.bucket, Key: ref.key, Body: body, ContentType: contentType }),
        );
        return { etag: result.ETag ?? "" };
      } catch (error) {
        return mapFailure(error, ref, "PutObject");
      }
    },

    async putIfAbsent(ref, body, contentType) {
      try {
        const result = await client.send(
          new PutObjectCommand({
            Bucket: ref.bucket,
            Key: ref.key,
            Body: body,
            ContentType: contentType,
            IfNoneMatch: "*",
          }),
        );
        return { etag: result.ETag ?? "" };
      } catch (error) {
        if (httpStatusOf(error) === 412) return undefined;
        if (httpStatusOf(error) === 409) {
          throw new WriteConflictError(`A concurrent write created s3://${ref.bucket}/${ref.key} first`);
        }
        return mapFailure(error, ref, "PutObject If-None-Match");
      }
    },

    async putIfMatch(ref, body, etag, contentType) {
      try {
        const input: PutInput = {
          Bucket: ref.bucket,
          Key: ref.key,
          Body: body,
          ContentType: contentType,
          IfMatch: etag,
        };
        const result = await client.send(new PutObjectCommand(input));
        return { etag: result.ETag ?? "" };
      } catch (error) {
        if (isConditionFailure(error) || isMissing(error)) {
          throw new WriteConflictError(`s3://${ref.bucket}/${ref.key} changed since ETag ${etag} was read`);
        }
        return mapFailure(error, ref, "PutObject If-Match");
      }
    },

    async copy(from, to) {
      try {
        await client.send(
          new CopyObjectCommand({ Bucket: to.bucket, Key: to.key, CopySource: copySource(from) }),
        );
      } catch (error) {
        if (isMissing(error)) {
          throw new ObjectNotFoundError(`Cannot copy s3://${from.bucket}/${from.key}: it does not exist`);
        }
        return mapFailure(error, to, "CopyObject");
      }
    },
  };
}
