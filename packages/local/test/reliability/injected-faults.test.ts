/**
 * Faults injected at the AWS edge (EdgeFaults) on the real local cloud: the detector failing or
 * timing out, and S3 failing under the copy step. The real handlers, SDK retries and the state
 * machine's Retry/Catch run unchanged. Each case names what it protects.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { DescribeExecutionCommand } from "@aws-sdk/client-sfn";
import { Prefixes } from "@secondlook/core/blueprint";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type LocalCloud, startLocalCloud } from "../../src/cloud";
import { cloudClients, putSetting, trainAndPromote, uploadTrainingData } from "../../src/demo/bootstrap";
import { type DemoDataset, generateDemoDataset } from "../../src/demo/dataset";
import { EdgeFaults } from "../../src/edge/server";
import { eventually, executionFor, outcomeOf, statesEntered, uploadImage } from "../e2e/support";
import type { Browserish } from "../portal/fakes";
import { answer, historyOf, signedInReviewer } from "./support";

const faults = new EdgeFaults();
let cloud: LocalCloud;
let dataDir: string;
let dataset: DemoDataset;
let labels: string[];
let reviewer: Browserish;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "secondlook-injected-faults-"));
  // A short timeScale keeps the detector's eight 30-second retries to a few seconds in all.
  cloud = await startLocalCloud({ dataDir, timeScale: 0.005, faults, functionTimeoutMs: 12_000 });
  dataset = await generateDemoDataset({
    seed: 11,
    perClass: 12,
    inferencePerClass: 2,
    hardPerClass: 0,
    unseenPerClass: 2,
    negatives: 2,
  });
  const uploaded = await uploadTrainingData(cloud, dataset);
  labels = uploaded.labels;
  const { manifestKey } = uploaded;
  await putSetting(cloud, "labels", labels);
  await trainAndPromote(cloud, manifestKey, "faults");
  reviewer = await signedInReviewer(cloud, "gus");
}, 180_000);

afterEach(() => {
  faults.clear();
});

afterAll(async () => {
  await cloud?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** How many times the state machine scheduled a task state (each retry is a new TaskScheduled). */
async function attemptsOf(executionArn: string, state: string) {
  const history = await historyOf(cloud, executionArn);
  let current = "";
  let attempts = 0;
  for (const event of history) {
    const entered = event.stateEnteredEventDetails as { name?: string } | undefined;
    if (event.type === "TaskStateEntered" && entered?.name) current = entered.name;
    if (event.type === "TaskScheduled" && current === state) attempts++;
  }
  return attempts;
}

// Generous waits: with the whole suite running on two cores, retries and backoffs run slowly.
const WAIT_MS = 90_000;

async function finished(executionArn: string) {
  return eventually(
    `${executionArn} to finish`,
    async () => {
      const described = await cloudClients(cloud.endpoint).sfn.send(
        new DescribeExecutionCommand({ executionArn }),
      );
      return described.status === "RUNNING" ? undefined : described;
    },
    WAIT_MS,
  );
}

async function claimTask(): Promise<string> {
  return eventually(
    "a task in the portal",
    async () => {
      const csrf = await reviewer.csrfFrom("/");
      const location = (await reviewer.postForm("/work", { _csrf: csrf })).headers.get("location") ?? "";
      return location.startsWith("/tasks/") ? location : undefined;
    },
    WAIT_MS,
  );
}

async function run(name: string, body: Buffer) {
  const key = await uploadImage(cloud, name, body);
  const started = await executionFor(cloud, key);
  return started.executionArn ?? "";
}

function seed(index: number) {
  const image = dataset.seed[index];
  if (!image) throw new Error(`no seed image ${index}`);
  return image;
}

describe("injected detector faults", () => {
  it("retries DetectLabels through transient Rekognition errors, then auto-labels the image (protects: a detector hiccup loses no image)", async () => {
    // Arrange: more failures than the SDK's own three attempts, so the state machine must retry.
    faults.failNext("DetectCustomLabels", 4, { code: "ThrottlingException", status: 400 });
    const known = seed(0);

    // Act
    const execution = await finished(await run("detector-hiccup.png", known.body));

    // Assert
    expect(faults.injected("DetectCustomLabels")).toBe(4);
    expect(execution.status).toBe("SUCCEEDED");
    expect(await attemptsOf(execution.executionArn ?? "", "DetectLabels")).toBeGreaterThan(1);
    expect(await outcomeOf(cloud, execution.name ?? "")).toMatchObject({
      outcome: "auto-labeled",
      label: known.label,
    });
  }, 150_000);

  it("retries a detector that keeps failing, then records the image as failed and ends the execution (protects: a broken detector never leaves an execution hanging)", async () => {
    // Arrange
    faults.failNext("DetectCustomLabels", Number.POSITIVE_INFINITY, { code: "InternalServerError" });

    // Act
    const execution = await finished(await run("detector-down.png", seed(1).body));

    // Assert: the first attempt plus the eight retries DetectorUnavailableError is given.
    expect(execution.status).toBe("FAILED");
    expect(await attemptsOf(execution.executionArn ?? "", "DetectLabels")).toBe(9);
    expect(await statesEntered(cloud, execution.executionArn ?? "")).toEqual([
      "DetectLabels",
      "RecordFailure",
      "ReviewFailed",
    ]);
    expect(await outcomeOf(cloud, execution.name ?? "")).toMatchObject({ outcome: "failed" });
  }, 150_000);

  it("records the image as failed when the detect function times out, and ends the execution (protects: a hung detector never leaves an execution hanging)", async () => {
    // Arrange: DetectCustomLabels answers only after the function's 12-second timeout.
    faults.failNext("DetectCustomLabels", 1, { code: "InternalServerError", delayMs: 15_000 });

    // Act
    const execution = await finished(await run("detector-hung.png", seed(2).body));

    // Assert
    expect(execution.status).toBe("FAILED");
    const history = await historyOf(cloud, execution.executionArn ?? "");
    expect(
      history.some(
        (event) =>
          event.type === "TaskFailed" &&
          (event.taskFailedEventDetails as { error?: string } | undefined)?.error === "Sandbox.Timedout",
      ),
    ).toBe(true);
    expect(await statesEntered(cloud, execution.executionArn ?? "")).toEqual([
      "DetectLabels",
      "RecordFailure",
      "ReviewFailed",
    ]);
    expect(await outcomeOf(cloud, execution.name ?? "")).toMatchObject({ outcome: "failed" });
  }, 150_000);
});

describe("injected S3 faults on the copy step", () => {
  it("retries CopyToLabeledFolder through S3 errors, then copies the answer exactly once (protects: a storage hiccup loses no human answer)", async () => {
    // Arrange: more failures than the SDK's own three attempts, so the state machine must retry.
    const unseen = dataset.inference.find((candidate) => !candidate.known);
    if (!unseen) throw new Error("no unseen image");
    const label = labels[0] as string;
    const executionArn = await run("copy-hiccup.png", unseen.body);
    const taskPath = await claimTask();
    faults.failNext("CopyObject", 4, { code: "InternalError" });

    // Act
    expect((await answer(reviewer, taskPath, label)).status).toBe(200);
    const execution = await finished(executionArn);
    await cloud.drain();

    // Assert
    expect(faults.injected("CopyObject")).toBe(4);
    expect(execution.status).toBe("SUCCEEDED");
    expect(await attemptsOf(executionArn, "CopyToLabeledFolder")).toBeGreaterThan(1);
    const copies = await cloudClients(cloud.endpoint).s3.send(
      new ListObjectsV2Command({ Bucket: cloud.bucket, Prefix: `${Prefixes.labeled}${label}/` }),
    );
    expect((copies.Contents ?? []).filter((object) => object.Key?.includes("copy-hiccup"))).toHaveLength(1);
    expect(await outcomeOf(cloud, execution.name ?? "")).toMatchObject({ outcome: "human-labeled", label });
  }, 150_000);
});
