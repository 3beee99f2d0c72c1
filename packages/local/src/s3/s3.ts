/**
 * The local S3: path-style REST-XML for the SDKs and the AWS CLI, plus an in-process API for the
 * other local services. Every object created (by request or in-process) publishes S3's
 * EventBridge "Object Created" event before the write is acknowledged.
 */

import { createHash } from "node:crypto";
import { closeSync, createReadStream } from "node:fs";
import { rename, unlink, writeFile } from "node:fs/promises";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  type BusEvent,
  type Clock,
  type EventBus,
  LOCAL_REGION,
  type LocalObjects,
  type ServiceHandler,
  systemClock,
} from "../contracts";
import { ServiceError, toServiceError } from "../edge/protocol";
import { AwsChunkedDecoder, BodyDigests, declaredLength, isAwsChunked, storedContentEncoding } from "./body";
import { corsDocument, findCorsRule, parseCorsConfiguration, preflightHeaders } from "./cors";
import { encodeListingValue, validateKey } from "./keys";
import { listBucketsDocument, listObjectsDocument } from "./listing";
import { Multipart } from "./multipart";
import { type CreatedObject, type ObjectCreatedReason, objectCreatedEvents } from "./object-created";
import {
  authorize,
  checkReadConditions,
  header,
  parseCopySource,
  parsePath,
  parseRange,
  refuseUnsupported,
  toSecond,
  userMetadata,
} from "./requests";
import { DiskStore, type ObjectMeta, streamToFile } from "./store";
import { readXml, S3_XMLNS, sendS3Error, sendXml } from "./xml";

export { encodeEventKey } from "./keys";

/** Bodies up to this declared size are received in memory rather than through a temp file. */
const IN_MEMORY_BODY_BYTES = 1024 * 1024;

/** S3's single-PUT limit. */
export const DEFAULT_MAX_OBJECT_BYTES = 5 * 1024 ** 3;

export interface LocalS3Options {
  dataDir: string;
  bus: EventBus;
  clock?: Clock;
  /** Objects above this size are refused with EntityTooLarge (default 5 GiB, as S3). */
  maxObjectBytes?: number;
}

export interface LocalS3 {
  handler: ServiceHandler;
  objects: LocalObjects;
  /** Creates the bucket if it does not exist yet (the composition root calls it on every start). */
  createBucket(name: string): Promise<void>;
}

/** Creates the local S3 over `<dataDir>/s3` (objects), `s3-meta` (sidecars) and `s3-multipart`. */
export async function createLocalS3(options: LocalS3Options): Promise<LocalS3> {
  const store = new DiskStore(options.dataDir);
  await store.init();
  const service = new S3Service(store, new Multipart(store.uploadsRoot), options);
  return {
    handler: (req, res, url) => service.handle(req, res, url),
    objects: service.objects(),
    createBucket: (name) => store.createBucket(name, { existingIsError: false }),
  };
}

class S3Service {
  private readonly clock: Clock;
  private readonly maxObjectBytes: number;
  private readonly objectCreated: (object: CreatedObject) => BusEvent;

  constructor(
    private readonly store: DiskStore,
    private readonly uploads: Multipart,
    private readonly options: LocalS3Options,
  ) {
    this.clock = options.clock ?? systemClock;
    this.maxObjectBytes = options.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES;
    this.objectCreated = objectCreatedEvents(this.clock);
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const requestId = crypto.randomUUID().replaceAll("-", "").slice(0, 16).toUpperCase();
    try {
      const { bucket, key } = parsePath(req.url ?? "/");
      if (req.method === "OPTIONS") return await this.preflight(req, res, bucket);
      authorize(req, url, this.clock.now());
      if (bucket !== "") await this.addCorsHeaders(req, res, bucket);
      await this.route(req, res, url, bucket, key, requestId);
    } catch (error) {
      req.resume();
      // A client that hangs up mid-download is not a failure of ours; there is no one to answer.
      if ((error as NodeJS.ErrnoException).code === "ERR_STREAM_PREMATURE_CLOSE") {
        res.destroy();
        return;
      }
      // The client gets a generic answer; the operator gets the details.
      if (!(error instanceof ServiceError)) console.error("[s3] internal error", error);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendS3Error(res, toServiceError(error), requestId, req.method);
    }
  }

  private async route(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    bucket: string,
    key: string,
    requestId: string,
  ): Promise<void> {
    const query = url.searchParams;
    const method = req.method ?? "GET";
    refuseUnsupported(method, query, req.headers);
    if (bucket === "") {
      if (method === "GET") return sendXml(res, 200, await listBucketsDocument(this.store), requestId);
      throw new ServiceError(
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
        405,
      );
    }
    if (key === "") {
      if (method === "PUT" && query.has("cors")) return this.putCors(req, res, bucket, requestId);
      if (method === "PUT") {
        req.resume(); // CreateBucketConfiguration (LocationConstraint) has no meaning locally.
        await this.store.createBucket(bucket, { existingIsError: true });
        return this.empty(res, 200, requestId, { location: `/${bucket}` });
      }
      if (method === "HEAD") {
        await this.store.requireBucket(bucket);
        return this.empty(res, 200, requestId, { "x-amz-bucket-region": LOCAL_REGION });
      }
      if (method === "GET" && query.has("cors")) return this.getCors(res, bucket, requestId);
      if (method === "GET" && query.has("location")) {
        await this.store.requireBucket(bucket);
        return sendXml(res, 200, { LocationConstraint: { "@_xmlns": S3_XMLNS } }, requestId);
      }
      if (method === "GET") {
        return sendXml(res, 200, await listObjectsDocument(this.store, bucket, query), requestId);
      }
      if (method === "DELETE" && query.has("cors")) {
        await this.store.updateBucketMeta(bucket, ({ cors: _removed, ...rest }) => rest);
        return this.empty(res, 204, requestId);
      }
      if (method === "DELETE") {
        await this.store.deleteBucket(bucket);
        return this.empty(res, 204, requestId);
      }
      if (method === "POST" && query.has("delete")) return this.deleteObjects(req, res, bucket, requestId);
      throw new ServiceError("NotImplemented", "The local S3 does not support this bucket operation", 501);
    }
    validateKey(key);
    if (method === "PUT" && query.has("uploadId"))
      return this.uploadPart(req, res, query, bucket, key, requestId);
    if (method === "PUT" && req.headers["x-amz-copy-source"] !== undefined) {
      return this.copyObject(req, res, bucket, key, requestId);
    }
    if (method === "PUT") return this.putObject(req, res, bucket, key, requestId);
    if (method === "GET" || method === "HEAD") return this.getObject(req, res, query, bucket, key, requestId);
    if (method === "DELETE" && query.has("uploadId")) {
      await this.uploads.info(query.get("uploadId") ?? "", bucket, key);
      await this.uploads.remove(query.get("uploadId") ?? "");
      return this.empty(res, 204, requestId);
    }
    if (method === "DELETE") {
      await this.store.delete(bucket, key);
      return this.empty(res, 204, requestId);
    }
    if (method === "POST" && query.has("uploads")) return this.createUpload(req, res, bucket, key, requestId);
    if (method === "POST" && query.has("uploadId"))
      return this.completeUpload(req, res, query, bucket, key, requestId);
    throw new ServiceError("NotImplemented", "The local S3 does not support this object operation", 501);
  }

  private empty(
    res: ServerResponse,
    status: number,
    requestId: string,
    headers: Record<string, string> = {},
  ) {
    res.writeHead(status, { ...headers, "x-amz-request-id": requestId, "content-length": 0 });
    res.end();
  }

  // ---- objects ----------------------------------------------------------------------------

  /**
   * Receives a request body, decoding aws-chunked and verifying digests: into memory when its
   * declared length is small (most objects here are images and JSON documents), else into a temp
   * file. `body` is what the store's commit takes: the bytes, or the temp file's path.
   */
  private async receive(
    source: Readable,
    headers: IncomingHttpHeaders,
    limit: number,
  ): Promise<{ body: string | Buffer; etag: string; size: number }> {
    const declared = declaredLength(headers);
    if (declared !== undefined && declared > limit) throw this.entityTooLarge();
    const digests = new BodyDigests(headers);
    const decoder = isAwsChunked(headers) ? new AwsChunkedDecoder() : undefined;
    const observe = (chunk: Buffer) => {
      digests.update(chunk);
      if (digests.size > limit) throw this.entityTooLarge();
    };
    let body: string | Buffer;
    if (declared !== undefined && declared <= IN_MEMORY_BODY_BYTES) {
      body = await collect(source, decoder, (chunk) => {
        observe(chunk);
        // A body longer than announced is refused below; it must not grow the buffer first.
        if (digests.size > declared) throw incompleteBody();
      });
    } else {
      body = this.store.tempPath();
      await streamToFile(source, decoder, body, observe);
    }
    try {
      if (declared !== undefined && digests.size !== declared) throw incompleteBody();
      return { body, etag: digests.verify(decoder?.trailers), size: digests.size };
    } catch (error) {
      await discard(body);
      throw error;
    }
  }

  private entityTooLarge(): ServiceError {
    return new ServiceError(
      "EntityTooLarge",
      "Your proposed upload exceeds the maximum allowed object size.",
      400,
      {
        MaxSizeAllowed: this.maxObjectBytes,
      },
    );
  }

  private metaFromHeaders(headers: IncomingHttpHeaders, etag: string, size: number): ObjectMeta {
    return {
      etag,
      size,
      lastModified: toSecond(this.clock.now()).toISOString(),
      contentType: header(headers, "content-type") ?? "application/octet-stream",
      contentEncoding: storedContentEncoding(headers),
      contentDisposition: header(headers, "content-disposition"),
      cacheControl: header(headers, "cache-control"),
      userMetadata: userMetadata(headers),
    };
  }

  private async putObject(
    req: IncomingMessage,
    res: ServerResponse,
    bucket: string,
    key: string,
    requestId: string,
  ) {
    await this.store.requireBucket(bucket);
    const { body, etag, size } = await this.receive(req, req.headers, this.maxObjectBytes);
    const meta = this.metaFromHeaders(req.headers, etag, size);
    await this.commit(bucket, key, body, meta, "PutObject", requestId, req.socket.remoteAddress, {
      ifMatch: header(req.headers, "if-match"),
      ifNoneMatch: header(req.headers, "if-none-match"),
    });
    const checksums = Object.fromEntries(
      Object.entries(req.headers).filter(
        ([name]) => name.startsWith("x-amz-checksum-") && name !== "x-amz-checksum-type",
      ),
    ) as Record<string, string>;
    this.empty(res, 200, requestId, { etag: `"${etag}"`, ...checksums });
  }

  private async commit(
    bucket: string,
    key: string,
    body: string | Buffer,
    meta: ObjectMeta,
    reason: ObjectCreatedReason,
    requestId: string,
    sourceIp: string | undefined,
    condition: { ifMatch?: string; ifNoneMatch?: string } = {},
  ): Promise<void> {
    try {
      await this.store.commit(bucket, key, body, meta, condition);
    } catch (error) {
      await discard(body);
      throw error;
    }
    await this.options.bus.put(
      this.objectCreated({ bucket, key, size: meta.size, etag: meta.etag, reason, requestId, sourceIp }),
    );
  }

  private async getObject(
    req: IncomingMessage,
    res: ServerResponse,
    query: URLSearchParams,
    bucket: string,
    key: string,
    requestId: string,
  ) {
    const { meta, fd } = await this.store.openObject(bucket, key);
    try {
      const lastModified = new Date(meta.lastModified);
      const headers: Record<string, string | number> = {
        "x-amz-request-id": requestId,
        etag: `"${meta.etag}"`,
        "last-modified": lastModified.toUTCString(),
        "accept-ranges": "bytes",
        "content-type": query.get("response-content-type") ?? meta.contentType,
      };
      const optional: [string, string | undefined][] = [
        ["content-encoding", query.get("response-content-encoding") ?? meta.contentEncoding],
        ["content-disposition", query.get("response-content-disposition") ?? meta.contentDisposition],
        ["cache-control", query.get("response-cache-control") ?? meta.cacheControl],
      ];
      for (const [name, value] of optional) if (value !== undefined) headers[name] = value;
      for (const [name, value] of Object.entries(meta.userMetadata)) headers[`x-amz-meta-${name}`] = value;

      const notModified = checkReadConditions(req.headers, meta.etag, lastModified);
      if (notModified) {
        res.writeHead(304, headers);
        res.end();
        return;
      }
      const range = parseRange(header(req.headers, "range"), meta.size);
      if (range) {
        headers["content-range"] = `bytes ${range.start}-${range.end}/${meta.size}`;
        headers["content-length"] = range.end - range.start + 1;
      } else {
        headers["content-length"] = meta.size;
      }
      res.writeHead(range ? 206 : 200, headers);
      if (req.method === "HEAD" || meta.size === 0) {
        res.end();
        return;
      }
      // Positional reads (a start is always given): a read still in flight when a hang-up closes
      // the descriptor can never move the file position of whatever reuses its number.
      await pipeline(createReadStream("", { fd, start: 0, ...range, autoClose: false }), res);
    } finally {
      closeSync(fd);
    }
  }

  private async copyObject(
    req: IncomingMessage,
    res: ServerResponse,
    bucket: string,
    key: string,
    requestId: string,
  ) {
    req.resume();
    const source = parseCopySource(header(req.headers, "x-amz-copy-source") ?? "");
    const directive = header(req.headers, "x-amz-metadata-directive") ?? "COPY";
    if (directive !== "COPY" && directive !== "REPLACE") {
      throw new ServiceError("InvalidArgument", "Unknown metadata directive.");
    }
    if (source.bucket === bucket && source.key === key && directive === "COPY") {
      throw new ServiceError(
        "InvalidRequest",
        "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
      );
    }
    await this.store.requireBucket(bucket);
    const { meta: sourceMeta, fd } = await this.store.openObject(source.bucket, source.key);
    let received: { body: string | Buffer; etag: string; size: number };
    try {
      const notModified = checkReadConditions(
        {
          "if-match": header(req.headers, "x-amz-copy-source-if-match"),
          "if-none-match": header(req.headers, "x-amz-copy-source-if-none-match"),
          "if-modified-since": header(req.headers, "x-amz-copy-source-if-modified-since"),
          "if-unmodified-since": header(req.headers, "x-amz-copy-source-if-unmodified-since"),
        },
        sourceMeta.etag,
        new Date(sourceMeta.lastModified),
      );
      // S3 answers a copy whose source "was not modified" with 412, not 304.
      if (notModified) {
        throw new ServiceError(
          "PreconditionFailed",
          "At least one of the pre-conditions you specified did not hold",
          412,
        );
      }
      received = await this.receive(
        createReadStream("", { fd, start: 0, autoClose: false }),
        { "content-length": String(sourceMeta.size) },
        this.maxObjectBytes,
      );
    } finally {
      closeSync(fd);
    }
    const meta: ObjectMeta =
      directive === "REPLACE"
        ? this.metaFromHeaders(req.headers, received.etag, received.size)
        : {
            ...sourceMeta,
            etag: received.etag,
            size: received.size,
            lastModified: toSecond(this.clock.now()).toISOString(),
          };
    await this.commit(bucket, key, received.body, meta, "CopyObject", requestId, req.socket.remoteAddress);
    sendXml(
      res,
      200,
      { CopyObjectResult: { "@_xmlns": S3_XMLNS, LastModified: meta.lastModified, ETag: `"${meta.etag}"` } },
      requestId,
    );
  }

  private async deleteObjects(req: IncomingMessage, res: ServerResponse, bucket: string, requestId: string) {
    await this.store.requireBucket(bucket);
    const body = await readXml(req, "Delete", req.headers);
    const objects = Array.isArray(body.Object) ? (body.Object as Record<string, unknown>[]) : [];
    if (objects.length === 0 || objects.length > 1000) {
      throw new ServiceError("MalformedXML", "A Delete request must name between 1 and 1000 objects.");
    }
    const quiet = String(body.Quiet ?? "false").trim() === "true";
    const deleted: { Key: string }[] = [];
    const errors: { Key: string; Code: string; Message: string }[] = [];
    for (const object of objects) {
      const key = typeof object?.Key === "string" ? object.Key : "";
      try {
        validateKey(key);
        await this.store.delete(bucket, key);
        deleted.push({ Key: key });
      } catch (error) {
        const failure = toServiceError(error);
        errors.push({ Key: key, Code: failure.code, Message: failure.message });
      }
    }
    sendXml(
      res,
      200,
      { DeleteResult: { "@_xmlns": S3_XMLNS, ...(quiet ? {} : { Deleted: deleted }), Error: errors } },
      requestId,
    );
  }

  // ---- multipart --------------------------------------------------------------------------

  private async createUpload(
    req: IncomingMessage,
    res: ServerResponse,
    bucket: string,
    key: string,
    requestId: string,
  ) {
    req.resume();
    await this.store.requireBucket(bucket);
    const meta = this.metaFromHeaders(req.headers, "", 0);
    const uploadId = await this.uploads.create({
      bucket,
      key,
      contentType: meta.contentType,
      contentEncoding: meta.contentEncoding,
      contentDisposition: meta.contentDisposition,
      cacheControl: meta.cacheControl,
      userMetadata: meta.userMetadata,
      initiated: this.clock.now().toISOString(),
    });
    sendXml(
      res,
      200,
      {
        InitiateMultipartUploadResult: { "@_xmlns": S3_XMLNS, Bucket: bucket, Key: key, UploadId: uploadId },
      },
      requestId,
    );
  }

  private async uploadPart(
    req: IncomingMessage,
    res: ServerResponse,
    query: URLSearchParams,
    bucket: string,
    key: string,
    requestId: string,
  ) {
    const uploadId = query.get("uploadId") ?? "";
    await this.uploads.info(uploadId, bucket, key);
    const { path, number } = this.uploads.partPath(uploadId, query.get("partNumber"));
    const { body, etag, size } = await this.receive(
      req,
      req.headers,
      Math.min(this.maxObjectBytes, 5 * 1024 ** 3),
    );
    if (typeof body === "string") await rename(body, path);
    else await writeFile(path, body);
    await this.uploads.recordPart(uploadId, number, { etag, size });
    this.empty(res, 200, requestId, { etag: `"${etag}"` });
  }

  private async completeUpload(
    req: IncomingMessage,
    res: ServerResponse,
    query: URLSearchParams,
    bucket: string,
    key: string,
    requestId: string,
  ) {
    const uploadId = query.get("uploadId") ?? "";
    const info = await this.uploads.info(uploadId, bucket, key);
    const body = await readXml(req, "CompleteMultipartUpload", req.headers);
    const parts = (Array.isArray(body.Part) ? (body.Part as Record<string, unknown>[]) : []).map((part) => ({
      partNumber: Number(part?.PartNumber),
      etag: String(part?.ETag ?? ""),
    }));
    const temp = this.store.tempPath();
    const meta = await this.uploads.assemble(uploadId, parts, temp, info, toSecond(this.clock.now()));
    if (meta.size > this.maxObjectBytes) {
      await unlink(temp).catch(() => {});
      throw this.entityTooLarge();
    }
    await this.commit(
      bucket,
      key,
      temp,
      meta,
      "CompleteMultipartUpload",
      requestId,
      req.socket.remoteAddress,
      {
        ifMatch: header(req.headers, "if-match"),
        ifNoneMatch: header(req.headers, "if-none-match"),
      },
    );
    await this.uploads.remove(uploadId);
    sendXml(
      res,
      200,
      {
        CompleteMultipartUploadResult: {
          "@_xmlns": S3_XMLNS,
          Location: `/${bucket}/${encodeListingValue(key)}`,
          Bucket: bucket,
          Key: key,
          ETag: `"${meta.etag}"`,
        },
      },
      requestId,
    );
  }

  // ---- CORS -------------------------------------------------------------------------------

  private async putCors(req: IncomingMessage, res: ServerResponse, bucket: string, requestId: string) {
    await this.store.requireBucket(bucket);
    const rules = parseCorsConfiguration(await readXml(req, "CORSConfiguration", req.headers));
    await this.store.updateBucketMeta(bucket, (meta) => ({ ...meta, cors: rules }));
    this.empty(res, 200, requestId);
  }

  private async getCors(res: ServerResponse, bucket: string, requestId: string) {
    const { cors } = await this.store.bucketMeta(bucket);
    if (!cors) {
      throw new ServiceError("NoSuchCORSConfiguration", "The CORS configuration does not exist", 404, {
        BucketName: bucket,
      });
    }
    sendXml(res, 200, corsDocument(cors), requestId);
  }

  private async bucketCors(bucket: string) {
    if (!(await this.store.bucketExists(bucket))) return undefined;
    return (await this.store.bucketMeta(bucket)).cors;
  }

  private async preflight(req: IncomingMessage, res: ServerResponse, bucket: string) {
    req.resume();
    const origin = header(req.headers, "origin");
    const method = header(req.headers, "access-control-request-method");
    if (!origin || !method) {
      throw new ServiceError("BadRequest", "Insufficient information. Origin request header needed.", 400);
    }
    const requested = (header(req.headers, "access-control-request-headers") ?? "")
      .split(",")
      .map((name) => name.trim())
      .filter(Boolean);
    const rule = findCorsRule(await this.bucketCors(bucket), origin, method, requested);
    if (!rule)
      throw new ServiceError("AccessForbidden", "CORSResponse: This CORS request is not allowed.", 403);
    res.writeHead(200, preflightHeaders(rule, origin, requested));
    res.end();
  }

  private async addCorsHeaders(req: IncomingMessage, res: ServerResponse, bucket: string) {
    const origin = header(req.headers, "origin");
    if (!origin) return;
    const rule = findCorsRule(await this.bucketCors(bucket), origin, req.method ?? "GET", []);
    if (!rule) return;
    res.setHeader("access-control-allow-origin", rule.allowedOrigins.includes("*") ? "*" : origin);
    if (rule.exposeHeaders.length > 0) {
      res.setHeader("access-control-expose-headers", rule.exposeHeaders.join(", "));
    }
    res.setHeader("vary", "Origin");
  }

  // ---- in-process API ---------------------------------------------------------------------

  objects(): LocalObjects {
    return {
      get: async (bucket, key) => (await this.store.read(bucket, key)).body,
      stream: async (bucket, key) => {
        const { fd } = await this.store.openObject(bucket, key);
        // The stream owns the descriptor and closes it when it ends or is destroyed.
        return createReadStream("", { fd, start: 0 });
      },
      put: async (bucket, key, body, contentType) => {
        validateKey(key);
        await this.store.requireBucket(bucket);
        if (body.length > this.maxObjectBytes) throw this.entityTooLarge();
        const requestId = crypto.randomUUID().replaceAll("-", "").slice(0, 16).toUpperCase();
        const etag = createHash("md5").update(body).digest("hex");
        const meta = this.metaFromHeaders(
          contentType ? { "content-type": contentType } : {},
          etag,
          body.length,
        );
        // The caller's buffer is written as it is; a copy keeps a later change of it out of the object.
        await this.commit(bucket, key, Buffer.from(body), meta, "PutObject", requestId, undefined);
        return { etag };
      },
      head: async (bucket, key) => {
        await this.store.requireBucket(bucket);
        const meta = await this.store.head(bucket, key);
        return meta && { size: meta.size, etag: meta.etag, lastModified: new Date(meta.lastModified) };
      },
      list: (bucket, prefix) => this.listObjects(bucket, prefix),
    };
  }

  private async *listObjects(bucket: string, prefix: string) {
    for await (const object of this.store.list(bucket, prefix)) {
      yield {
        key: object.key,
        size: object.size,
        etag: object.etag,
        lastModified: new Date(object.lastModified),
      };
    }
  }
}

function incompleteBody(): ServiceError {
  return new ServiceError(
    "IncompleteBody",
    "You did not provide the number of bytes specified by the Content-Length HTTP header",
  );
}

/** Removes a received body's temp file (bytes in memory need nothing). */
async function discard(body: string | Buffer): Promise<void> {
  if (typeof body === "string") await unlink(body).catch(() => {});
}

/** Reads a body into memory through `decoder` (if framed), passing each chunk to `onChunk`. */
async function collect(
  source: Readable,
  decoder: Transform | undefined,
  onChunk: (chunk: Buffer) => void,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = async (decoded: AsyncIterable<Buffer>) => {
    for await (const chunk of decoded) {
      onChunk(chunk);
      chunks.push(chunk);
    }
  };
  if (decoder) await pipeline(source, decoder, sink);
  else await pipeline(source, sink);
  return Buffer.concat(chunks);
}
