/**
 * `npm start`: the main job on one machine. Starts the local cloud; on the first start it makes a
 * demo data set, trains and promotes the first model, and sends the demo images through review-image.
 */
import { access, writeFile } from "node:fs/promises";
import { basename, extname, join, resolve } from "node:path";
import {
  CreateProjectVersionCommand,
  DescribeProjectVersionsCommand,
  RekognitionClient,
  StartProjectVersionCommand,
} from "@aws-sdk/client-rekognition";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { ListHumanLoopsCommand, SageMakerA2IRuntimeClient } from "@aws-sdk/client-sagemaker-a2i-runtime";
import { ListExecutionsCommand, SFNClient } from "@aws-sdk/client-sfn";
import { PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { NONE_OF_THE_ABOVE, Prefixes } from "@secondlook/core/blueprint";
import { classificationLine, createManifestBuilder } from "@secondlook/core/manifest";
import { Settings } from "@secondlook/core/settings";
import { type LocalCloud, REPO_ROOT, startLocalCloud } from "../cloud";
import { generateDemoDataset } from "../demo/dataset";
import { createRandom, shuffled } from "../demo/prng";

export const DEFAULT_PORT = 4747;
export const DEFAULT_WEB_PORT = 4748;
export const DEFAULT_DATA_DIR = join(REPO_ROOT, ".secondlook");

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
  const clients = sdkClients(cloud);
  const dataset = await generateDemoDataset({ seed: 7 });
  const labels = [...new Set(dataset.seed.map((image) => image.label))].sort();
  say(`Generated a demo data set: ${dataset.seed.length} labeled images of ${labels.join(", ")},`);
  say(`  and ${dataset.inference.length} new images to review (including a logo the model has never seen).`);

  const { password } = await cloud.services.portal.accounts.add(DEMO_REVIEWER);
  await putSetting(clients.ssm, cloud, "labels", labels);

  const manifest = createManifestBuilder(cloud.bucket);
  const lines: string[] = [];
  for (const image of dataset.seed) {
    const key = `${Prefixes.labeled}${image.label}/${basename(image.name)}`;
    await clients.s3.send(new PutObjectCommand({ Bucket: cloud.bucket, Key: key, Body: image.body }));
    const line = manifest.add(key, new Date(), true);
    if (line) lines.push(line);
  }
  // "None of the Above" examples teach the local detector what is not one of ours; they live
  // outside the labeled folders, so the labels-by-folder data set stays clean.
  for (const image of dataset.negatives) {
    const key = `${Prefixes.negatives}${basename(image.name)}`;
    await clients.s3.send(new PutObjectCommand({ Bucket: cloud.bucket, Key: key, Body: image.body }));
    const line = classificationLine({
      bucket: cloud.bucket,
      key,
      label: NONE_OF_THE_ABOVE,
      createdAt: new Date(),
      humanAnnotated: true,
    });
    lines.push(JSON.stringify(line));
  }
  manifest.finish();
  const manifestKey = `${Prefixes.trainingManifests}bootstrap.manifest`;
  await clients.s3.send(
    new PutObjectCommand({ Bucket: cloud.bucket, Key: manifestKey, Body: `${lines.join("\n")}\n` }),
  );

  say("Training the first model version …");
  const { ProjectVersionArn: versionArn } = await clients.rekognition.send(
    new CreateProjectVersionCommand({
      ProjectArn: cloud.projectArn,
      VersionName: "bootstrap",
      OutputConfig: { S3Bucket: cloud.bucket, S3KeyPrefix: `${Prefixes.modelOutput}bootstrap` },
      TrainingData: {
        Assets: [{ GroundTruthManifest: { S3Object: { Bucket: cloud.bucket, Name: manifestKey } } }],
      },
      TestingData: { AutoCreate: true },
    }),
  );
  if (!versionArn) throw new Error("CreateProjectVersion returned no version ARN");
  const trained = await waitForVersion(clients.rekognition, cloud, versionArn, ["TRAINING_COMPLETED"]);
  say(`  trained: F1 ${trained.EvaluationResult?.F1Score?.toFixed(3) ?? "n/a"}`);
  await clients.rekognition.send(
    new StartProjectVersionCommand({ ProjectVersionArn: versionArn, MinInferenceUnits: 1 }),
  );
  await waitForVersion(clients.rekognition, cloud, versionArn, ["RUNNING"]);
  await putSetting(clients.ssm, cloud, "activeModelVersionArn", versionArn);
  say("  running and promoted as the active model.");

  // Neutral names in a shuffled order: nothing in a key gives the true logo away.
  const inference = shuffled(dataset.inference, createRandom(11));
  for (const [index, image] of inference.entries()) {
    const key = `${Prefixes.detection}demo-${String(index + 1).padStart(3, "0")}${extname(image.name)}`;
    await clients.s3.send(new PutObjectCommand({ Bucket: cloud.bucket, Key: key, Body: image.body }));
  }
  say(`Uploaded ${dataset.inference.length} images under ${Prefixes.detection}; review-image runs for each.`);
  return { username: DEMO_REVIEWER, password };
}

async function waitForVersion(
  client: RekognitionClient,
  cloud: LocalCloud,
  versionArn: string,
  goal: string[],
) {
  const versionName = versionArn.split("/")[3];
  for (;;) {
    const described = await client.send(
      new DescribeProjectVersionsCommand({
        ProjectArn: cloud.projectArn,
        VersionNames: versionName ? [versionName] : [],
      }),
    );
    const version = described.ProjectVersionDescriptions?.[0];
    if (version?.Status && goal.includes(version.Status)) return version;
    if (version?.Status?.endsWith("FAILED")) {
      throw new Error(`Model version ${versionName} ${version.Status}: ${version.StatusMessage ?? ""}`);
    }
    await sleep(200);
  }
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
  const sfn = sdkClients(cloud).sfn;
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
  const a2i = sdkClients(cloud).a2i;
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
  const s3 = sdkClients(cloud).s3;
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
  const lines = [
    "",
    "secondlook is running.",
    "",
    `  Reviewer portal   ${cloud.webUrl}`,
    credentials
      ? `  Sign in as        ${credentials.username} / ${credentials.password}   (shown once; you will choose a new password)`
      : `  Reviewers         manage with: npx secondlook reviewers --help`,
    `  AWS endpoint      ${cloud.endpoint}   (use with --endpoint-url or AWS_ENDPOINT_URL)`,
    `  Data folder       ${cloud.dataDir}`,
    `  Labeled images    ${join(cloud.dataDir, "s3", cloud.bucket, Prefixes.labeled)}`,
    "",
    `  Auto-labeled      ${outcomes.get("auto-labeled") ?? 0}`,
    `  Waiting for review ${waiting}`,
    `  Labeled by people ${outcomes.get("human-labeled") ?? 0}`,
    `  Skipped (None of the Above) ${outcomes.get("skipped") ?? 0}`,
    "",
    "Answer the waiting tasks in the portal; each answer lands in images_labeled_by_folder/<label>/.",
    "Press Ctrl-C to stop; `npm start` again resumes where you left off.",
  ];
  say(lines.join("\n"));
}

const clientsByCloud = new WeakMap<LocalCloud, ReturnType<typeof createClients>>();

/** SDK clients pointed at the local edge: the demo drives the local cloud as any AWS user would. */
function sdkClients(cloud: LocalCloud) {
  let clients = clientsByCloud.get(cloud);
  if (!clients) {
    clients = createClients(cloud);
    clientsByCloud.set(cloud, clients);
  }
  return clients;
}

function createClients(cloud: LocalCloud) {
  const config = {
    endpoint: cloud.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "secondlook", secretAccessKey: "secondlook-local" },
  };
  return {
    s3: new S3Client({ ...config, forcePathStyle: true }),
    ssm: new SSMClient(config),
    rekognition: new RekognitionClient(config),
    sfn: new SFNClient(config),
    a2i: new SageMakerA2IRuntimeClient(config),
  };
}

async function putSetting(
  ssm: SSMClient,
  cloud: LocalCloud,
  key: keyof Settings,
  value: Settings[keyof Settings],
) {
  const parameters = Settings.toParameters({ ...Settings.defaults(), [key]: value });
  const name = Settings.parameterName(key);
  await ssm.send(
    new PutParameterCommand({
      Name: `${cloud.settingsPath}${name}`,
      Value: parameters[name],
      Type: "String",
      Overwrite: true,
    }),
  );
}

const say = (text: string) => process.stdout.write(`${text}\n`);
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );
