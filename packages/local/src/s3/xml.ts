/** S3's REST-XML bodies in and out, through fast-xml-parser. */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { XMLBuilder, XMLParser, XMLValidator } from "fast-xml-parser";
import { readBody, ServiceError } from "../edge/protocol";
import { BodyDigests } from "./body";

export const S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/";

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  suppressEmptyNode: false,
});
const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: false,
  isArray: (name) =>
    [
      "Object",
      "Part",
      "CORSRule",
      "AllowedOrigin",
      "AllowedMethod",
      "AllowedHeader",
      "ExposeHeader",
    ].includes(name),
});

/** Largest XML request body accepted (DeleteObjects with 1000 keys of 1 KiB fits). */
const MAX_XML_BYTES = 2 * 1024 * 1024;

/** Serializes `{ Root: {...} }` with the XML declaration S3 sends. */
export function toXml(document: Record<string, unknown>): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build(document)}`;
}

export function sendXml(
  res: ServerResponse,
  status: number,
  document: Record<string, unknown>,
  requestId: string,
) {
  const text = toXml(document);
  res.writeHead(status, {
    "content-type": "application/xml",
    "content-length": Buffer.byteLength(text),
    "x-amz-request-id": requestId,
  });
  res.end(text);
}

/** Reads and parses an XML body; anything that is not well-formed XML is S3's MalformedXML. */
export async function readXml(
  req: IncomingMessage,
  root: string,
  headers: IncomingHttpHeaders,
): Promise<Record<string, unknown>> {
  const raw = await readBody(req, MAX_XML_BYTES);
  const digests = new BodyDigests(headers);
  digests.update(raw);
  digests.verify();
  const text = raw.toString("utf8");
  if (text.trim() === "" || XMLValidator.validate(text) !== true) {
    throw new ServiceError(
      "MalformedXML",
      "The XML you provided was not well-formed or did not validate against our published schema.",
    );
  }
  const parsed = parser.parse(text) as Record<string, unknown>;
  const body = parsed[root];
  if (body === undefined || body === null || typeof body !== "object") {
    throw new ServiceError("MalformedXML", `The XML you provided has no <${root}> element.`);
  }
  return body as Record<string, unknown>;
}

/** Reads a child element as a string list (absent → []). */
export function textList(node: unknown): string[] {
  if (node === undefined || node === null) return [];
  return (Array.isArray(node) ? node : [node]).map((item) => String(item));
}

/** S3's error document. */
export function sendS3Error(
  res: ServerResponse,
  error: ServiceError,
  requestId: string,
  method: string | undefined,
) {
  // S3 calls its generic failure InternalError; the shared helper names it for the JSON protocols.
  const code = error.code === "InternalServerError" ? "InternalError" : error.code;
  const extra = Object.fromEntries(Object.entries(error.extra).map(([name, value]) => [name, String(value)]));
  if (method === "HEAD") {
    // HEAD answers carry no body; the SDK derives the error from the status.
    res.writeHead(error.status, { "x-amz-request-id": requestId, "x-amz-error-code": code });
    res.end();
    return;
  }
  sendXml(
    res,
    error.status,
    { Error: { Code: code, Message: error.message, ...extra, RequestId: requestId } },
    requestId,
  );
}
