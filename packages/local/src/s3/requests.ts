/**
 * Reading S3 requests: the path, headers, signature presence, conditions and ranges. Pure
 * functions of the request, so the service methods stay about storage.
 */
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { ServiceError } from "../edge/protocol";

/** S3 subresources this local S3 does not implement (refused instead of misrouted). */
const UNSUPPORTED_SUBRESOURCES = new Set([
  "acl",
  "tagging",
  "versioning",
  "versions",
  "versionId",
  "policy",
  "policyStatus",
  "lifecycle",
  "notification",
  "website",
  "logging",
  "encryption",
  "replication",
  "requestPayment",
  "accelerate",
  "analytics",
  "inventory",
  "metrics",
  "intelligent-tiering",
  "object-lock",
  "ownershipControls",
  "publicAccessBlock",
  "legal-hold",
  "retention",
  "restore",
  "select",
  "torrent",
  "attributes",
]);

/**
 * Refuses subresources and multipart sub-operations this local S3 does not implement; answering
 * them as a listing or a plain GET would look like success with the wrong data.
 */
export function refuseUnsupported(
  method: string,
  query: URLSearchParams,
  headers: IncomingHttpHeaders,
): void {
  const unsupported = [...query.keys()].find((name) => UNSUPPORTED_SUBRESOURCES.has(name));
  const partCopy = query.has("uploadId") && headers["x-amz-copy-source"] !== undefined;
  const multipartListing = method === "GET" && (query.has("uploadId") || query.has("uploads"));
  if (unsupported === undefined && !partCopy && !multipartListing) return;
  const what = unsupported
    ? `the ?${unsupported} subresource`
    : partCopy
      ? "UploadPartCopy"
      : "ListParts/ListMultipartUploads";
  throw new ServiceError("NotImplemented", `The local S3 does not implement ${what}`, 501);
}

/** Parses `/<bucket>/<key>` from the raw request target, before any dot-segment normalisation. */
export function parsePath(rawUrl: string): { bucket: string; key: string } {
  const path = rawUrl.split("?")[0] ?? "/";
  const slash = path.indexOf("/", 1);
  try {
    if (slash < 0) return { bucket: decodeURIComponent(path.slice(1)), key: "" };
    return {
      bucket: decodeURIComponent(path.slice(1, slash)),
      key: decodeURIComponent(path.slice(slash + 1)),
    };
  } catch {
    throw new ServiceError("InvalidURI", "Couldn't parse the specified URI.");
  }
}

/** One header as a string (repeated headers joined with commas, as HTTP allows). */
export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(",") : value;
}

/** `x-amz-meta-*` headers by name without the prefix. */
export function userMetadata(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith("x-amz-meta-") && value !== undefined) out[name.slice(11)] = String(value);
  }
  return out;
}

function parseAmzDate(value: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  return new Date(Date.UTC(y as number, (mo as number) - 1, d, h, mi, s));
}

/** HTTP dates have second precision; S3 stores times the same way so conditions compare cleanly. */
export function toSecond(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

/**
 * Signatures are not verified locally, but a request must be signed the way AWS requires
 * (an Authorization header, or a presigned query that has not expired), so code that would be
 * refused on AWS for sending an anonymous request is refused here too.
 */
export function authorize(req: IncomingMessage, url: URL, now: Date): void {
  if (req.headers.authorization) return;
  const query = url.searchParams;
  if (query.has("X-Amz-Signature") && query.has("X-Amz-Credential")) {
    const signedAt = parseAmzDate(query.get("X-Amz-Date") ?? "");
    const expires = Number(query.get("X-Amz-Expires") ?? "");
    if (!signedAt || !Number.isInteger(expires) || expires < 1 || expires > 604_800) {
      throw new ServiceError(
        "AuthorizationQueryParametersError",
        "X-Amz-Date and X-Amz-Expires must be valid",
        400,
      );
    }
    if (signedAt.getTime() + expires * 1000 < now.getTime()) {
      throw new ServiceError("AccessDenied", "Request has expired", 403);
    }
    return;
  }
  if (query.has("Signature") && query.has("AWSAccessKeyId")) {
    const expires = Number(query.get("Expires"));
    if (!Number.isFinite(expires) || expires * 1000 < now.getTime()) {
      throw new ServiceError("AccessDenied", "Request has expired", 403);
    }
    return;
  }
  throw new ServiceError(
    "AccessDenied",
    "Anonymous requests are not accepted: sign the request or presign the URL",
    403,
  );
}

/** Returns true for "304 Not Modified"; throws 412 for failed If-Match / If-Unmodified-Since. */
export function checkReadConditions(headers: IncomingHttpHeaders, etag: string, lastModified: Date): boolean {
  const ifMatch = header(headers, "if-match");
  const ifNoneMatch = header(headers, "if-none-match");
  const ifModifiedSince = header(headers, "if-modified-since");
  const ifUnmodifiedSince = header(headers, "if-unmodified-since");
  const matches = (list: string) =>
    list
      .split(",")
      .some((item) => item.trim() === "*" || item.trim().replace(/^W\//, "").replace(/"/g, "") === etag);
  const failed = () =>
    new ServiceError(
      "PreconditionFailed",
      "At least one of the pre-conditions you specified did not hold",
      412,
    );
  // RFC 7232 precedence, as S3 applies it: a true If-Match overrides a false If-Unmodified-Since.
  if (ifMatch !== undefined) {
    if (!matches(ifMatch)) throw failed();
  } else if (ifUnmodifiedSince !== undefined) {
    const since = Date.parse(ifUnmodifiedSince);
    if (!Number.isNaN(since) && lastModified.getTime() > since) throw failed();
  }
  if (ifNoneMatch !== undefined) return matches(ifNoneMatch);
  if (ifModifiedSince !== undefined) {
    const since = Date.parse(ifModifiedSince);
    return !Number.isNaN(since) && lastModified.getTime() <= since;
  }
  return false;
}

/** Parses a single `bytes=` range; undefined means "send the whole object". */
export function parseRange(
  value: string | undefined,
  size: number,
): { start: number; end: number } | undefined {
  if (value === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  // S3 ignores Range headers it cannot parse (including multiple ranges) and sends the whole object.
  if (!match || (match[1] === "" && match[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    start = Math.max(0, size - suffix);
    end = size - 1;
    if (suffix === 0) start = size;
  } else {
    start = Number(match[1]);
    end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
    if (match[2] !== "" && Number(match[2]) < start) return undefined;
  }
  if (start >= size || start > end) {
    throw new ServiceError("InvalidRange", "The requested range is not satisfiable", 416, {
      RangeRequested: value,
      ActualObjectSize: size,
    });
  }
  return { start, end };
}

/** Splits `x-amz-copy-source` (URL-encoded `bucket/key`, optional `?versionId=`). */
export function parseCopySource(value: string): { bucket: string; key: string } {
  const withoutVersion = value.split("?")[0] ?? "";
  let decoded: string;
  try {
    decoded = decodeURIComponent(withoutVersion);
  } catch {
    throw new ServiceError("InvalidArgument", "Invalid copy source encoding");
  }
  const trimmed = decoded.startsWith("/") ? decoded.slice(1) : decoded;
  const slash = trimmed.indexOf("/");
  if (slash <= 0 || slash === trimmed.length - 1) {
    throw new ServiceError(
      "InvalidArgument",
      "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
    );
  }
  return { bucket: trimmed.slice(0, slash), key: trimmed.slice(slash + 1) };
}
