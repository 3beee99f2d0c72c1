/**
 * S3 keys and bucket names as the local S3 stores them. A key becomes a path under the bucket
 * folder, one folder per "/"-separated segment, so users can browse the labeled images in a file
 * manager. Segments a filesystem cannot hold (".", "..", "", names with characters Windows or macOS
 * refuse, names ending in a dot or space) are percent-escaped; the mapping is reversible and can
 * never climb out of the bucket folder because no escaped segment is "." or "..".
 */
import { ServiceError } from "../edge/protocol";

/** S3's documented key limit, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
/** Most filesystems cap one name at 255 bytes; the suffix below needs room too. */
const MAX_SEGMENT_BYTES = 250;
/** The encoded name of an empty segment (`a//b`, or the folder marker `a/`). A lone `%` is never produced otherwise. */
const EMPTY_SEGMENT = "%";
/**
 * Appended to an object's file name when a folder of the same name exists (keys `a` and `a/b`).
 * `!` is not a hex digit, so `%!` never occurs in an escaped segment.
 */
export const SHADOWED_SUFFIX = "%!";

// Characters Windows/macOS cannot hold in a name, plus `%` (the escape character itself).
const UNSAFE_CHARS = /[%\\:*?"<>|]/;

/** Compares two strings in S3's listing order: lexicographic over their UTF-8 bytes. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function escapeChar(char: string): string {
  return Array.from(
    Buffer.from(char, "utf8"),
    (byte) => `%${byte.toString(16).toUpperCase().padStart(2, "0")}`,
  ).join("");
}

/** Escapes one key segment into a file or folder name. */
export function encodeSegment(segment: string): string {
  if (segment === "") return EMPTY_SEGMENT;
  if (segment === "." || segment === "..") return escapeChar(".").repeat(segment.length);
  let out = "";
  for (const char of segment) out += UNSAFE_CHARS.test(char) ? escapeChar(char) : char;
  // Windows drops a trailing dot or space silently, which would merge two keys into one file.
  const last = out.at(-1);
  if (last === "." || last === " ") out = out.slice(0, -1) + escapeChar(last);
  return out;
}

/** Reverses encodeSegment. */
export function decodeSegment(name: string): string {
  if (name === EMPTY_SEGMENT) return "";
  return decodeURIComponent(name);
}

/** Splits a key into the escaped folder names and the escaped object name. */
export function keyToSegments(key: string): { folders: string[]; name: string } {
  const parts = key.split("/").map(encodeSegment);
  const name = parts.pop() ?? EMPTY_SEGMENT;
  return { folders: parts, name };
}

/**
 * Refuses keys S3 refuses (empty, > 1024 bytes) and keys this store refuses: control characters
 * (S3 accepts them but XML 1.0 listings cannot carry most of them, and AWS advises against them)
 * and segments too long for one file name.
 */
export function validateKey(key: string): void {
  if (key.length === 0) throw new ServiceError("InvalidArgument", "The object key must not be empty", 400);
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) {
    throw new ServiceError("KeyTooLongError", "Your key is too long (maximum 1024 bytes)", 400, { Key: key });
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point.
  if (/[\u0000-\u001f\u007f]/.test(key) || /\p{Cs}/u.test(key)) {
    throw new ServiceError(
      "InvalidObjectName",
      "Object keys with control characters or unpaired surrogates are not accepted by the local S3",
      400,
      { Key: key },
    );
  }
  for (const segment of key.split("/")) {
    if (Buffer.byteLength(encodeSegment(segment), "utf8") > MAX_SEGMENT_BYTES) {
      throw new ServiceError(
        "KeyTooLongError",
        `One "/"-separated part of the key is longer than the local filesystem allows (${MAX_SEGMENT_BYTES} bytes once escaped)`,
        400,
        { Key: key },
      );
    }
  }
}

/** S3's bucket naming rules (general purpose buckets). */
export function validateBucketName(name: string): void {
  const valid =
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) &&
    !name.includes("..") &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name) &&
    !name.startsWith("xn--") &&
    !name.startsWith("sthree-") &&
    !name.endsWith("-s3alias") &&
    !name.endsWith("--ol-s3");
  if (!valid)
    throw new ServiceError("InvalidBucketName", "The specified bucket is not valid.", 400, {
      BucketName: name,
    });
}

/**
 * URL-encodes a key the way classic S3 event notifications do: space becomes `+`, every byte
 * outside RFC 3986's unreserved set becomes `%XX` (UTF-8), and `/` is kept.
 */
export function encodeEventKey(key: string): string {
  let out = "";
  for (const char of key) {
    if (/[A-Za-z0-9\-_.~/]/.test(char)) out += char;
    else if (char === " ") out += "+";
    else out += escapeChar(char);
  }
  return out;
}

/** The `encoding-type=url` form of listings: like encodeURIComponent but keeping `/`, as S3 does. */
export function encodeListingValue(value: string): string {
  return encodeURIComponent(value).replaceAll("%2F", "/");
}
