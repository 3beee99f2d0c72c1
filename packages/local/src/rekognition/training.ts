/**
 * One Custom Labels training job, locally: read the Ground Truth manifests from the local S3,
 * fetch and decode the images, train the embedded detector, and write what Custom Labels writes
 * under the version's OutputConfig (the evaluation summary file and the manifest snapshots), plus
 * the model artifact.
 */
import { createHash } from "node:crypto";
import type { LocalObjects } from "../contracts";
import { decodeImage, decodeRegion } from "./decode";
import {
  type DetectorModel,
  type Evaluation,
  type LabeledPixels,
  splitStratified,
  TrainingDataError,
  train,
} from "./detector";
import type { Pixels } from "./features";
import { type ManifestEntry, ManifestValidationError, type ParsedManifest, parseManifest } from "./manifest";

/** Training could not produce a model; the message becomes the version's StatusMessage. */
export class TrainingFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TrainingFailedError";
  }
}

export interface S3Location {
  Bucket: string;
  Name: string;
}

export interface TrainingJob {
  projectName: string;
  versionName: string;
  versionArn: string;
  trainingManifests: S3Location[];
  /** Explicit test manifests; when absent, a test set is split off the training images. */
  testingManifests?: S3Location[];
  output: { S3Bucket: string; S3KeyPrefix?: string };
  /** Images labeled "None of the Above" (used as rejection examples). */
  negativeLabel?: string;
  /**
   * A key prefix, in the bucket of the training images, whose images are more rejection examples
   * (the reviewers' "None of the Above" answers). Read here, not from the manifest, so that the
   * manifest stays a valid Custom Labels one on AWS. Requires negativeLabel; classification only.
   */
  negativeExamplesPrefix?: string;
  seed: number;
  now: () => Date;
}

export interface TrainingOutcome {
  model: DetectorModel;
  evaluation: Evaluation;
  outputs: {
    trainingManifest: S3Location;
    testingManifest: S3Location;
    manifestSummary: S3Location;
    summary: S3Location;
    model: S3Location;
  };
}

const FETCH_CONCURRENCY = 8;
/** Custom Labels' automatic split holds out 20 % of the training images for testing. */
const AUTO_TEST_FRACTION = 0.2;

async function readManifest(objects: LocalObjects, location: S3Location): Promise<ParsedManifest> {
  let body: Buffer;
  try {
    body = await objects.get(location.Bucket, location.Name);
  } catch {
    throw new TrainingFailedError(`The manifest s3://${location.Bucket}/${location.Name} could not be read`);
  }
  try {
    return parseManifest(body.toString("utf8"));
  } catch (error) {
    if (error instanceof ManifestValidationError) {
      throw new TrainingFailedError(`s3://${location.Bucket}/${location.Name}: ${error.message}`);
    }
    throw error;
  }
}

/** A digest of decoded pixels: identical images sort together whatever their key. */
function contentDigest(pixels: Pixels): string {
  return createHash("sha256").update(pixels.data).digest("hex");
}

interface Loaded {
  entry: ManifestEntry;
  /** The example's label: the image's class, or one annotated box's class for detection. */
  label: string;
  pixels?: Pixels;
  error?: string;
}

/**
 * Fetches and decodes the manifest's images: one example per image for classification, one per
 * annotated box (a crop) for object detection.
 */
async function loadImages(
  objects: LocalObjects,
  entries: ManifestEntry[],
  task: ParsedManifest["type"],
): Promise<Loaded[]> {
  const results: Loaded[][] = new Array(entries.length);
  let next = 0;
  const worker = async () => {
    while (next < entries.length) {
      const index = next++;
      const entry = entries[index] as ManifestEntry;
      try {
        const body = await objects.get(entry.bucket, entry.key);
        const whole = await decodeImage(body);
        results[index] =
          task === "classification"
            ? [{ entry, label: entry.labels[0] as string, pixels: whole }]
            : await Promise.all(
                (entry.boxes ?? []).map(async (box) => ({
                  entry,
                  label: box.label,
                  pixels: await decodeRegion(body, box),
                })),
              );
      } catch (error) {
        const reason =
          error instanceof Error && error.name !== "Error" ? error.message : "the image could not be read";
        results[index] = [{ entry, label: entry.labels[0] ?? "", error: reason }];
      }
    }
  };
  await Promise.all(Array.from({ length: FETCH_CONCURRENCY }, worker));
  return results.flat();
}

function prefixOf(output: TrainingJob["output"]) {
  return output.S3KeyPrefix ?? "";
}

/** The Custom Labels summary file (`EvaluationResult.Summary`) for an evaluation. */
export function summaryFile(evaluation: Evaluation, versionArn: string, endedAt: Date) {
  const rowTotals = new Map<string, number>();
  for (const c of evaluation.confusion)
    rowTotals.set(c.groundTruth, (rowTotals.get(c.groundTruth) ?? 0) + c.count);
  return {
    Version: 1,
    AggregatedEvaluationResults: {
      ConfusionMatrix: evaluation.confusion.map((c) => ({
        GroundTruthLabel: c.groundTruth,
        PredictedLabel: c.predicted,
        Value: c.count / (rowTotals.get(c.groundTruth) ?? 1),
      })),
      F1Score: evaluation.f1,
      Precision: evaluation.precision,
      Recall: evaluation.recall,
    },
    EvaluationDetails: {
      // Custom Labels writes this without a zone designator; it is UTC.
      EvaluationEndTimestamp: endedAt.toISOString().replace("Z", ""),
      Labels: evaluation.labels.map((l) => l.label),
      NumberOfTestingImages: evaluation.testingImages,
      NumberOfTrainingImages: evaluation.trainingImages,
      ProjectVersionArn: versionArn,
    },
    LabelEvaluationResults: evaluation.labels.map((l) => ({
      Label: l.label,
      Metrics: { F1Score: l.f1, Precision: l.precision, Recall: l.recall, Threshold: l.threshold },
      NumberOfTestingImages: l.testImages,
    })),
  };
}

/**
 * The images under the job's negatives prefix as "None of the Above" entries, in the bucket the
 * training images are in, leaving out any key the manifest already lists so none counts twice.
 */
async function negativeExampleEntries(
  objects: LocalObjects,
  job: TrainingJob,
  task: ParsedManifest["type"],
  trainEntries: ManifestEntry[],
): Promise<ManifestEntry[]> {
  const { negativeLabel, negativeExamplesPrefix } = job;
  const bucket = trainEntries[0]?.bucket ?? job.trainingManifests[0]?.Bucket;
  if (task !== "classification" || !negativeLabel || !negativeExamplesPrefix || !bucket) return [];
  const listed = new Set(trainEntries.map((e) => `${e.bucket}/${e.key}`));
  const entries: ManifestEntry[] = [];
  for await (const object of objects.list(bucket, negativeExamplesPrefix)) {
    if (object.key.endsWith("/") || listed.has(`${bucket}/${object.key}`)) continue;
    entries.push({ line: 0, bucket, key: object.key, labels: [negativeLabel] });
  }
  return entries;
}

/** Runs the whole job; throws TrainingFailedError with a user-facing message when it cannot. */
export async function runTraining(objects: LocalObjects, job: TrainingJob): Promise<TrainingOutcome> {
  const trainingManifests = await Promise.all(job.trainingManifests.map((m) => readManifest(objects, m)));
  const testingManifests = job.testingManifests
    ? await Promise.all(job.testingManifests.map((m) => readManifest(objects, m)))
    : undefined;
  const types = new Set([...trainingManifests, ...(testingManifests ?? [])].map((m) => m.type));
  if (types.size > 1) {
    throw new TrainingFailedError(
      "The training and testing manifests mix image classification and object detection",
    );
  }
  const task: ParsedManifest["type"] = types.has("detection") ? "detection" : "classification";
  const invalidLines = [...trainingManifests, ...(testingManifests ?? [])].flatMap((m) => m.invalid);
  const negativeLabel = job.negativeLabel;
  const single = (entries: ManifestEntry[]) =>
    entries.filter(
      (e) =>
        task === "detection" ||
        e.labels.length === 1 ||
        (negativeLabel !== undefined && e.labels.includes(negativeLabel)),
    );
  const trainEntries = trainingManifests.flatMap((m) => m.entries);
  const testEntries = testingManifests?.flatMap((m) => m.entries);
  // Multi-label lines cannot teach a single-label classifier; they are reported, not silently used.
  const skippedMultiLabel = [...trainEntries, ...(testEntries ?? [])].filter(
    (e) =>
      task === "classification" &&
      e.labels.length > 1 &&
      !(negativeLabel && e.labels.includes(negativeLabel)),
  );

  const folderNegatives = await negativeExampleEntries(objects, job, task, trainEntries);
  const loadedTrain = await loadImages(objects, single(trainEntries), task);
  const loadedTest = testEntries ? await loadImages(objects, single(testEntries), task) : [];
  const unreadable = [...loadedTrain, ...loadedTest].filter((l) => l.error);
  const total = trainEntries.length + (testEntries?.length ?? 0);
  if (total > 0 && (unreadable.length + invalidLines.length) / (total + invalidLines.length) > 0.2) {
    const first = unreadable[0];
    throw new TrainingFailedError(
      `More than 20 % of the images are unusable; s3://${first?.entry.bucket}/${first?.entry.key}: ${first?.error}`,
    );
  }
  // Ordered by content, not by manifest line: keys carry execution names that differ run to run,
  // and the same images must give the same split and the same model.
  const usable = (list: Loaded[]) =>
    list
      .filter((l): l is Loaded & { pixels: Pixels } => l.pixels !== undefined)
      .map((l) => ({ l, digest: `${l.label}\u0000${contentDigest(l.pixels)}` }))
      .sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0))
      .map(({ l }) => l);
  const isNegative = (l: Loaded) => negativeLabel !== undefined && l.label === negativeLabel;
  const toLabeled = (l: Loaded & { pixels: Pixels }): LabeledPixels => ({ label: l.label, pixels: l.pixels });
  // An unreadable object under the negatives prefix is not a manifest line, so it is left out
  // rather than counted against the 20 % of unusable images that fails a training.
  const loadedFolderNegatives = await loadImages(objects, folderNegatives, task);
  const negatives = usable([...loadedTrain, ...loadedFolderNegatives]).filter(isNegative);
  // Splitting here rather than inside train() lets the snapshots say which image went where.
  const split = testEntries
    ? {
        train: usable(loadedTrain).filter((l) => !isNegative(l)),
        test: usable(loadedTest).filter((l) => !isNegative(l)),
      }
    : splitStratified(
        usable(loadedTrain).filter((l) => !isNegative(l)),
        AUTO_TEST_FRACTION,
        job.seed,
      );

  let trained: { model: DetectorModel; evaluation: Evaluation };
  try {
    trained = train({
      images: split.train.map(toLabeled),
      negatives: negatives.map((n) => n.pixels),
      testImages: split.test.map(toLabeled),
      seed: job.seed,
      task,
    });
  } catch (error) {
    if (error instanceof TrainingDataError) throw new TrainingFailedError(error.message);
    throw error;
  }

  const prefix = prefixOf(job.output);
  const bucket = job.output.S3Bucket;
  const folder = `${prefix}${job.projectName}/${job.versionName}/`;
  const key = {
    trainingManifest: `${folder}training.manifest`,
    testingManifest: `${folder}testing.manifest`,
    manifestSummary: `${folder}manifest_summary.json`,
    model: `${folder}model.json`,
    summary: `${prefix}EvaluationResultSummary-${job.projectName}-${job.versionName}.json`,
  };
  const endedAt = job.now();
  const snapshotLine = (l: Loaded) =>
    JSON.stringify({ "source-ref": `s3://${l.entry.bucket}/${l.entry.key}`, label: l.label });
  const write = (k: string, body: string, type: string) => objects.put(bucket, k, Buffer.from(body), type);
  await write(
    key.trainingManifest,
    [...split.train, ...negatives].map(snapshotLine).join("\n"),
    "application/x-ndjson",
  );
  await write(key.testingManifest, split.test.map(snapshotLine).join("\n"), "application/x-ndjson");
  await write(
    key.manifestSummary,
    JSON.stringify({
      version: 1,
      statistics: {
        total_json_lines: total + invalidLines.length,
        valid_json_lines: total - unreadable.length - skippedMultiLabel.length,
        invalid_json_lines: invalidLines.length + unreadable.length,
        ignored_json_lines: skippedMultiLabel.length,
      },
      errors: [
        ...invalidLines.map((l) => ({ code: "ERROR_INVALID_JSON_LINE", line: l.line, message: l.reason })),
        ...unreadable.map((l) => ({ code: "ERROR_INVALID_IMAGE", line: l.entry.line, message: l.error })),
        ...skippedMultiLabel.map((e) => ({
          code: "ERROR_TOO_MANY_LABELS",
          line: e.line,
          message: "multi-label image",
        })),
      ],
    }),
    "application/json",
  );
  await write(key.model, JSON.stringify(trained.model), "application/json");
  await write(
    key.summary,
    JSON.stringify(summaryFile(trained.evaluation, job.versionArn, endedAt)),
    "application/json",
  );
  const at = (Name: string): S3Location => ({ Bucket: bucket, Name });
  return {
    ...trained,
    outputs: {
      trainingManifest: at(key.trainingManifest),
      testingManifest: at(key.testingManifest),
      manifestSummary: at(key.manifestSummary),
      summary: at(key.summary),
      model: at(key.model),
    },
  };
}

/** Trains straight from encoded PNG/JPEG bytes (decoding each with sharp), for callers without a manifest. */
export async function trainFromImages(input: {
  images: { label: string; body: Uint8Array }[];
  negatives?: Uint8Array[];
  testFraction?: number;
  seed: number;
}): Promise<{ model: DetectorModel; evaluation: Evaluation }> {
  const images = await Promise.all(
    input.images.map(async (i) => ({ label: i.label, pixels: await decodeImage(i.body) })),
  );
  const negatives = await Promise.all((input.negatives ?? []).map((n) => decodeImage(n)));
  return train({
    images,
    negatives,
    testFraction: input.testFraction ?? AUTO_TEST_FRACTION,
    seed: input.seed,
  });
}
