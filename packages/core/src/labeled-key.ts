/**
 * Keys under `images_labeled_by_folder/<label>/`. Labels and file names come from people and
 * uploads, so every segment is sanitised: no key built here can leave its label folder.
 */
import { createHash } from "node:crypto";
import { Prefixes } from "./blueprint";
import { InvalidKeyError } from "./errors";
import { HumanLoop } from "./human-loop";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Keeps keys well below S3's 1,024-byte limit whatever the label and file name. */
const MAX_SEGMENT_CHARS = 200;

/**
 * One key segment that cannot act as a path: separators and control characters become `_`, and
 * leading dots go so `.` / `..` (and hidden files) are impossible. Returns "" when nothing is left.
 */
function sanitizeSegment(raw: string): string {
  return (
    raw
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is removed
      .replace(/[\u0000-\u001f\u007f/\\]/g, "_")
      .trim()
      .replace(/^[.\s]+/, "")
      .slice(0, MAX_SEGMENT_CHARS)
      .trim()
  );
}

/** The folder name a label is stored under; InvalidKeyError when the label sanitises to nothing. */
function folderOf(label: string): string {
  const folder = sanitizeSegment(label);
  if (folder.replace(/_/g, "") === "") {
    throw new InvalidKeyError(`Label ${JSON.stringify(label)} leaves no usable folder name`);
  }
  return folder;
}

/** The last path segment of a source key, sanitised; "image" when nothing usable is left. */
function baseName(sourceKey: string): string {
  const last = sourceKey.split(/[/\\]/).pop() ?? "";
  return sanitizeSegment(last) || "image";
}

/**
 * A UUID derived from the loop and the source key. Deterministic on purpose: a retried copy writes
 * the same key again instead of a second copy of the same training image.
 */
function uuidFor(loopName: string, sourceKey: string): string {
  const hex = createHash("sha256").update(`${loopName}\n${sourceKey}`).digest("hex");
  // RFC 9562 version 8 (custom) with the RFC variant bits.
  const variant = ((Number.parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** `images_labeled_by_folder/<label>/<loopName>-<uuid>-<original base name>`. */
function build(input: { label: string; loopName: string; uuid: string; sourceKey: string }): string {
  HumanLoop.validateName(input.loopName);
  if (!UUID.test(input.uuid))
    throw new InvalidKeyError(`Not a lowercase UUID: ${JSON.stringify(input.uuid)}`);
  return `${Prefixes.labeled}${folderOf(input.label)}/${input.loopName}-${input.uuid}-${baseName(input.sourceKey)}`;
}

/**
 * `negative_examples/<loopName>-<uuid>-<original base name>`: a "None of the Above" answer, kept
 * outside the label folders so a labels-by-folder data set or manifest never sees it.
 */
function negative(input: { loopName: string; uuid: string; sourceKey: string }): string {
  HumanLoop.validateName(input.loopName);
  if (!UUID.test(input.uuid))
    throw new InvalidKeyError(`Not a lowercase UUID: ${JSON.stringify(input.uuid)}`);
  return `${Prefixes.negatives}${input.loopName}-${input.uuid}-${baseName(input.sourceKey)}`;
}

export const LabeledKey = { build, negative, folderOf, baseName, uuidFor, sanitizeSegment };
