/**
 * Wire helpers shared by the local services: reading bodies and writing AWS-shaped answers and
 * errors for each protocol the SDKs speak (awsJson1_0/1_1, restJson1, restXml).
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** An error a service answers with: the AWS error code, HTTP status and message. */
export class ServiceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ServiceError";
  }
}

/** Largest request body a JSON API accepts (AWS's API request limit is 1 MB; A2I InputContent is 3 MiB). */
export const MAX_JSON_BODY_BYTES = 4 * 1024 * 1024;

export async function readBody(req: IncomingMessage, limit = MAX_JSON_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.resume();
      throw new ServiceError("RequestEntityTooLarge", `Request body exceeds ${limit} bytes`, 413);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Parses a JSON request body into an object; AWS answers malformed JSON with SerializationException. */
export async function readJson(req: IncomingMessage, limit?: number): Promise<Record<string, unknown>> {
  const raw = await readBody(req, limit);
  if (raw.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new ServiceError("SerializationException", "Request body is not valid JSON");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ServiceError("SerializationException", "Request body must be a JSON object");
  }
  return parsed as Record<string, unknown>;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  contentType = "application/x-amz-json-1.0",
) {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(text),
    "x-amzn-requestid": crypto.randomUUID(),
  });
  res.end(text);
}

/** awsJson1_0 / awsJson1_1 error: `__type` carries the shape id, the message is lower-case `message`. */
export function sendAwsJsonError(
  res: ServerResponse,
  error: ServiceError,
  namespace: string,
  contentType: string,
) {
  sendJson(
    res,
    error.status,
    { __type: `${namespace}#${error.code}`, message: error.message, ...error.extra },
    contentType,
  );
}

/** restJson1 error (A2I): the name in X-Amzn-Errortype, body `{ "Message": … }`. */
export function sendRestJsonError(res: ServerResponse, error: ServiceError) {
  const text = JSON.stringify({ Message: error.message, ...error.extra });
  res.writeHead(error.status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "x-amzn-errortype": error.code,
    "x-amzn-requestid": crypto.randomUUID(),
  });
  res.end(text);
}

/** Maps anything thrown to a ServiceError without leaking internals to the client. */
export function toServiceError(error: unknown): ServiceError {
  if (error instanceof ServiceError) return error;
  return new ServiceError("InternalServerError", "The local cloud hit an internal error", 500);
}
