/**
 * Distributed Map `ItemReader`: streams the items of an S3 object (JSON, JSON Lines, CSV, an S3
 * inventory manifest) or of an S3 listing (`listObjectsV2`) one at a time, so a large manifest is
 * never held in memory as a whole.
 */
import { type Duplex, pipeline, Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { parse as parseCsv } from "csv-parse";
import { parser } from "stream-json";
import { pick } from "stream-json/filters/pick.js";
import { streamArray } from "stream-json/streamers/stream-array.js";
import type { LocalObjects } from "../contracts";
import { StatesError } from "./errors";

/** The local S3 as the engine reads it (streaming when the store offers `stream`). */
export type ReadableObjects = LocalObjects;

/** An ItemReader with its Parameters and ReaderConfig paths already resolved against the input. */
export interface ResolvedReader {
  resource: string;
  parameters: Record<string, unknown>;
  config: {
    InputType?: string;
    CSVHeaderLocation?: string;
    CSVHeaders?: string[];
    CSVDelimiter?: string;
    MaxItems?: number;
    ItemsPointer?: string;
    ManifestType?: string;
  };
}

const DELIMITERS: Record<string, string> = { COMMA: ",", PIPE: "|", SEMICOLON: ";", SPACE: " ", TAB: "\t" };
/** AWS's ceiling for MaxItems. */
const MAX_ITEMS_LIMIT = 100_000_000;

function readerFailed(message: string): StatesError {
  return new StatesError("States.ItemReaderFailed", message);
}

function stringParam(parameters: Record<string, unknown>, name: string, required: boolean): string {
  const value = parameters[name];
  if (value === undefined && !required) return "";
  if (typeof value !== "string" || (required && value === "")) {
    throw readerFailed(`ItemReader Parameters.${name} must be a string, got ${JSON.stringify(value)}`);
  }
  return value;
}

async function openBytes(
  objects: ReadableObjects,
  bucket: string,
  key: string,
): Promise<AsyncIterable<Uint8Array>> {
  try {
    const source = objects.stream
      ? await objects.stream(bucket, key)
      : Readable.from([await objects.get(bucket, key)]);
    // Compressed manifests (.gz) are read through gunzip, as Step Functions does for GZIP input.
    if (key.endsWith(".gz")) return Readable.from(source).pipe(createGunzip());
    return source;
  } catch (error) {
    throw readerFailed(`Unable to read s3://${bucket}/${key}: ${(error as Error).message}`);
  }
}

/** Splits a byte stream into lines without holding more than one line beyond the current chunk. */
async function* lines(source: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of source) {
    pending += decoder.decode(chunk, { stream: true });
    let newline = pending.indexOf("\n");
    while (newline >= 0) {
      yield pending.slice(0, newline).replace(/\r$/, "");
      pending = pending.slice(newline + 1);
      newline = pending.indexOf("\n");
    }
  }
  pending += decoder.decode();
  if (pending) yield pending.replace(/\r$/, "");
}

async function* jsonLines(source: AsyncIterable<Uint8Array>, where: string): AsyncGenerator<unknown> {
  let number = 0;
  for await (const line of lines(source)) {
    number++;
    if (line.trim() === "") continue;
    try {
      yield JSON.parse(line);
    } catch {
      throw readerFailed(`Line ${number} of ${where} is not valid JSON`);
    }
  }
}

/** An RFC 6901 JSON pointer (`/a/0/b`) as its unescaped segments. */
function pointerSegments(pointer: string): string[] {
  if (pointer === "" || pointer === "/") return [];
  return pointer
    .replace(/^\//, "")
    .split("/")
    .map((raw) => raw.replaceAll("~1", "/").replaceAll("~0", "~"));
}

/**
 * The elements of a JSON array — the whole document, or the one `ItemsPointer` points to — parsed
 * one at a time by stream-json, so only the element being read is held in memory.
 */
async function* jsonDocument(
  source: AsyncIterable<Uint8Array>,
  pointer: string | undefined,
  where: string,
): AsyncGenerator<unknown> {
  const segments = pointer === undefined ? undefined : pointerSegments(pointer);
  let found = segments === undefined || segments.length === 0;
  // One source chunk at a time: object-mode stages would otherwise queue 16 chunks ahead each.
  const stages: Duplex[] = [parser.asStream({ writableHighWaterMark: 1 })];
  if (segments && segments.length > 0) {
    stages.push(
      pick.asStream({
        // The parser's stack holds keys and array indices from the root to the current value.
        filter: (stack: readonly (string | number | null)[]) => {
          const match =
            stack.length === segments.length && stack.every((key, i) => String(key) === segments[i]);
          if (match) found = true;
          return match;
        },
      }),
    );
  }
  const last = streamArray.asStream();
  // pipeline destroys every stage with the first error, so reading `last` rethrows it here; the
  // callback only keeps that error from being reported a second time as unhandled.
  pipeline([Readable.from(source, { highWaterMark: 1 }), ...stages, last], () => {});
  const items = last as AsyncIterable<{ value: unknown }>;
  try {
    for await (const item of items) yield item.value;
  } catch (error) {
    if (error instanceof StatesError) throw error;
    const message = (error as Error).message;
    if (/should be an array/i.test(message)) {
      throw readerFailed(`${where} must contain a JSON array${pointer ? ` at ${pointer}` : ""}`);
    }
    throw readerFailed(`${where} is not valid JSON: ${message}`);
  }
  if (!found) throw readerFailed(`ItemsPointer ${pointer} does not exist in ${where}`);
}

/** CSV rows as objects keyed by the headers; every value a string, missing "" and extras dropped. */
async function* csvRows(
  source: AsyncIterable<Uint8Array>,
  options: { headers?: string[]; delimiter: string },
  where: string,
): AsyncGenerator<Record<string, string>> {
  const parser = Readable.from(source).pipe(
    parseCsv({ delimiter: options.delimiter, relax_column_count: true, skip_empty_lines: true, bom: true }),
  );
  let headers = options.headers;
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      if (!headers) {
        headers = record;
        continue;
      }
      const row: Record<string, string> = {};
      for (const [i, header] of headers.entries()) row[header] = record[i] ?? "";
      yield row;
    }
  } catch (error) {
    if (error instanceof StatesError) throw error;
    throw readerFailed(`${where} is not valid CSV: ${(error as Error).message}`);
  }
}

function csvOptions(config: ResolvedReader["config"]): { headers?: string[]; delimiter: string } {
  const delimiter = DELIMITERS[config.CSVDelimiter ?? "COMMA"];
  if (!delimiter) throw readerFailed(`Unknown CSVDelimiter ${config.CSVDelimiter}`);
  const location = config.CSVHeaderLocation ?? "FIRST_ROW";
  if (location === "GIVEN") {
    if (!Array.isArray(config.CSVHeaders) || config.CSVHeaders.length === 0) {
      throw readerFailed("CSVHeaderLocation GIVEN needs CSVHeaders");
    }
    return { headers: config.CSVHeaders, delimiter };
  }
  if (location !== "FIRST_ROW") throw readerFailed(`Unknown CSVHeaderLocation ${location}`);
  return { delimiter };
}

/** An S3 inventory manifest.json: each listed CSV file, with the columns named by fileSchema. */
async function* inventory(objects: ReadableObjects, bucket: string, key: string): AsyncGenerator<unknown> {
  const where = `s3://${bucket}/${key}`;
  const chunks: Buffer[] = [];
  for await (const chunk of await openBytes(objects, bucket, key)) chunks.push(Buffer.from(chunk));
  let manifest: {
    destinationBucket?: string;
    fileFormat?: string;
    fileSchema?: string;
    files?: { key: string }[];
  };
  try {
    manifest = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw readerFailed(`${where} is not a valid S3 inventory manifest`);
  }
  if (manifest.fileFormat !== "CSV") {
    throw readerFailed(`Only CSV S3 inventories are supported, got ${String(manifest.fileFormat)}`);
  }
  if (typeof manifest.fileSchema !== "string" || !Array.isArray(manifest.files)) {
    throw readerFailed(`${where} has no fileSchema or files`);
  }
  const headers = manifest.fileSchema.split(",").map((h) => h.trim());
  const destination = (manifest.destinationBucket ?? `arn:aws:s3:::${bucket}`).replace(/^arn:aws:s3:::/, "");
  for (const file of manifest.files) {
    yield* csvRows(await openBytes(objects, destination, file.key), { headers, delimiter: "," }, file.key);
  }
}

async function* listing(objects: ReadableObjects, bucket: string, prefix: string): AsyncGenerator<unknown> {
  try {
    for await (const object of objects.list(bucket, prefix)) {
      yield {
        Etag: object.etag.startsWith('"') ? object.etag : `"${object.etag}"`,
        Key: object.key,
        LastModified: Math.floor(object.lastModified.getTime() / 1000),
        Size: object.size,
        StorageClass: "STANDARD",
      };
    }
  } catch (error) {
    throw readerFailed(`Unable to list s3://${bucket}/${prefix}: ${(error as Error).message}`);
  }
}

/** The items an ItemReader produces, streamed in order and capped by MaxItems. */
export async function* readItems(
  objects: ReadableObjects | undefined,
  reader: ResolvedReader,
): AsyncGenerator<unknown> {
  if (!objects) throw readerFailed("The local engine was started without access to S3");
  const { config, parameters } = reader;
  const maxItems = config.MaxItems ?? MAX_ITEMS_LIMIT;
  if (!Number.isInteger(maxItems) || maxItems < 0 || maxItems > MAX_ITEMS_LIMIT) {
    throw readerFailed(`MaxItems must be an integer between 0 and ${MAX_ITEMS_LIMIT}, got ${maxItems}`);
  }
  const limit = maxItems === 0 ? MAX_ITEMS_LIMIT : maxItems;
  const bucket = stringParam(parameters, "Bucket", true);
  let source: AsyncGenerator<unknown>;
  if (/^arn:aws:states:::s3:listObjectsV2$/.test(reader.resource)) {
    source = listing(objects, bucket, stringParam(parameters, "Prefix", false));
  } else if (/^arn:aws:states:::s3:getObject$/.test(reader.resource)) {
    const key = stringParam(parameters, "Key", true);
    const where = `s3://${bucket}/${key}`;
    const type = config.InputType ?? (config.ManifestType === "S3_INVENTORY" ? "MANIFEST" : undefined);
    if (type === "JSON")
      source = jsonDocument(await openBytes(objects, bucket, key), config.ItemsPointer, where);
    else if (type === "JSONL") source = jsonLines(await openBytes(objects, bucket, key), where);
    else if (type === "CSV")
      source = csvRows(await openBytes(objects, bucket, key), csvOptions(config), where);
    else if (type === "MANIFEST") source = inventory(objects, bucket, key);
    else throw readerFailed(`Unsupported ItemReader InputType ${String(type)}`);
  } else {
    throw readerFailed(`Unsupported ItemReader Resource ${reader.resource}`);
  }
  let count = 0;
  for await (const item of source) {
    if (count >= limit) return;
    count++;
    yield item;
  }
}
