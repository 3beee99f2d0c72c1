/**
 * `secondlook run <folder|manifest>`: uploads the images under a fresh run folder in
 * images_for_detection/ (each upload starts review-image through the S3 rule), follows the
 * executions with a progress bar, and sums them up.
 *
 * A manifest runs through review-batch: each image it names is staged under batch-inputs/<run id>/
 * (uploaded if a local file, copied if an s3:// item; no rule starts review-image there), then the
 * manifest, rewritten to name the staged copies, goes to manifests/<run id>.jsonl, whose upload
 * starts one review-batch execution. Its map run gives the progress, its review-image children the
 * outcomes.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { CopyObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { Prefixes, StackOutputs, stackName } from "@secondlook/core/blueprint";
import { S3Uri } from "@secondlook/core/events";
import { type BatchStatus, createBatchFollower } from "./batch";
import { ManifestError, UnknownStageError } from "./errors";
import { createTracker, type ImageState, type StateCounts, TERMINAL_STATES } from "./follow";
import type { RunInput, RunItem } from "./inputs";
import { oneDecimal, renderTable } from "./output";
import type { Progress } from "./progress";
import type { Target } from "./target";

export interface RunOptions {
  /** Keep following until every review is answered (otherwise stop once the rest wait for one). */
  wait: boolean;
  /** Give up following after this many seconds. */
  timeoutSeconds: number;
  /** How often to poll the executions. */
  pollMs: number;
  progress: Progress;
  /** When the run starts (injected so tests and the summary agree). */
  now?: () => Date;
}

export interface RunImageSummary {
  image: string;
  key: string;
  state: ImageState;
  label: string | null;
  confidence: number | null;
  executionArn: string | null;
  loopName: string | null;
  answers: string[] | null;
  error: string | null;
}

export interface RunSummary {
  runId: string;
  stage: string;
  endpoint: string | null;
  input: { kind: RunInput["kind"]; path: string; skipped: string[] };
  /** How a manifest ran: as one review-batch execution (a folder's images run one by one). */
  manifestMode: "review-batch" | null;
  /** The review-batch execution and its map run, for a manifest. */
  batch: BatchStatus | null;
  prefix: string;
  startedAt: string;
  finishedAt: string;
  waitedForReviews: boolean;
  timedOut: boolean;
  counts: StateCounts & { total: number };
  images: RunImageSummary[];
}

/** Parallel uploads: enough to keep a connection pool busy without flooding a laptop. */
const UPLOAD_CONCURRENCY = 8;

/** A run id that sorts by time and never repeats, so every run's keys are new. */
function newRunId(now: Date) {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `run-${stamp}-${randomBytes(3).toString("hex")}`;
}

/** S3's CopySource: bucket and URL-encoded key, slashes kept. */
const copySource = (bucket: string, key: string) =>
  `${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;

async function checkS3Sources(target: Target, items: RunItem[]) {
  const missing: string[] = [];
  for (const item of items) {
    if (item.source.kind !== "s3") continue;
    try {
      await target.clients.s3.send(
        new HeadObjectCommand({ Bucket: item.source.bucket, Key: item.source.key }),
      );
    } catch (error) {
      const name = (error as Error).name;
      if (name !== "NotFound" && name !== "NoSuchKey" && name !== "NoSuchBucket") throw error;
      missing.push(item.label);
    }
  }
  if (missing.length > 0) {
    throw new ManifestError(
      `${missing.length} s3:// image(s) in the manifest do not exist: ${missing.slice(0, 5).join("; ")}${missing.length > 5 ? "; …" : ""}`,
    );
  }
}

async function upload(target: Target, item: RunItem, key: string) {
  const { s3 } = target.clients;
  if (item.source.kind === "file") {
    const body = await readFile(item.source.path);
    await s3.send(
      new PutObjectCommand({ Bucket: target.bucket, Key: key, Body: body, ContentType: item.contentType }),
    );
    return;
  }
  await s3.send(
    new CopyObjectCommand({
      Bucket: target.bucket,
      Key: key,
      CopySource: copySource(item.source.bucket, item.source.key),
    }),
  );
}

/** The manifest review-batch reads: JSON Lines naming each staged image by its s3:// URI. */
export function batchManifest(bucket: string, keys: string[]): string {
  return keys.map((key) => `${JSON.stringify({ "source-ref": S3Uri.format({ bucket, key }) })}\n`).join("");
}

/** Uploads `input`'s images, follows their executions, and returns the summary. */
export async function runImages(target: Target, input: RunInput, options: RunOptions): Promise<RunSummary> {
  const now = options.now ?? (() => new Date());
  const batchArn = input.kind === "manifest" ? target.reviewBatchStateMachineArn : undefined;
  if (input.kind === "manifest" && !batchArn) {
    // Checked before any upload, so an old stage is left untouched.
    throw new UnknownStageError(
      `stack ${stackName(target.stage, "Review")} has no output ${StackOutputs.reviewBatchStateMachineArn}: redeploy stage ${target.stage} with this version of secondlook to run manifests`,
    );
  }
  await checkS3Sources(target, input.items);

  const startedAt = now();
  const runId = newRunId(startedAt);
  const prefix = `${batchArn ? Prefixes.batchInputs : Prefixes.detection}${runId}/`;
  const images = input.items.map((item) => ({ label: item.label, key: `${prefix}${item.name}`, item }));

  options.progress.phase("Uploading", images.length);
  let uploaded = 0;
  let next = 0;
  const worker = async () => {
    while (next < images.length) {
      const image = images[next++] as (typeof images)[number];
      await upload(target, image.item, image.key);
      options.progress.update(++uploaded);
    }
  };
  await Promise.all(Array.from({ length: Math.min(UPLOAD_CONCURRENCY, images.length) }, worker));
  options.progress.stop();

  // The images are all in place before the manifest's upload starts the batch that reads them.
  const manifestKey = `${Prefixes.manifests}${runId}.jsonl`;
  if (batchArn) {
    await target.clients.s3.send(
      new PutObjectCommand({
        Bucket: target.bucket,
        Key: manifestKey,
        Body: batchManifest(
          target.bucket,
          images.map((image) => image.key),
        ),
        ContentType: "application/jsonl",
      }),
    );
  }
  const batch = batchArn ? createBatchFollower(target, batchArn, manifestKey, startedAt) : undefined;
  const tracker = createTracker(target, images, startedAt);
  const deadline = startedAt.getTime() + options.timeoutSeconds * 1000;
  options.progress.phase("Following", images.length);
  let timedOut = false;
  for (;;) {
    // The batch first: once it has ended, the poll after it sees every outcome it waited for.
    await batch?.poll();
    await tracker.poll();
    if (batch?.finished()) {
      const { status, error } = batch.status();
      tracker.abandon(error ?? `review-batch ${status} without reviewing this image`);
    }
    const counts = tracker.counts();
    const done = tracker
      .images()
      .filter(
        (image) =>
          TERMINAL_STATES.includes(image.state) || (!options.wait && image.state === "waiting-for-review"),
      ).length;
    options.progress.update(done, counts);
    // A batch whose images are all done still writes its results; it is followed to its end.
    const allDone = tracker.images().every((image) => TERMINAL_STATES.includes(image.state));
    if (tracker.settled(options.wait) && (!batch || batch.finished() || !allDone)) break;
    if (now().getTime() >= deadline) {
      timedOut = true;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs));
  }
  options.progress.stop();

  const counts = tracker.counts();
  return {
    runId,
    stage: target.stage,
    endpoint: target.endpoint ?? null,
    input: { kind: input.kind, path: input.path, skipped: input.skipped },
    manifestMode: batch ? "review-batch" : null,
    batch: batch?.status() ?? null,
    prefix,
    startedAt: startedAt.toISOString(),
    finishedAt: now().toISOString(),
    waitedForReviews: options.wait,
    timedOut,
    counts: { ...counts, total: images.length },
    images: tracker.images().map((image) => ({
      image: image.label,
      key: image.key,
      state: image.state,
      label: image.outcome?.label ?? null,
      confidence: image.outcome?.confidence ?? null,
      executionArn: image.executionArn ?? null,
      loopName: image.outcome?.loopName ?? image.loopName ?? null,
      answers: image.outcome?.answers?.map((answer) => answer.label) ?? null,
      error: image.error ?? null,
    })),
  };
}

/** Whether a run should exit non-zero: an image failed, or following stopped before the end. */
export function runFailed(summary: RunSummary) {
  return summary.counts.failed > 0 || summary.timedOut;
}

/** How the summary names each state. */
export const STATE_TITLES: Record<ImageState, string> = {
  "auto-labeled": "Auto-labeled",
  "human-labeled": "Labeled by reviewers",
  skipped: "Skipped (None of the Above)",
  "no-answer": "No answer",
  "waiting-for-review": "Waiting for review",
  running: "Still running",
  pending: "Not started yet",
  failed: "Failed",
};

/** Per-image rows are listed up to this many; past it only the failed ones (--json has all). */
const MAX_IMAGE_ROWS = 50;

/** The batch's lines of the summary: its execution, how it ended, and its map run's items. */
function describeBatch(batch: BatchStatus): string[] {
  const lines = [`  Manifest ${batch.manifestKey} ran through review-batch`];
  if (!batch.executionArn) {
    lines.push("  review-batch had not started by the time following stopped.");
    return lines;
  }
  lines.push(`  Execution ${batch.executionArn}: ${batch.error ?? batch.status}`);
  const items = batch.itemCounts;
  if (items) {
    lines.push(
      `  Map run items: ${items.succeeded} succeeded, ${items.failed + items.timedOut + items.aborted} failed, ${items.running} running, ${items.pending} pending, of ${items.total}`,
    );
  }
  if (batch.status === "SUCCEEDED") lines.push(`  Results under ${Prefixes.batchResults}`);
  return lines;
}

/** The final summary for people: what ran where, counts by outcome, and the images. */
export function formatRunSummary(summary: RunSummary): string {
  const lines = [
    "",
    `Run ${summary.runId} on stage ${summary.stage}${summary.endpoint ? ` (${summary.endpoint})` : ""}`,
    `  ${summary.counts.total} image(s) from ${summary.input.path}, uploaded under ${summary.prefix}`,
  ];
  if (summary.batch) lines.push(...describeBatch(summary.batch));
  if (summary.input.skipped.length > 0) {
    lines.push(`  Left out ${summary.input.skipped.length} file(s) that are not PNG or JPEG.`);
  }
  lines.push("");
  const order: ImageState[] = [
    "auto-labeled",
    "human-labeled",
    "skipped",
    "no-answer",
    "waiting-for-review",
    "running",
    "pending",
    "failed",
  ];
  lines.push(
    renderTable(
      ["Outcome", "Images"],
      [
        ...order.map((state) => [STATE_TITLES[state], summary.counts[state]]),
        ["Total", summary.counts.total],
      ],
    ),
  );
  const listed =
    summary.images.length <= MAX_IMAGE_ROWS
      ? summary.images
      : summary.images.filter((image) => image.state === "failed");
  if (listed.length > 0) {
    lines.push("");
    lines.push(
      renderTable(
        ["Image", "Outcome", "Label", "Confidence", "Detail"],
        listed.map((image) => [
          image.image,
          STATE_TITLES[image.state],
          image.label,
          oneDecimal(image.confidence),
          image.error ?? image.answers?.join(", ") ?? null,
        ]),
      ),
    );
  }
  if (summary.images.length > listed.length) {
    lines.push(`(${summary.images.length - listed.length} more image(s); --json lists every one)`);
  }
  if (summary.timedOut) {
    lines.push("", "Stopped following at the timeout; the executions go on. `secondlook status` shows them.");
  } else if (!summary.waitedForReviews && summary.counts["waiting-for-review"] > 0) {
    lines.push("", "Answer the waiting reviews in the portal, or run again with --wait to follow them.");
  }
  return lines.join("\n");
}
