/**
 * A started local cloud for third-party clients: a clock the test can move forward (it still runs
 * in real time, so the cloud provisions normally), a flow definition of the test's own, and a way to
 * answer a loop as a reviewer would through the portal's TaskQueue.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateFlowDefinitionCommand,
  CreateHumanTaskUiCommand,
  DescribeFlowDefinitionCommand,
  SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import type { Worker } from "../../src/a2i/workforce";
import { type LocalCloud, startLocalCloud } from "../../src/cloud";
import type { Clock } from "../../src/contracts";

export const ROLE_ARN = "arn:aws:iam::000000000000:role/secondlook-compat";
export const WORKTEAM_ARN = "arn:aws:sagemaker:us-east-1:000000000000:workteam/private-crowd/secondlook";
export const TEMPLATE = `<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <crowd-classifier name="sentiment" categories="{{ task.input.labels | to_json | escape }}" header="{{ task.input.question }}">
    <classification-target>{{ task.input.text }}</classification-target>
  </crowd-classifier>
</crowd-form>`;

/**
 * Runs in real time until frozen (so the cloud provisions normally), then moves only when the test
 * says: "Initializing" and creation-time windows must not race a busy machine's real clock.
 */
export class TestClock implements Clock {
  private frozenAt: number | undefined;
  now(): Date {
    return new Date(this.frozenAt ?? Date.now());
  }
  freeze(): void {
    this.frozenAt = Date.now();
  }
  advance(ms: number): void {
    if (this.frozenAt === undefined) throw new Error("freeze the clock before moving it");
    this.frozenAt += ms;
  }
}

export interface CompatCloud {
  cloud: LocalCloud;
  clock: TestClock;
  sagemaker: SageMakerClient;
  close(): Promise<void>;
}

/** Starts a local cloud on a temporary data folder with ephemeral ports. */
export async function startCompatCloud(): Promise<CompatCloud> {
  const dataDir = await mkdtemp(join(tmpdir(), "secondlook-a2i-compat-"));
  const clock = new TestClock();
  const cloud = await startLocalCloud({ dataDir, clock, port: 0, webPort: 0 });
  clock.freeze();
  const sagemaker = new SageMakerClient({
    endpoint: cloud.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "compat", secretAccessKey: "compat" },
    maxAttempts: 1,
  });
  return {
    cloud,
    clock,
    sagemaker,
    async close() {
      sagemaker.destroy();
      await cloud.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface FlowOptions {
  taskCount?: number;
  taskTimeLimitInSeconds?: number;
  taskAvailabilityLifetimeInSeconds?: number;
  template?: string;
}

/** Creates a task UI and a flow definition through the real SageMaker client; resolves once Active. */
export async function createActiveFlow(fixture: CompatCloud, name: string, options: FlowOptions = {}) {
  const { cloud, sagemaker, clock } = fixture;
  const ui = await sagemaker.send(
    new CreateHumanTaskUiCommand({
      HumanTaskUiName: `${name}-ui`,
      UiTemplate: { Content: options.template ?? TEMPLATE },
    }),
  );
  const created = await sagemaker.send(
    new CreateFlowDefinitionCommand({
      FlowDefinitionName: name,
      RoleArn: ROLE_ARN,
      OutputConfig: { S3OutputPath: `s3://${cloud.bucket}/compat-output` },
      HumanLoopConfig: {
        WorkteamArn: WORKTEAM_ARN,
        HumanTaskUiArn: ui.HumanTaskUiArn,
        TaskTitle: `Review for ${name}`,
        TaskDescription: "Pick the sentiment of the text.",
        TaskKeywords: ["text", "sentiment"],
        TaskCount: options.taskCount ?? 1,
        TaskTimeLimitInSeconds: options.taskTimeLimitInSeconds ?? 600,
        TaskAvailabilityLifetimeInSeconds: options.taskAvailabilityLifetimeInSeconds ?? 3_600,
      },
    }),
  );
  // The activation delay is measured on the cloud's clock: jump past it instead of sleeping.
  clock.advance(5_000);
  const described = await sagemaker.send(new DescribeFlowDefinitionCommand({ FlowDefinitionName: name }));
  if (described.FlowDefinitionStatus !== "Active") {
    throw new Error(`flow definition ${name} is ${described.FlowDefinitionStatus}, not Active`);
  }
  return created.FlowDefinitionArn as string;
}

/** A reviewer identity as the portal would hand it to the queue. */
export function aWorker(username: string): Worker {
  return {
    id: randomBytes(8).toString("hex"),
    sub: randomUUID(),
    username,
    identityProviderType: "Oidc",
    issuer: "http://127.0.0.1",
  };
}

/**
 * Claims loop `name` for `worker`: takes tasks until it holds that loop, skipping the others (only
 * this reviewer remembers those skips, and they go back to the queue at once).
 */
export async function claimLoop(cloud: LocalCloud, name: string, worker: Worker): Promise<void> {
  const { queue } = cloud.services.a2i;
  const skipped = new Set<string>();
  for (;;) {
    const task = await queue.claimNext(worker);
    if (!task || skipped.has(task.humanLoopName)) throw new Error(`loop ${name} was never offered`);
    if (task.humanLoopName === name) return;
    skipped.add(task.humanLoopName);
    await queue.release(worker, task.humanLoopName);
  }
}

/** Answers loop `name` as a fresh reviewer, the way the portal's submit does. */
export async function answerLoop(cloud: LocalCloud, name: string, answerContent: Record<string, unknown>) {
  const worker = aWorker(`reviewer-${randomBytes(3).toString("hex")}`);
  await claimLoop(cloud, name, worker);
  await cloud.services.a2i.queue.submit(worker, name, answerContent);
  return worker;
}

export const inputFor = (text: string) =>
  JSON.stringify({ text, question: "How does it sound?", labels: ["positive", "negative"] });
