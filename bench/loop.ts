/**
 * `npm run bench:loop`: the active-learning loop on the local cloud, round by round, printed and
 * recorded in docs/benchmarks.md (its own section; other sections are kept).
 *
 * Options: --rounds N (default 5), --per-round N (default 60), --error-rate R (default 0),
 * --sampling P (human sampling percent, default 10), --seed N (default 7).
 */
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "@secondlook/local/paths";
import { formatRounds, type RoundResult, runLoopBenchmark } from "../packages/local/src/demo/loop";

const SECTION_START = "<!-- bench:loop:start -->";
const SECTION_END = "<!-- bench:loop:end -->";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    "per-round": { type: "string", default: "60" },
    "error-rate": { type: "string", default: "0" },
    sampling: { type: "string", default: "10" },
    seed: { type: "string", default: "7" },
  },
});

const options = {
  rounds: Number(values.rounds),
  imagesPerRound: Number(values["per-round"]),
  reviewerErrorRate: Number(values["error-rate"]),
  humanSamplingPercent: Number(values.sampling),
  seed: Number(values.seed),
};
for (const [name, value] of Object.entries(options)) {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`--${name} must be a non-negative number`);
}

const percent = (value: number | null) =>
  value === null ? "   –  " : `${(value * 100).toFixed(1).padStart(5)}%`;
console.log(
  `Loop benchmark: ${options.rounds} rounds of ${options.imagesPerRound} images, reviewer error rate ${options.reviewerErrorRate}, sampling ${options.humanSamplingPercent} %`,
);
const rows = await runLoopBenchmark({
  ...options,
  onRound: (row: RoundResult) =>
    console.log(
      `round ${row.round}  model ${row.modelVersion.padEnd(14)} F1 ${row.modelF1?.toFixed(3) ?? "–"}  review ${percent(row.reviewRate)} (late class ${percent(row.lateClassReviewRate)})  auto-label accuracy ${percent(row.autoLabelAccuracy)}  audit ${percent(row.auditEstimate)} (${row.audits})  ${row.imagesPerSecond.toFixed(2)} img/s  then ${row.training ?? "–"}`,
    ),
});

/** The round judged by the model of the n-th retrain (round 1 is the first model's). */
const after = (retrains: number) => rows[retrains];
const goal = (what: string, value: number | null | undefined, ok: (value: number) => boolean) =>
  value === null || value === undefined
    ? `${what}: not measured (too few rounds)`
    : `${what}: ${percent(value).trim()} (${ok(value) ? "met" : "not met"})`;
const lowestAccuracy = Math.min(...rows.map((row) => row.autoLabelAccuracy ?? 1));
const goals = [
  goal("review rate after the first retrain ≤ 30 %", after(1)?.reviewRate, (v) => v <= 0.3),
  goal("review rate after the third retrain ≤ 15 %", after(3)?.reviewRate, (v) => v <= 0.15),
  goal("auto-label accuracy ≥ 95 % (lowest round)", lowestAccuracy, (v) => v >= 0.95),
];
for (const line of goals) console.log(line);
const section = [
  SECTION_START,
  "## Active-learning loop (`npm run bench:loop`)",
  "",
  `Measured ${new Date().toISOString().slice(0, 10)} on the local cloud (Node ${process.version}, ${process.platform}/${process.arch}): ` +
    `${options.rounds} rounds of ${options.imagesPerRound} generated logo images (5 known classes with hard renderings; ` +
    "a sixth class appears from round 2 on), one simulated reviewer answering through the portal's HTTP interface " +
    `(error rate ${options.reviewerErrorRate}), human sampling ${options.humanSamplingPercent} %, and the real train-model ` +
    "workflow between rounds. A round is judged by the model that was active when it started. " +
    "The human review rate counts every image a reviewer saw, including the confident images human sampling " +
    `picked for audit (about ${options.humanSamplingPercent} % of them), so that share is its floor.`,
  "",
  formatRounds(rows),
  "",
  `Goals: ${goals.join("; ")}.`,
  SECTION_END,
].join("\n");

const docs = join(REPO_ROOT, "docs", "benchmarks.md");
const existing = existsSync(docs) ? await readFile(docs, "utf8") : "# Benchmarks\n";
const start = existing.indexOf(SECTION_START);
const end = existing.indexOf(SECTION_END);
const updated =
  start >= 0 && end > start
    ? `${existing.slice(0, start)}${section}${existing.slice(end + SECTION_END.length)}`
    : `${existing.trimEnd()}\n\n${section}\n`;
await writeFile(docs, updated);
console.log(`Recorded in ${docs}`);
