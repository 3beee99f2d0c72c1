/**
 * Request bodies as the SDKs send them to S3: plain, or `aws-chunked` (the SDK v3 / CLI default
 * for streamed uploads, with chunk signatures and trailing checksums), verified against Content-MD5
 * and `x-amz-checksum-*` while they stream to disk.
 */
import { createHash, type Hash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { Transform, type TransformCallback } from "node:stream";
import { crc32 } from "node:zlib";
import { ServiceError } from "../edge/protocol";

/** Longest chunk header or trailer line accepted (a SigV4 chunk signature line is ~90 bytes). */
const MAX_LINE_BYTES = 8192;

/**
 * Decodes `Content-Encoding: aws-chunked` framing: `<hex size>[;chunk-signature=…]\r\n<data>\r\n`
 * repeated, a zero-size chunk, then optional `name:value` trailers and an empty line. Signatures
 * are not verified (the local cloud accepts any credentials).
 */
export class AwsChunkedDecoder extends Transform {
  readonly trailers: Record<string, string> = {};
  private pending: Buffer = Buffer.alloc(0);
  private state: "size" | "data" | "data-end" | "trailer" | "done" = "size";
  private remaining = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    try {
      this.consume();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (this.state !== "done") {
      callback(
        new ServiceError("IncompleteBody", "The aws-chunked request body ended before its final chunk"),
      );
      return;
    }
    callback();
  }

  private readLine(): string | undefined {
    const end = this.pending.indexOf("\r\n");
    if (end < 0) {
      if (this.pending.length > MAX_LINE_BYTES) throw malformed("a chunk header line is too long");
      return undefined;
    }
    const line = this.pending.subarray(0, end).toString("latin1");
    this.pending = this.pending.subarray(end + 2);
    return line;
  }

  private consume(): void {
    for (;;) {
      if (this.state === "size") {
        const line = this.readLine();
        if (line === undefined) return;
        const sizeText = line.split(";")[0]?.trim() ?? "";
        if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw malformed(`bad chunk size "${sizeText.slice(0, 20)}"`);
        this.remaining = Number.parseInt(sizeText, 16);
        this.state = this.remaining === 0 ? "trailer" : "data";
      } else if (this.state === "data") {
        if (this.pending.length === 0) return;
        const take = Math.min(this.remaining, this.pending.length);
        this.push(this.pending.subarray(0, take));
        this.pending = this.pending.subarray(take);
        this.remaining -= take;
        if (this.remaining === 0) this.state = "data-end";
      } else if (this.state === "data-end") {
        if (this.pending.length < 2) return;
        if (this.pending[0] !== 0x0d || this.pending[1] !== 0x0a)
          throw malformed("a chunk is longer than its size");
        this.pending = this.pending.subarray(2);
        this.state = "size";
      } else if (this.state === "trailer") {
        const line = this.readLine();
        if (line === undefined) return;
        if (line === "") {
          this.state = "done";
          continue;
        }
        const colon = line.indexOf(":");
        if (colon <= 0) throw malformed("a trailer line has no name");
        this.trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      } else {
        if (this.pending.length > 0 && this.pending.toString("latin1").trim() !== "") {
          throw malformed("data follows the final chunk");
        }
        this.pending = Buffer.alloc(0);
        return;
      }
    }
  }
}

function malformed(detail: string): ServiceError {
  return new ServiceError("InvalidRequest", `Malformed aws-chunked body: ${detail}`);
}

/** True when the body uses aws-chunked framing. */
export function isAwsChunked(headers: IncomingHttpHeaders): boolean {
  const encoding = String(headers["content-encoding"] ?? "");
  const sha = String(headers["x-amz-content-sha256"] ?? "");
  return encoding.split(",").some((part) => part.trim() === "aws-chunked") || sha.startsWith("STREAMING-");
}

/** The object's size as the client declares it, if it does (aws-chunked sends it separately). */
export function declaredLength(headers: IncomingHttpHeaders): number | undefined {
  const raw = isAwsChunked(headers) ? headers["x-amz-decoded-content-length"] : headers["content-length"];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ServiceError("InvalidArgument", "The declared content length is not a non-negative integer");
  }
  return value;
}

/** The Content-Encoding to store with the object: aws-chunked is transport framing, not content. */
export function storedContentEncoding(headers: IncomingHttpHeaders): string | undefined {
  const parts = String(headers["content-encoding"] ?? "")
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "" && part !== "aws-chunked");
  return parts.length > 0 ? parts.join(", ") : undefined;
}

// CRC-32C (Castagnoli), reflected polynomial 0x82F63B78; node:zlib only offers CRC-32.
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32c(data: Buffer, previous = 0): number {
  let crc = ~previous >>> 0;
  for (const byte of data) crc = (CRC32C_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return ~crc >>> 0;
}

interface Digest {
  update(data: Buffer): void;
  base64(): string;
}

function crcDigest(fn: (data: Buffer, previous: number) => number): Digest {
  let value = 0;
  return {
    update: (data) => {
      value = fn(data, value);
    },
    base64: () => {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(value >>> 0);
      return out.toString("base64");
    },
  };
}

function hashDigest(hash: Hash): Digest {
  return { update: (data) => hash.update(data), base64: () => hash.digest("base64") };
}

const CHECKSUMS: Record<string, () => Digest> = {
  crc32: () => crcDigest((data, previous) => crc32(data, previous)),
  crc32c: () => crcDigest(crc32c),
  sha1: () => hashDigest(createHash("sha1")),
  sha256: () => hashDigest(createHash("sha256")),
};

/**
 * Hashes a body as it passes (MD5 for the ETag, plus the checksum the client asked for, announced
 * in a header or in `x-amz-trailer`) and checks the digests once the body is complete.
 */
export class BodyDigests {
  readonly md5 = createHash("md5");
  size = 0;
  private readonly checksums = new Map<string, Digest>();

  constructor(private readonly headers: IncomingHttpHeaders) {
    const announced = [
      ...Object.keys(headers).filter((name) => name.startsWith("x-amz-checksum-")),
      ...String(headers["x-amz-trailer"] ?? "")
        .split(",")
        .map((name) => name.trim().toLowerCase()),
    ];
    for (const header of announced) {
      const algorithm = header.replace("x-amz-checksum-", "");
      const create = CHECKSUMS[algorithm];
      if (header.startsWith("x-amz-checksum-") && create) this.checksums.set(header, create());
    }
  }

  update(data: Buffer): void {
    this.size += data.length;
    this.md5.update(data);
    for (const digest of this.checksums.values()) digest.update(data);
  }

  /** Returns the ETag (hex MD5) after verifying Content-MD5 and any checksum sent. */
  verify(trailers: Record<string, string> = {}): string {
    const md5 = this.md5.digest();
    const contentMd5 = this.headers["content-md5"];
    if (contentMd5 !== undefined && String(contentMd5) !== md5.toString("base64")) {
      throw new ServiceError("BadDigest", "The Content-MD5 you specified did not match what we received.");
    }
    for (const [header, digest] of this.checksums) {
      const sent = trailers[header] ?? this.headers[header];
      if (sent === undefined) continue;
      if (String(sent) !== digest.base64()) {
        throw new ServiceError(
          "BadDigest",
          `The ${header.replace("x-amz-checksum-", "").toUpperCase()} you specified did not match the calculated checksum.`,
        );
      }
    }
    return md5.toString("hex");
  }
}
