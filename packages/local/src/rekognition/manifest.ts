/**
 * Validation of the Ground Truth manifests Custom Labels trains from (JSON Lines, one image per
 * line), with Custom Labels' rules: classification and object-detection line shapes, one bucket,
 * at least two labels for classification, at most 20 % invalid lines.
 */
import { z } from "zod";

export const CLASSIFICATION_TYPE = "groundtruth/image-classification";
export const DETECTION_TYPE = "groundtruth/object-detection";
const MAX_LINES = 250_000;
const MAX_LABELS = 250;
const MAX_INVALID_SHARE = 0.2;

/** The manifest as a whole cannot be used (fatal, unlike one bad line). */
export class ManifestValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ManifestValidationError";
  }
}

const creationDate = z.string().refine((s) => !Number.isNaN(Date.parse(s)), "creation-date is not a date");
const humanAnnotated = z.enum(["yes", "no"]);

const ClassificationMetadata = z.object({
  confidence: z.number().min(0).max(1),
  "class-name": z.string().min(1),
  "human-annotated": humanAnnotated,
  "creation-date": creationDate,
  type: z.literal(CLASSIFICATION_TYPE),
  "job-name": z.string().optional(),
});

const DetectionMetadata = z.object({
  objects: z.array(z.object({ confidence: z.number().min(0).max(1) })),
  "class-map": z.record(z.string(), z.string().min(1)),
  type: z.literal(DETECTION_TYPE),
  "human-annotated": humanAnnotated,
  "creation-date": creationDate,
  "job-name": z.string().optional(),
});

const DetectionValue = z.object({
  image_size: z
    .array(
      z.object({
        width: z.number().int().positive(),
        height: z.number().int().positive(),
        depth: z.number(),
      }),
    )
    .length(1),
  annotations: z.array(
    z.object({
      class_id: z.number().int().nonnegative(),
      top: z.number().nonnegative(),
      left: z.number().nonnegative(),
      width: z.number().positive(),
      height: z.number().positive(),
    }),
  ),
});

export interface BoundingBoxAnnotation {
  label: string;
  top: number;
  left: number;
  width: number;
  height: number;
}

export interface ManifestEntry {
  /** 1-based line number in its manifest. */
  line: number;
  bucket: string;
  key: string;
  labels: string[];
  /** Present on object-detection lines: pixel boxes. */
  boxes?: BoundingBoxAnnotation[];
}

export interface InvalidLine {
  line: number;
  reason: string;
}

export interface ParsedManifest {
  type: "classification" | "detection";
  entries: ManifestEntry[];
  invalid: InvalidLine[];
  labels: string[];
  totalLines: number;
}

/** Splits `s3://bucket/key` into its parts, or returns undefined. */
export function parseS3Uri(uri: string): { bucket: string; key: string } | undefined {
  const match = /^s3:\/\/([^/]{3,255})\/(.+)$/.exec(uri);
  return match ? { bucket: match[1] as string, key: match[2] as string } : undefined;
}

type LineResult =
  | { ok: true; entry: Omit<ManifestEntry, "line">; type: ParsedManifest["type"] }
  | { ok: false; reason: string };

function parseLine(text: string): LineResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: "the line is not valid JSON" };
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    return { ok: false, reason: "the line is not a JSON object" };
  }
  const record = json as Record<string, unknown>;
  const sourceRef = record["source-ref"];
  if (typeof sourceRef !== "string") return { ok: false, reason: "source-ref is missing" };
  const location = parseS3Uri(sourceRef);
  if (!location) return { ok: false, reason: `source-ref "${sourceRef}" is not an s3://bucket/key URI` };
  const labels: string[] = [];
  const boxes: BoundingBoxAnnotation[] = [];
  let type: ParsedManifest["type"] | undefined;
  for (const [key, metadata] of Object.entries(record)) {
    if (!key.endsWith("-metadata")) continue;
    const attribute = key.slice(0, -"-metadata".length);
    const kind = (metadata as { type?: unknown } | null)?.type;
    if (kind === CLASSIFICATION_TYPE) {
      const meta = ClassificationMetadata.safeParse(metadata);
      if (!meta.success)
        return { ok: false, reason: `${key}: ${meta.error.issues[0]?.message ?? "invalid"}` };
      if (!Number.isInteger(record[attribute]))
        return { ok: false, reason: `${attribute} must be an integer` };
      labels.push(meta.data["class-name"]);
      type = type ?? "classification";
    } else if (kind === DETECTION_TYPE) {
      const meta = DetectionMetadata.safeParse(metadata);
      if (!meta.success)
        return { ok: false, reason: `${key}: ${meta.error.issues[0]?.message ?? "invalid"}` };
      const value = DetectionValue.safeParse(record[attribute]);
      if (!value.success)
        return { ok: false, reason: `${attribute}: ${value.error.issues[0]?.message ?? "invalid"}` };
      if (value.data.annotations.length !== meta.data.objects.length) {
        return { ok: false, reason: `${key}.objects must align with ${attribute}.annotations` };
      }
      for (const a of value.data.annotations) {
        const label = meta.data["class-map"][String(a.class_id)];
        if (!label) return { ok: false, reason: `class_id ${a.class_id} is not in ${key}.class-map` };
        labels.push(label);
        boxes.push({ label, top: a.top, left: a.left, width: a.width, height: a.height });
      }
      type = type ?? "detection";
    }
    const known = kind === CLASSIFICATION_TYPE || kind === DETECTION_TYPE;
    if (type && known && kind !== (type === "classification" ? CLASSIFICATION_TYPE : DETECTION_TYPE)) {
      return { ok: false, reason: "the line mixes classification and object-detection labels" };
    }
  }
  if (!type) return { ok: false, reason: "the line has no label attribute with a -metadata sibling" };
  if (new Set(labels).size > 50) return { ok: false, reason: "an image may carry at most 50 labels" };
  const entry = { bucket: location.bucket, key: location.key, labels: [...new Set(labels)] };
  return { ok: true, type, entry: type === "detection" ? { ...entry, boxes } : entry };
}

/**
 * Parses and validates a manifest. Bad lines are collected (Custom Labels skips them); problems that
 * make the whole manifest unusable throw ManifestValidationError.
 */
export function parseManifest(text: string): ParsedManifest {
  const lines = text.split(/\r?\n/);
  const entries: ManifestEntry[] = [];
  const invalid: InvalidLine[] = [];
  const types = new Set<ParsedManifest["type"]>();
  let totalLines = 0;
  lines.forEach((raw, index) => {
    if (raw.trim() === "") return;
    totalLines++;
    const result = parseLine(raw);
    if (result.ok) {
      entries.push({ line: index + 1, ...result.entry });
      types.add(result.type);
    } else {
      invalid.push({ line: index + 1, reason: result.reason });
    }
  });
  if (totalLines === 0) throw new ManifestValidationError("The manifest is empty");
  if (totalLines > MAX_LINES)
    throw new ManifestValidationError(`The manifest has more than ${MAX_LINES} lines`);
  if (invalid.length / totalLines > MAX_INVALID_SHARE) {
    const first = invalid[0];
    throw new ManifestValidationError(
      `${invalid.length} of ${totalLines} manifest lines are invalid (more than 20 %); line ${first?.line}: ${first?.reason}`,
    );
  }
  if (types.size > 1) {
    throw new ManifestValidationError("The manifest mixes image-classification and object-detection lines");
  }
  const buckets = new Set(entries.map((e) => e.bucket));
  if (buckets.size > 1) {
    throw new ManifestValidationError(
      `All images must be in the same S3 bucket; found ${[...buckets].sort().join(", ")}`,
    );
  }
  const type = types.has("detection") ? "detection" : "classification";
  const labels = [...new Set(entries.flatMap((e) => e.labels))].sort();
  if (labels.length > MAX_LABELS)
    throw new ManifestValidationError(`The manifest has more than ${MAX_LABELS} labels`);
  if (type === "classification" && labels.length < 2) {
    throw new ManifestValidationError(
      `A classification manifest needs at least 2 labels; found ${labels.length === 0 ? "none" : labels.join(", ")}`,
    );
  }
  if (type === "detection" && labels.length < 1) {
    throw new ManifestValidationError("An object-detection manifest needs at least 1 label");
  }
  return { type, entries, invalid, labels, totalLines };
}

/** One classification line in the exact shape Custom Labels reads (used for snapshots and tests). */
export function classificationLine(input: {
  bucket: string;
  key: string;
  label: string;
  creationDate: string;
  attribute?: string;
  jobName?: string;
}): string {
  const attribute = input.attribute ?? "class";
  return JSON.stringify({
    "source-ref": `s3://${input.bucket}/${input.key}`,
    [attribute]: 1,
    [`${attribute}-metadata`]: {
      confidence: 1,
      "class-name": input.label,
      "human-annotated": "yes",
      "creation-date": input.creationDate,
      type: CLASSIFICATION_TYPE,
      ...(input.jobName ? { "job-name": input.jobName } : {}),
    },
  });
}
