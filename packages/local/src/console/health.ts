/**
 * The loop's health over time, computed from the outcome records under `outcomes/` (streamed, one
 * record at a time) and drawn as SVG charts: images per hour, the share that needed a human, and
 * how often the model's label was right when a sampled audit asked a human anyway.
 */
import { NONE_OF_THE_ABOVE, Prefixes } from "@secondlook/core/blueprint";
import { Outcome } from "@secondlook/core/outcome";
import type { z } from "zod";
import type { LocalObjects } from "../contracts";
import { html, type SafeHtml } from "../portal/html";

/** What an audit needs from a loop's output.json: why a human was asked and what the model said. */
export interface LoopInput {
  reason: string;
  detectedLabel: string | null;
}

export interface Bucket {
  /** Start of the time bucket (epoch ms) or the model version ARN. */
  key: string;
  images: number;
  humanReviewed: number;
  audits: number;
  auditsCorrect: number;
  failed: number;
}

export interface Health {
  /** Consecutive time buckets of `bucketMs`, empty ones included. */
  overTime: Bucket[];
  bucketMs: number;
  byModel: Bucket[];
  total: Bucket;
  unreadable: number;
}

/** Outcome records as stored; those written before audits were recorded have no `audit`. */
export const StoredOutcomeSchema = Outcome.schema.partial({ audit: true });
export type StoredOutcome = z.infer<typeof StoredOutcomeSchema>;

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
// The coarsest step that still leaves enough points to see a trend: a short demo run is charted
// per minute, weeks of use per hour or per day.
const BUCKET_SIZES_MS = [MINUTE_MS, 5 * MINUTE_MS, 15 * MINUTE_MS, HOUR_MS, 6 * HOUR_MS, 24 * HOUR_MS];
const MAX_BUCKETS = 60;
const MIN_BUCKETS = 30;

/** "per minute", "per 5 minutes", "per hour", … */
export function bucketName(bucketMs: number): string {
  if (bucketMs === MINUTE_MS) return "per minute";
  if (bucketMs < HOUR_MS) return `per ${bucketMs / MINUTE_MS} minutes`;
  if (bucketMs === HOUR_MS) return "per hour";
  if (bucketMs < 24 * HOUR_MS) return `per ${bucketMs / HOUR_MS} hours`;
  return "per day";
}

const empty = (key: string): Bucket => ({
  key,
  images: 0,
  humanReviewed: 0,
  audits: 0,
  auditsCorrect: 0,
  failed: 0,
});

function add(bucket: Bucket, record: StoredOutcome, audit: { correct: boolean } | undefined) {
  bucket.images += 1;
  if (record.loopName) bucket.humanReviewed += 1;
  if (record.outcome === "failed") bucket.failed += 1;
  if (audit) {
    bucket.audits += 1;
    if (audit.correct) bucket.auditsCorrect += 1;
  }
}

/**
 * Streams `outcomes/` and aggregates per hour and per model version. An audit is a review asked
 * for by human sampling; it is correct when the humans' label is the model's. Records carry their
 * audit; for older ones without it, `loopInput` reads the loop's input (why, and the model's label).
 */
export async function computeHealth(
  objects: LocalObjects,
  bucketName: string,
  loopInput: (loopName: string) => Promise<LoopInput | undefined>,
  /** When given, the time axis runs up to now and shows at least MIN_BUCKETS buckets. */
  now?: Date,
): Promise<Health> {
  // Per minute while streaming (one small entry per active minute), rolled up at the end.
  const byMinute = new Map<number, Bucket>();
  const byModel = new Map<string, Bucket>();
  const total = empty("all");
  let unreadable = 0;
  for await (const object of objects.list(bucketName, Prefixes.outcomes)) {
    let record: StoredOutcome;
    try {
      record = StoredOutcomeSchema.parse(
        JSON.parse((await objects.get(bucketName, object.key)).toString("utf8")),
      );
    } catch {
      unreadable += 1;
      continue;
    }
    let audit: { correct: boolean } | undefined;
    if (record.audit !== undefined) {
      audit = record.audit ? { correct: record.audit.verdict === "agreement" } : undefined;
    } else if (record.loopName && (record.outcome === "human-labeled" || record.outcome === "skipped")) {
      const input = await loopInput(record.loopName);
      if (input?.reason === "sampling") {
        const humans = record.outcome === "skipped" ? NONE_OF_THE_ABOVE : record.label;
        audit = { correct: humans !== null && humans === input.detectedLabel };
      }
    }
    const at = Date.parse(record.recordedAt);
    const minute = Math.floor((Number.isFinite(at) ? at : 0) / MINUTE_MS) * MINUTE_MS;
    const minuteBucket = byMinute.get(minute) ?? empty(String(minute));
    byMinute.set(minute, minuteBucket);
    const model = record.modelVersionArn ?? "(no model)";
    const modelBucket = byModel.get(model) ?? empty(model);
    byModel.set(model, modelBucket);
    for (const b of [minuteBucket, modelBucket, total]) add(b, record, audit);
  }
  const minutes = [...byMinute.keys()].sort((a, b) => a - b);
  const last = Math.max(minutes.at(-1) ?? 0, now ? Math.floor(now.getTime() / MINUTE_MS) * MINUTE_MS : 0);
  const earliest = minutes[0] ?? last;
  const bucketMs =
    BUCKET_SIZES_MS.find((size) => (last - earliest) / size < MAX_BUCKETS) ??
    (BUCKET_SIZES_MS.at(-1) as number);
  // A quiet stretch before the first image is shown as such, so one busy minute is not the whole chart.
  const first = now ? Math.min(earliest, last - (MIN_BUCKETS - 1) * bucketMs) : earliest;
  const rolled = new Map<number, Bucket>();
  for (const [minute, b] of byMinute) {
    const start = Math.floor(minute / bucketMs) * bucketMs;
    const into = rolled.get(start) ?? empty(String(start));
    rolled.set(start, into);
    into.images += b.images;
    into.humanReviewed += b.humanReviewed;
    into.audits += b.audits;
    into.auditsCorrect += b.auditsCorrect;
    into.failed += b.failed;
  }
  // Buckets with no images are real zeros on a time axis, not gaps to skip.
  const overTime: Bucket[] = [];
  if (minutes.length > 0) {
    const end = Math.floor(last / bucketMs) * bucketMs;
    for (let t = Math.floor(first / bucketMs) * bucketMs; t <= end; t += bucketMs)
      overTime.push(rolled.get(t) ?? empty(String(t)));
  }
  return { overTime, bucketMs, byModel: [...byModel.values()], total, unreadable };
}

export const percent = (part: number, whole: number): number | undefined =>
  whole === 0 ? undefined : (100 * part) / whole;

const W = 560;
const H = 200;
const PAD = { left: 44, right: 12, top: 14, bottom: 34 };

/** A bucket's start as HH:MM (UTC), with the date at midnight. */
function timeLabel(key: string): string {
  const iso = new Date(Number(key)).toISOString();
  const time = iso.slice(11, 16);
  return time === "00:00" ? iso.slice(5, 10) : time;
}

/** A bar chart (counts) or a line chart (percentages, gaps where there is no data) over time. */
export function chart(
  title: string,
  buckets: Bucket[],
  value: (b: Bucket) => number | undefined,
  options: { kind: "bar" | "line"; max?: number; unit?: string; className: string },
): SafeHtml {
  const values = buckets.map(value);
  const max = options.max ?? Math.max(1, ...values.map((v) => v ?? 0));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const step = buckets.length === 0 ? plotW : plotW / buckets.length;
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  const x = (i: number) => PAD.left + step * i + step / 2;
  const ticks = [0, 0.5, 1].map((t) => {
    const v = max * t;
    return html`<g class="tick"><line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v)}" y2="${y(v)}"/><text x="${PAD.left - 6}" y="${y(v) + 4}">${Math.round(v)}${options.unit ?? ""}</text></g>`;
  });
  const labelEvery = Math.max(1, Math.ceil(buckets.length / 8));
  const xLabels = buckets.map((b, i) =>
    i % labelEvery === 0
      ? html`<text class="x" x="${x(i)}" y="${H - PAD.bottom + 16}">${timeLabel(b.key)}</text>`
      : html``,
  );
  let marks: SafeHtml[];
  if (options.kind === "bar") {
    marks = values.map((v, i) => {
      const barW = Math.max(2, step * 0.7);
      const top = y(v ?? 0);
      return html`<rect class="bar" x="${x(i) - barW / 2}" y="${top}" width="${barW}" height="${PAD.top + plotH - top}"><title>${timeLabel(buckets[i]?.key ?? "0")}: ${v ?? 0}</title></rect>`;
    });
  } else {
    const segments: string[][] = [[]];
    values.forEach((v, i) => {
      if (v === undefined) segments.push([]);
      else segments.at(-1)?.push(`${x(i)},${y(v)}`);
    });
    marks = [
      ...segments
        .filter((s) => s.length > 1)
        .map((s) => html`<polyline class="line" points="${s.join(" ")}"/>`),
      ...values.map((v, i) =>
        v === undefined
          ? html``
          : html`<circle class="dot" cx="${x(i)}" cy="${y(v)}" r="3.5"><title>${timeLabel(buckets[i]?.key ?? "0")}: ${v.toFixed(1)}${options.unit ?? ""}</title></circle>`,
      ),
    ];
  }
  const emptyNote = values.every((v) => v === undefined)
    ? html`<text class="empty" x="${W / 2}" y="${H / 2}">no data yet</text>`
    : html``;
  return html`<figure class="chart ${options.className}"><figcaption>${title}</figcaption>
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="${title}">${ticks}${marks}${xLabels}${emptyNote}</svg></figure>`;
}
