/**
 * `npm start`: the main job on one machine. Starts the local cloud; on the first start it makes a
 * demo data set, trains and promotes the first model, and sends the demo images through review-image.
 */
import { access, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { ListHumanLoopsCommand } from "@aws-sdk/client-sagemaker-a2i-runtime";
import { ListExecutionsCommand } from "@aws-sdk/client-sfn";
import { Prefixes } from "@secondlook/core/blueprint";
import { type LocalCloud, startLocalCloud } from "../cloud";
import {
  cloudClients,
  putSetting,
  trainAndPromote,
  uploadForDetection,
  uploadTrainingData,
} from "../demo/bootstrap";
import { generateDemoDataset } from "../demo/dataset";

export { DEFAULT_DATA_DIR, DEFAULT_PORT, DEFAULT_WEB_PORT } from "./defaults";

/** Written once the demo has been provisioned, so a restart resumes instead of starting over. */
const DEMO_MARKER = "demo.json";
const DEMO_REVIEWER = "reviewer";

export interface StartOptions {
  port: number;
  webPort: number;
  data: string;
  host: string;
  demo: boolean;
}

export async function runStart(options: StartOptions) {
  const dataDir = resolve(options.data);
  say(`Starting the secondlook local cloud (data in ${dataDir}) …`);
  const cloud = await startLocalCloud({
    dataDir,
    host: options.host,
    port: options.port,
    webPort: options.webPort,
  });

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    say("\nStopping … (waiting tasks stay waiting; `npm start` resumes them)");
    await cloud.close();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);

  const firstRun = options.demo && !(await exists(join(dataDir, DEMO_MARKER)));
  let credentials: { username: string; password: string } | undefined;
  if (firstRun) {
    credentials = await runDemo(cloud);
    await writeFile(join(dataDir, DEMO_MARKER), JSON.stringify({ createdAt: new Date().toISOString() }));
  }
  await settle(cloud);
  await printSummary(cloud, credentials);
}

/** Generates the demo images, trains and promotes the first model, then uploads the inference set. */
async function runDemo(cloud: LocalCloud) {
  const dataset = await generateDemoDataset({ seed: 7 });
  const { labels, manifestKey } = await uploadTrainingData(cloud, dataset);
  say(`Generated a demo data set: ${dataset.seed.length} labeled images of ${labels.join(", ")},`);
  say(`  and ${dataset.inference.length} new images to review (including a logo the model has never seen).`);
  const { password } = await cloud.services.portal.accounts.add(DEMO_REVIEWER);
  await putSetting(cloud, "labels", labels);

  say("Training the first model version …");
  const { f1 } = await trainAndPromote(cloud, manifestKey, "bootstrap");
  say(`  trained (F1 ${f1?.toFixed(3) ?? "n/a"}), running, and promoted as the active model.`);

  await uploadForDetection(cloud, dataset.inference);
  say(`Uploaded ${dataset.inference.length} images under ${Prefixes.detection}; review-image runs for each.`);
  return { username: DEMO_REVIEWER, password };
}

/** Waits until every review-image execution has either finished or is waiting for a reviewer. */
async function settle(cloud: LocalCloud) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    await cloud.drain();
    const running = await countExecutions(cloud, "RUNNING");
    const waiting = await countWaitingLoops(cloud);
    if (running <= waiting || Date.now() > deadline) return;
    await sleep(250);
  }
}

async function countExecutions(cloud: LocalCloud, status: "RUNNING" | "SUCCEEDED" | "FAILED") {
  const { sfn } = cloudClients(cloud.endpoint);
  let count = 0;
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new ListExecutionsCommand({
        stateMachineArn: cloud.stateMachineArns.reviewImage,
        statusFilter: status,
        nextToken,
        maxResults: 1000,
      }),
    );
    count += page.executions?.length ?? 0;
    nextToken = page.nextToken;
  } while (nextToken);
  return count;
}

/** Human loops still waiting for an answer, through A2I's own ListHumanLoops. */
async function countWaitingLoops(cloud: LocalCloud) {
  const { a2i } = cloudClients(cloud.endpoint);
  let count = 0;
  let nextToken: string | undefined;
  do {
    const page = await a2i.send(
      new ListHumanLoopsCommand({
        FlowDefinitionArn: cloud.flowDefinitionArn,
        NextToken: nextToken,
        MaxResults: 100,
      }),
    );
    count += (page.HumanLoopSummaries ?? []).filter((loop) => loop.HumanLoopStatus === "InProgress").length;
    nextToken = page.NextToken;
  } while (nextToken);
  return count;
}

/** Tallies the per-image outcome records (the queryable result of every review). */
async function tallyOutcomes(cloud: LocalCloud) {
  const { s3 } = cloudClients(cloud.endpoint);
  const tally = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: cloud.bucket, Prefix: Prefixes.outcomes, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      const body = await s3.send(new GetObjectCommand({ Bucket: cloud.bucket, Key: object.Key }));
      const record = JSON.parse((await body.Body?.transformToString()) ?? "{}") as { outcome?: string };
      const outcome = record.outcome ?? "unknown";
      tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
    }
    token = page.NextContinuationToken;
  } while (token);
  return tally;
}

async function printSummary(cloud: LocalCloud, credentials?: { username: string; password: string }) {
  const outcomes = await tallyOutcomes(cloud);
  const waiting = await countWaitingLoops(cloud);
  const row = (name: string, value: string | number) => `  ${name.padEnd(30)} ${value}`;
  const lines = [
    "",
    "secondlook is running.",
    "",
    row("Reviewer portal", cloud.webUrl),
    row("Executions console", `${cloud.webUrl}/console`),
    credentials
      ? row(
          "Sign in as",
          `${credentials.username} / ${credentials.password}  (shown once; you then choose your own)`,
        )
      : row("Reviewers", "npx secondlook reviewers --help"),
    row("AWS endpoint", `${cloud.endpoint}  (--endpoint-url / AWS_ENDPOINT_URL)`),
    row("Data folder", cloud.dataDir),
    row("Labeled images", join(cloud.dataDir, "s3", cloud.bucket, Prefixes.labeled)),
    "",
    row("Auto-labeled", outcomes.get("auto-labeled") ?? 0),
    row("Waiting for review", waiting),
    row("Labeled by reviewers", outcomes.get("human-labeled") ?? 0),
    row("Skipped (None of the Above)", outcomes.get("skipped") ?? 0),
    row("No answer", outcomes.get("no-answer") ?? 0),
    row("Failed", outcomes.get("failed") ?? 0),
    "",
    "Answer the waiting tasks in the portal; each answer lands in images_labeled_by_folder/<label>/.",
    "Press Ctrl-C to stop; `npm start` again resumes where you left off.",
  ];
  say(lines.join("\n"));
}

const say = (text: string) => process.stdout.write(`${text}\n`);
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );
