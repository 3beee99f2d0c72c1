/**
 * `secondlook run <folder|manifest>`: uploads the images under a fresh run folder in
 * images_for_detection/ (each upload starts review-image through the S3 rule), follows the
 * executions with a progress bar, and sums them up.
 *
 * A manifest runs item by item: each image it names is uploaded (a local file) or copied (an
 * s3:// item) like a folder's, so each gets its own review-image execution. The CLI does not drive
 * review-batch (one Distributed Map per manifest under manifests/) yet.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { CopyObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { Prefixes } from "@secondlook/core/blueprint";
import { ManifestError } from "./errors";
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
  /** How a manifest ran: item by item (the CLI does not drive review-batch yet). */
  manifestMode: "item-by-item" | null;
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

/** Uploads `input`'s images, follows their executions, and returns the summary. */
export async function runImages(target: Target, input: RunInput, options: RunOptions): Promise<RunSummary> {
  const now = options.now ?? (() => new Date());
  await checkS3Sources(target, input.items);

  const startedAt = now();
  const runId = newRunId(startedAt);
  const prefix = `${Prefixes.detection}${runId}/`;
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

  const tracker = createTracker(target, images, startedAt);
  const deadline = startedAt.getTime() + options.timeoutSeconds * 1000;
  options.progress.phase("Following", images.length);
  let timedOut = false;
  for (;;) {
    await tracker.poll();
    const counts = tracker.counts();
    const done = tracker
      .images()
      .filter(
        (image) =>
          TERMINAL_STATES.includes(image.state) || (!options.wait && image.state === "waiting-for-review"),
      ).length;
    options.progress.update(done, counts);
    if (tracker.settled(options.wait)) break;
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
    manifestMode: input.kind === "manifest" ? "item-by-item" : null,
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

/** The final summary for people: what ran where, counts by outcome, and the images. */
export function formatRunSummary(summary: RunSummary): string {
  const lines = [
    "",
    `Run ${summary.runId} on stage ${summary.stage}${summary.endpoint ? ` (${summary.endpoint})` : ""}`,
    `  ${summary.counts.total} image(s) from ${summary.input.path}, uploaded under ${summary.prefix}`,
  ];
  if (summary.manifestMode === "item-by-item") {
    lines.push(
      "  The manifest ran item by item: one review-image execution per image (not through review-batch).",
    );
  }
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
