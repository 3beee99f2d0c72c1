/**
 * Ground Truth image-classification manifests, the format Custom Labels trains from
 * (aws-contracts.md §6.3). Built from the `images_labeled_by_folder/<label>/` layout.
 */
import { z } from "zod";
import { Prefixes } from "./blueprint";

/** The label attribute every line uses; its value is ignored by Custom Labels. */
export const LABEL_ATTRIBUTE = "secondlook-label";

export const ClassificationLine = z.object({
  "source-ref": z.string().regex(/^s3:\/\/[^/]+\/.+/),
  [LABEL_ATTRIBUTE]: z.number().int(),
  [`${LABEL_ATTRIBUTE}-metadata`]: z.object({
    confidence: z.number().min(0).max(1),
    "job-name": z.string().optional(),
    "class-name": z.string().min(1),
    "human-annotated": z.enum(["yes", "no"]),
    "creation-date": z.string(),
    type: z.literal("groundtruth/image-classification"),
  }),
});
export type ClassificationLine = z.infer<typeof ClassificationLine>;

export class InvalidManifestError extends Error {
  override name = "InvalidManifestError";
}

/** The label of a key under `images_labeled_by_folder/<label>/…`, or undefined for any other key. */
export function labelOfKey(key: string): string | undefined {
  if (!key.startsWith(Prefixes.labeled)) return undefined;
  const rest = key.slice(Prefixes.labeled.length);
  const slash = rest.indexOf("/");
  // Only direct children of a label folder count, as with Custom Labels' "labels by folder" import.
  if (slash <= 0 || slash === rest.length - 1 || rest.indexOf("/", slash + 1) !== -1) return undefined;
  return rest.slice(0, slash);
}

/** One manifest line for an image in a labeled folder. */
export function classificationLine(input: {
  bucket: string;
  key: string;
  label: string;
  createdAt: Date;
  humanAnnotated: boolean;
  jobName?: string;
}): ClassificationLine {
  return {
    "source-ref": `s3://${input.bucket}/${input.key}`,
    [LABEL_ATTRIBUTE]: 1,
    [`${LABEL_ATTRIBUTE}-metadata`]: {
      confidence: 1,
      ...(input.jobName ? { "job-name": input.jobName } : {}),
      "class-name": input.label,
      "human-annotated": input.humanAnnotated ? "yes" : "no",
      "creation-date": input.createdAt.toISOString().replace(/Z$/, ""),
      type: "groundtruth/image-classification",
    },
  } as ClassificationLine;
}

/**
 * Accumulates manifest lines and enforces Custom Labels' dataset rules as it goes: one bucket,
 * at least two labels for classification. Lines are produced one at a time so a large labeled
 * folder streams into the manifest without being held in memory.
 */
export function createManifestBuilder(bucket: string) {
  const counts = new Map<string, number>();
  return {
    /** Returns the JSON line for a labeled key, or undefined when the key is not a labeled image. */
    add(key: string, createdAt: Date, humanAnnotated = true): string | undefined {
      const label = labelOfKey(key);
      if (label === undefined) return undefined;
      counts.set(label, (counts.get(label) ?? 0) + 1);
      return JSON.stringify(classificationLine({ bucket, key, label, createdAt, humanAnnotated }));
    },
    /** Label → image count; throws when the data set cannot train a classification model. */
    finish(): Map<string, number> {
      if (counts.size < 2) {
        throw new InvalidManifestError(
          `A classification model needs images of at least 2 labels; found ${counts.size}.`,
        );
      }
      return new Map(counts);
    },
  };
}

/** Parses and validates a manifest's JSON Lines text; reports the first bad line by number. */
export function parseClassificationManifest(text: string): ClassificationLine[] {
  const lines: ClassificationLine[] = [];
  let bucket: string | undefined;
  text.split("\n").forEach((raw, index) => {
    if (raw.trim() === "") return;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      throw new InvalidManifestError(`Line ${index + 1} is not valid JSON.`);
    }
    const parsed = ClassificationLine.safeParse(json);
    if (!parsed.success) {
      throw new InvalidManifestError(
        `Line ${index + 1} is not a classification line: ${parsed.error.message}`,
      );
    }
    const lineBucket = parsed.data["source-ref"].slice(5).split("/")[0];
    if (bucket !== undefined && lineBucket !== bucket) {
      throw new InvalidManifestError(
        `Line ${index + 1} uses bucket ${lineBucket}; all images must be in ${bucket}.`,
      );
    }
    bucket = lineBucket;
    lines.push(parsed.data);
  });
  return lines;
}
