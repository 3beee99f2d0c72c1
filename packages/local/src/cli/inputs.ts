/**
 * What `secondlook run` sends: the images of a folder, or the items of a manifest (Ground Truth
 * JSON Lines with `source-ref`, CSV with a `source-ref` column, or a JSON array). Everything is
 * checked before the first upload, so a bad input leaves the bucket untouched.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, extname, join, relative, resolve, sep } from "node:path";
import { S3Uri } from "@secondlook/core/events";
import { parse as parseCsv } from "csv-parse/sync";
import { InvalidInputPathError, ManifestError } from "./errors";

/** Custom Labels reads PNG and JPEG only. */
const IMAGE_TYPES: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
};

export type RunSource = { kind: "file"; path: string } | { kind: "s3"; bucket: string; key: string };

/** One image to run: where it comes from and the name it keeps under the run's prefix. */
export interface RunItem {
  /** How the user named it (relative path, manifest entry). */
  label: string;
  /** Key suffix under `images_for_detection/<run id>/`. */
  name: string;
  source: RunSource;
  contentType: string;
}

export interface RunInput {
  kind: "folder" | "manifest";
  path: string;
  items: RunItem[];
  /** Files in a folder that are not PNG or JPEG and were left out. */
  skipped: string[];
}

/** Reads a folder or a manifest file into the list of images to run. */
export async function readRunInput(path: string): Promise<RunInput> {
  const absolute = resolve(path);
  const info = await stat(absolute).catch(() => undefined);
  if (!info) throw new InvalidInputPathError(`${path}: no such folder or manifest file`);
  if (info.isDirectory()) return readFolder(path, absolute);
  if (info.isFile()) return { kind: "manifest", path, items: await readManifest(absolute), skipped: [] };
  throw new InvalidInputPathError(`${path} is neither a folder nor a manifest file`);
}

const contentTypeOf = (file: string) => IMAGE_TYPES[extname(file).toLowerCase()];

async function readFolder(path: string, absolute: string): Promise<RunInput> {
  const entries = await readdir(absolute, { recursive: true, withFileTypes: true });
  const items: RunItem[] = [];
  const skipped: string[] = [];
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const file = join(entry.parentPath, entry.name);
    const name = relative(absolute, file).split(sep).join("/");
    // Hidden files and folders (.DS_Store, .git) are never images someone meant to send.
    if (name.split("/").some((part) => part.startsWith("."))) continue;
    const contentType = contentTypeOf(file);
    if (contentType === undefined) {
      skipped.push(name);
      continue;
    }
    items.push({ label: name, name, source: { kind: "file", path: file }, contentType });
  }
  if (items.length === 0) {
    throw new InvalidInputPathError(`${path} has no PNG or JPEG images`);
  }
  items.sort((a, b) => a.name.localeCompare(b.name));
  return { kind: "folder", path, items, skipped: skipped.sort() };
}

/** The `source-ref` values of a manifest, with where each came from for error messages. */
function manifestRefs(text: string, file: string): { ref: unknown; where: string }[] {
  const extension = extname(file).toLowerCase();
  if (extension === ".json") {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new ManifestError(`${file} is not valid JSON: ${(error as Error).message}`);
    }
    if (!Array.isArray(value)) throw new ManifestError(`${file} must hold a JSON array of items`);
    return value.map((item, index) => ({
      ref: typeof item === "string" ? item : (item as Record<string, unknown> | null)?.["source-ref"],
      where: `${file} item ${index + 1}`,
    }));
  }
  if (extension === ".csv") {
    let rows: Record<string, string>[];
    try {
      rows = parseCsv(text, { columns: true, skip_empty_lines: true, trim: true, bom: true });
    } catch (error) {
      throw new ManifestError(`${file} is not valid CSV: ${(error as Error).message}`);
    }
    const first = rows[0];
    if (first && !("source-ref" in first)) {
      throw new ManifestError(
        `${file} needs a source-ref column in its header row (found ${Object.keys(first).join(", ")})`,
      );
    }
    // Row 1 is the header.
    return rows.map((row, index) => ({ ref: row["source-ref"], where: `${file} row ${index + 2}` }));
  }
  // Ground Truth JSON Lines (.manifest, .jsonl): one object per line.
  const refs: { ref: unknown; where: string }[] = [];
  for (const [index, line] of text.split(/\r?\n/).entries()) {
    if (line.trim() === "") continue;
    const where = `${file} line ${index + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new ManifestError(`${where} is not a JSON object`);
    }
    refs.push({ ref: (value as Record<string, unknown> | null)?.["source-ref"], where });
  }
  return refs;
}

async function readManifest(file: string): Promise<RunItem[]> {
  const refs = manifestRefs(await readFile(file, "utf8"), file);
  if (refs.length === 0) throw new ManifestError(`${file} lists no images`);
  const items: RunItem[] = [];
  const missing: string[] = [];
  for (const [index, { ref, where }] of refs.entries()) {
    if (typeof ref !== "string" || ref.trim() === "") {
      throw new ManifestError(`${where} has no source-ref (an s3:// URI or a path to an image file)`);
    }
    // Numbered, so two items with the same file name never share a key.
    const prefix = String(index + 1).padStart(5, "0");
    if (ref.startsWith("s3://")) {
      let object: { bucket: string; key: string };
      try {
        object = S3Uri.parse(ref);
      } catch {
        throw new ManifestError(`${where}: ${ref} is not an s3://bucket/key URI`);
      }
      const contentType = contentTypeOf(object.key);
      if (!contentType) throw new ManifestError(`${where}: ${ref} is not a PNG or JPEG image`);
      items.push({
        label: ref,
        name: `${prefix}-${basename(object.key)}`,
        source: { kind: "s3", ...object },
        contentType,
      });
      continue;
    }
    const path = resolve(dirname(file), ref);
    const contentType = contentTypeOf(path);
    if (!contentType) throw new ManifestError(`${where}: ${ref} is not a PNG or JPEG file`);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) {
      missing.push(`${where}: ${ref}`);
      continue;
    }
    items.push({
      label: ref,
      name: `${prefix}-${basename(path)}`,
      source: { kind: "file", path },
      contentType,
    });
  }
  if (missing.length > 0) {
    const shown = missing.slice(0, 5).join("; ");
    throw new ManifestError(
      `${missing.length} image file(s) named in the manifest do not exist: ${shown}${missing.length > 5 ? "; …" : ""}`,
    );
  }
  return items;
}
