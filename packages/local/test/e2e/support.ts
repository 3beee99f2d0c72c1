/** Shared fixtures for the end-to-end suites: a running local cloud with a trained model. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { ListHumanLoopsCommand } from "@aws-sdk/client-sagemaker-a2i-runtime";
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
} from "@aws-sdk/client-sfn";
import { Prefixes } from "@secondlook/core/blueprint";
import { type LocalCloud, startLocalCloud } from "../../src/cloud";
import { cloudClients, putSetting, trainAndPromote, uploadTrainingData } from "../../src/demo/bootstrap";
import { type DemoDataset, generateDemoDataset } from "../../src/demo/dataset";

export interface TrainedCloud {
  cloud: LocalCloud;
  dataset: DemoDataset;
  labels: string[];
  close(): Promise<void>;
}

/** Starts a local cloud in a fresh folder, trains and promotes a small model, and returns it. */
export async function startTrainedCloud(): Promise<TrainedCloud> {
  const dataDir = await mkdtemp(join(tmpdir(), "secondlook-e2e-"));
  // Seconds-long waits (A2I activation, model start) shrink; a reviewer's hold stays ~30 s.
  const cloud = await startLocalCloud({ dataDir, timeScale: 0.05 });
  const dataset = await generateDemoDataset({
    seed: 5,
    perClass: 12,
    inferencePerClass: 2,
    hardPerClass: 0,
    unseenPerClass: 6,
    negatives: 6,
  });
  const { labels, manifestKey } = await uploadTrainingData(cloud, dataset);
  await putSetting(cloud, "labels", labels);
  await trainAndPromote(cloud, manifestKey, "e2e");
  return {
    cloud,
    dataset,
    labels,
    async close() {
      await cloud.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Uploads bytes under images_for_detection/ with the real S3 client and returns the key. */
export async function uploadImage(cloud: LocalCloud, name: string, body: Buffer) {
  const key = `${Prefixes.detection}${name}`;
  await cloudClients(cloud.endpoint).s3.send(
    new PutObjectCommand({ Bucket: cloud.bucket, Key: key, Body: body }),
  );
  return key;
}

/** Polls until `probe` returns a value, or fails with what it was waiting for. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** The review-image execution the upload of `key` started (the rule gives it the S3 event). */
export async function executionFor(cloud: LocalCloud, key: string) {
  const { sfn } = cloudClients(cloud.endpoint);
  return eventually(`an execution for ${key}`, async () => {
    const page = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: cloud.stateMachineArns.reviewImage, maxResults: 1000 }),
    );
    for (const execution of page.executions ?? []) {
      const described = await sfn.send(
        new DescribeExecutionCommand({ executionArn: execution.executionArn }),
      );
      const input = JSON.parse(described.input ?? "{}") as { detail?: { object?: { key?: string } } };
      const eventKey = input.detail?.object?.key;
      if (eventKey && decodeURIComponent(eventKey.replace(/\+/g, " ")) === key) return described;
    }
    return undefined;
  });
}

/** Waits for an execution to leave RUNNING. */
export async function finished(
  cloud: LocalCloud,
  executionArn: string,
): Promise<DescribeExecutionCommandOutput> {
  const { sfn } = cloudClients(cloud.endpoint);
  return eventually(`${executionArn} to finish`, async () => {
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    return described.status === "RUNNING" ? undefined : described;
  });
}

/** The names of the states an execution entered, in order, from its history. */
export async function statesEntered(cloud: LocalCloud, executionArn: string) {
  const { sfn } = cloudClients(cloud.endpoint);
  const names: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 1000 }),
    );
    for (const event of page.events ?? []) {
      if (event.type?.endsWith("StateEntered") && event.stateEnteredEventDetails?.name) {
        names.push(event.stateEnteredEventDetails.name);
      }
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return names;
}

/** The outcome record review-image wrote for an execution. */
export async function outcomeOf(cloud: LocalCloud, executionName: string) {
  const object = await cloudClients(cloud.endpoint).s3.send(
    new GetObjectCommand({ Bucket: cloud.bucket, Key: `${Prefixes.outcomes}${executionName}.json` }),
  );
  return JSON.parse((await object.Body?.transformToString()) ?? "{}") as Record<string, unknown>;
}

/** Names of human loops in progress for the cloud's flow definition. */
export async function loopsInProgress(cloud: LocalCloud) {
  const page = await cloudClients(cloud.endpoint).a2i.send(
    new ListHumanLoopsCommand({ FlowDefinitionArn: cloud.flowDefinitionArn, MaxResults: 100 }),
  );
  return (page.HumanLoopSummaries ?? [])
    .filter((loop) => loop.HumanLoopStatus === "InProgress")
    .map((loop) => loop.HumanLoopName as string);
}

/** Reads an object's bytes, or undefined when it does not exist. */
export async function readObject(cloud: LocalCloud, key: string) {
  try {
    const object = await cloudClients(cloud.endpoint).s3.send(
      new GetObjectCommand({ Bucket: cloud.bucket, Key: key }),
    );
    return Buffer.from((await object.Body?.transformToByteArray()) ?? []);
  } catch (error) {
    if ((error as Error).name === "NoSuchKey") return undefined;
    throw error;
  }
}
