/**
 * The active-learning loop, measured: a generated image stream with known ground truth goes through
 * the local cloud round by round; a simulated reviewer answers every task through the portal; the
 * real train-model workflow retrains between rounds. Used by `npm run bench:loop` and its CI test.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DescribeProjectVersionsCommand } from "@aws-sdk/client-rekognition";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { DescribeExecutionCommand, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { GetParameterCommand } from "@aws-sdk/client-ssm";
import { Prefixes } from "@secondlook/core/blueprint";
import { type OutcomeRecord, OutcomeRecordSchema } from "@secondlook/core/outcome";
import { Settings } from "@secondlook/core/settings";
import { type LocalCloud, startLocalCloud } from "../cloud";
import { cloudClients, putSetting, trainAndPromote, uploadTrainingData } from "./bootstrap";
import { type DemoImage, generateDemoDataset } from "./dataset";
import { KNOWN_LOGOS, UNSEEN_LOGOS } from "./logos";
import { createRandom, shuffled } from "./prng";
import { imageDigest, type SimulatedReviewer, signInReviewer } from "./reviewer";

export interface LoopBenchmarkOptions {
  rounds: number;
  imagesPerRound: number;
  seed?: number;
  /** Seed-set images per known class for the first model. */
  seedPerClass?: number;
  /** Share of wrong reviewer answers (0..1). */
  reviewerErrorRate?: number;
  humanSamplingPercent?: number;
  /** Shrinks the cloud's simulated waits (model start, polling). */
  timeScale?: number;
  /** Called with each round as it finishes (the CLI prints it). */
  onRound?: (round: RoundResult) => void;
}

export interface RoundResult {
  round: number;
  /** The model that judged this round (the trainings before it included). */
  modelVersion: string;
  modelF1: number | null;
  images: number;
  /** Share of the round's images a reviewer saw. */
  reviewRate: number;
  /** The same for the late class alone (null before it appears): how fast the loop learns a new class. */
  lateClassReviewRate: number | null;
  autoLabeled: number;
  /** Share of auto-labels equal to the ground truth (null when nothing was auto-labeled). */
  autoLabelAccuracy: number | null;
  /** Audits (sampled confident images) and the share of them the reviewer agreed with. */
  audits: number;
  auditEstimate: number | null;
  imagesPerSecond: number;
  /** What the train-model execution after this round did. */
  training: "promoted" | "rejected" | "not-started" | "failed" | null;
}

/** The class that appears only from the second round on: the first model has never seen it. */
const LATE_CLASS = UNSEEN_LOGOS[0];
/** Its share of each round's images once it has appeared. */
export const LATE_SHARE = 0.1;

/** The round's stream: known logos (normal and hard renderings), plus the late class after round 1. */
function roundImages(
  pool: { known: DemoImage[]; late: DemoImage[] },
  round: number,
  count: number,
  seed: number,
) {
  const random = createRandom(seed + round);
  const lateShare = round === 1 ? 0 : LATE_SHARE;
  const late = Math.round(count * lateShare);
  const take = (from: DemoImage[], n: number) => from.splice(0, Math.min(n, from.length));
  return shuffled([...take(pool.known, count - late), ...take(pool.late, late)], random);
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Runs the benchmark on a fresh local cloud in a temporary folder and returns one row per round. */
export async function runLoopBenchmark(options: LoopBenchmarkOptions): Promise<RoundResult[]> {
  const { rounds, imagesPerRound, seed = 7, seedPerClass = 10, timeScale = 0.02 } = options;
  // The handlers must see each setting change at once, not after Powertools' 30-second cache.
  process.env.POWERTOOLS_PARAMETERS_MAX_AGE ??= "0";
  const dataDir = await mkdtemp(join(tmpdir(), "secondlook-bench-loop-"));
  const cloud = await startLocalCloud({ dataDir, timeScale });
  try {
    const perKnown = Math.ceil((imagesPerRound * rounds) / KNOWN_LOGOS.length);
    const dataset = await generateDemoDataset({
      seed,
      perClass: seedPerClass,
      inferencePerClass: Math.ceil(perKnown * 0.8),
      hardPerClass: Math.ceil(perKnown * 0.2),
      unseenPerClass: Math.ceil(imagesPerRound * rounds * LATE_SHARE) + 1,
      negatives: 6,
      unseen: LATE_CLASS ? [LATE_CLASS] : [],
    });
    const truth = new Map<string, string>();
    for (const image of [...dataset.seed, ...dataset.inference])
      truth.set(imageDigest(image.body), image.label);
    const pool = {
      known: shuffled(
        dataset.inference.filter((image) => image.known),
        createRandom(seed),
      ),
      late: dataset.inference.filter((image) => !image.known),
    };

    const { labels: known, manifestKey } = await uploadTrainingData(cloud, dataset);
    const labels = [...known, ...(LATE_CLASS ? [LATE_CLASS.label] : [])];
    await putSetting(cloud, "labels", labels);
    await trainAndPromote(cloud, manifestKey, "initial");
    // Trainings happen between rounds only, so every round is judged by one model.
    await putSetting(cloud, "minUntrainedImages", 100_000);
    await putSetting(cloud, "humanSamplingPercent", options.humanSamplingPercent ?? 10);
    await putSetting(cloud, "trainingPollSeconds", 1);
    await putSetting(cloud, "deployPollSeconds", 1);

    const { password } = await cloud.services.portal.accounts.add("bench-reviewer");
    const random = createRandom(seed * 31);
    const reviewer = await signInReviewer({
      webUrl: cloud.webUrl,
      username: "bench-reviewer",
      generatedPassword: password,
      truthOf: (digest) => truth.get(digest),
      errorRate: options.reviewerErrorRate ?? 0,
      random: () => random.next(),
    });

    const results: RoundResult[] = [];
    for (let round = 1; round <= rounds; round++) {
      const images = roundImages(pool, round, imagesPerRound, seed);
      const model = await activeModel(cloud);
      const started = Date.now();
      const keys = await uploadRound(cloud, round, images);
      const outcomes = await reviewUntilDone(cloud, reviewer, keys);
      const seconds = (Date.now() - started) / 1000;
      const row = measure(round, model, images, keys, outcomes, seconds);
      row.training = round < rounds ? await retrain(cloud, round) : null;
      results.push(row);
      options.onRound?.(row);
    }
    return results;
  } finally {
    await cloud.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function activeModel(cloud: LocalCloud) {
  const { ssm, rekognition } = cloudClients(cloud.endpoint);
  const { Parameter } = await ssm.send(
    new GetParameterCommand({
      Name: `${cloud.settingsPath}${Settings.parameterName("activeModelVersionArn")}`,
    }),
  );
  const arn = Parameter?.Value ?? "";
  const described = await rekognition.send(
    new DescribeProjectVersionsCommand({ ProjectArn: cloud.projectArn }),
  );
  const version = described.ProjectVersionDescriptions?.find((v) => v.ProjectVersionArn === arn);
  return {
    arn,
    name: arn.split("/version/")[1]?.split("/")[0] ?? "",
    f1: version?.EvaluationResult?.F1Score ?? null,
  };
}

async function uploadRound(cloud: LocalCloud, round: number, images: DemoImage[]) {
  const { s3 } = cloudClients(cloud.endpoint);
  const keys: string[] = [];
  for (const [index, image] of images.entries()) {
    const key = `${Prefixes.detection}round-${round}/image-${String(index).padStart(4, "0")}.png`;
    await s3.send(new PutObjectCommand({ Bucket: cloud.bucket, Key: key, Body: image.body }));
    keys.push(key);
  }
  return keys;
}

/** Answers tasks as they appear until every image of the round has an outcome record. */
async function reviewUntilDone(cloud: LocalCloud, reviewer: SimulatedReviewer, keys: string[]) {
  const { s3 } = cloudClients(cloud.endpoint);
  const wanted = new Set(keys);
  const outcomes = new Map<string, OutcomeRecord>();
  const seen = new Set<string>();
  const deadline = Date.now() + 60_000 + keys.length * 5_000;
  while (outcomes.size < wanted.size) {
    if (Date.now() > deadline) {
      throw new Error(`Only ${outcomes.size} of ${wanted.size} images were finished in time`);
    }
    while (await reviewer.answerNext()) {
      // Keep answering while the queue has work: a reviewer does not stop after one task.
    }
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: cloud.bucket,
          Prefix: Prefixes.outcomes,
          ContinuationToken: token,
        }),
      );
      for (const item of page.Contents ?? []) {
        if (!item.Key || seen.has(item.Key)) continue;
        const object = await s3.send(new GetObjectCommand({ Bucket: cloud.bucket, Key: item.Key }));
        const record = OutcomeRecordSchema.parse(
          JSON.parse((await object.Body?.transformToString()) ?? "{}"),
        );
        seen.add(item.Key);
        if (record.image && wanted.has(record.image.key)) outcomes.set(record.image.key, record);
      }
      token = page.NextContinuationToken;
    } while (token);
    if (outcomes.size < wanted.size) await sleep(50);
  }
  return outcomes;
}

function measure(
  round: number,
  model: { name: string; f1: number | null },
  images: DemoImage[],
  keys: string[],
  outcomes: Map<string, OutcomeRecord>,
  seconds: number,
): RoundResult {
  let reviewed = 0;
  let late = 0;
  let lateReviewed = 0;
  let autoLabeled = 0;
  let correct = 0;
  let audits = 0;
  let agreements = 0;
  keys.forEach((key, index) => {
    const outcome = outcomes.get(key);
    const image = images[index];
    if (!outcome || !image) return;
    if (outcome.loopName !== null) reviewed++;
    if (!image.known) {
      late++;
      if (outcome.loopName !== null) lateReviewed++;
    }
    if (outcome.outcome === "auto-labeled") {
      autoLabeled++;
      if (outcome.label === image.label) correct++;
    }
    if (outcome.audit) {
      audits++;
      if (outcome.audit.verdict === "agreement") agreements++;
    }
  });
  return {
    round,
    modelVersion: model.name,
    modelF1: model.f1,
    images: keys.length,
    reviewRate: reviewed / keys.length,
    lateClassReviewRate: late > 0 ? lateReviewed / late : null,
    autoLabeled,
    autoLabelAccuracy: autoLabeled > 0 ? correct / autoLabeled : null,
    audits,
    auditEstimate: audits > 0 ? agreements / audits : null,
    imagesPerSecond: keys.length / seconds,
    training: null,
  };
}

/** Starts train-model as an operator would between rounds, and waits for what it decided. */
async function retrain(cloud: LocalCloud, round: number): Promise<RoundResult["training"]> {
  const { sfn } = cloudClients(cloud.endpoint);
  const { executionArn } = await sfn.send(
    new StartExecutionCommand({
      stateMachineArn: cloud.stateMachineArns.trainModel,
      name: `after-round-${round}`,
      input: JSON.stringify({ reason: "benchmark-round" }),
    }),
  );
  const deadline = Date.now() + 600_000;
  for (;;) {
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (described.status === "SUCCEEDED") {
      const output = JSON.parse(described.output ?? "{}") as { train?: boolean };
      return output.train === false ? "not-started" : "promoted";
    }
    if (described.status && described.status !== "RUNNING") {
      return described.error === "ModelRejected" ? "rejected" : "failed";
    }
    if (Date.now() > deadline) throw new Error(`train-model after round ${round} did not finish`);
    await sleep(100);
  }
}

/** Formats rows as the Markdown table the docs keep. */
export function formatRounds(rows: RoundResult[]): string {
  const percent = (value: number | null) => (value === null ? "–" : `${(value * 100).toFixed(1)} %`);
  const lines = [
    "| Round | Model | Model F1 | Images | Human review rate | Late class review rate | Auto-labeled | Auto-label accuracy | Audits | Audit estimate | Images/s | Training after |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.round} | ${row.modelVersion} | ${row.modelF1 === null ? "–" : row.modelF1.toFixed(3)} | ${row.images} | ${percent(row.reviewRate)} | ${percent(row.lateClassReviewRate)} | ${row.autoLabeled} | ${percent(row.autoLabelAccuracy)} | ${row.audits} | ${percent(row.auditEstimate)} | ${row.imagesPerSecond.toFixed(2)} | ${row.training ?? "–"} |`,
    );
  }
  return lines.join("\n");
}
