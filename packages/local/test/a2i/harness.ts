/**
 * Starts the local A2I behind a small 127.0.0.1 server (ephemeral port) that routes like the edge,
 * with the real SDK clients pointed at it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateFlowDefinitionCommand,
  CreateHumanTaskUiCommand,
  SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { SageMakerA2IRuntimeClient, StartHumanLoopCommand } from "@aws-sdk/client-sagemaker-a2i-runtime";
import { createLocalA2I, type LocalA2I, type LocalA2IOptions } from "../../src/a2i/a2i";
import { ManualClock, MemoryObjects, RecordingBus } from "./fakes";

export const ROLE_ARN = "arn:aws:iam::000000000000:role/secondlook-a2i";
export const WORKTEAM_ARN = "arn:aws:sagemaker:us-east-1:000000000000:workteam/private-crowd/secondlook";
export const ACTIVATION_DELAY_MS = 2_000;
export const TEMPLATE = `<crowd-form><crowd-image-classifier name="category" src="{{ task.input.taskObject | grant_read_access }}" categories="{{ task.input.labels | to_json | escape }}"></crowd-image-classifier></crowd-form>`;

export interface Harness {
  a2i: LocalA2I;
  clock: ManualClock;
  objects: MemoryObjects;
  bus: RecordingBus;
  dataDir: string;
  endpoint: string;
  runtime: SageMakerA2IRuntimeClient;
  sagemaker: SageMakerClient;
  /** Restarts the local A2I on the same data folder (same clock, objects and bus). */
  restart(overrides?: Partial<LocalA2IOptions>): Promise<void>;
  close(): Promise<void>;
}

type Overrides = Partial<Omit<LocalA2IOptions, "dataDir" | "objects" | "bus" | "clock">>;

export async function startHarness(overrides: Overrides = {}, dataDir?: string): Promise<Harness> {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), "secondlook-a2i-")));
  const clock = new ManualClock();
  const objects = new MemoryObjects();
  const bus = new RecordingBus();
  const build = (extra: Partial<LocalA2IOptions> = {}) =>
    createLocalA2I({
      dataDir: dir,
      objects,
      bus,
      clock,
      flowActivationDelayMs: ACTIVATION_DELAY_MS,
      sweepIntervalMs: 60_000,
      grantReadAccess: (uri) => `http://127.0.0.1:1/presigned/${encodeURIComponent(uri)}`,
      ...overrides,
      ...extra,
    });
  let a2i = await build();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const target = req.headers["x-amz-target"];
    const handler =
      typeof target === "string" && target.startsWith("SageMaker.")
        ? a2i.sagemakerHandler
        : a2i.runtimeHandler;
    handler(req, res, url).catch(() => {
      res.statusCode = 500;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientConfig = {
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
  };
  const runtime = new SageMakerA2IRuntimeClient(clientConfig);
  const sagemaker = new SageMakerClient(clientConfig);
  const harness: Harness = {
    get a2i() {
      return a2i;
    },
    clock,
    objects,
    bus,
    dataDir: dir,
    endpoint,
    runtime,
    sagemaker,
    restart: async (extra) => {
      await a2i.close();
      a2i = await build(extra);
    },
    close: async () => {
      runtime.destroy();
      sagemaker.destroy();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await a2i.close();
      if (!dataDir) await rm(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

export interface FlowSettings {
  name?: string;
  taskCount?: number;
  taskTimeLimitInSeconds?: number;
  taskAvailabilityLifetimeInSeconds?: number;
  s3OutputPath?: string;
}

/** Creates a task UI and a flow definition through the SageMaker API and waits until it is Active. */
export async function anActiveFlow(h: Harness, settings: FlowSettings = {}): Promise<string> {
  const name = settings.name ?? "review-logos";
  const ui = await h.sagemaker.send(
    new CreateHumanTaskUiCommand({ HumanTaskUiName: `${name}-ui`, UiTemplate: { Content: TEMPLATE } }),
  );
  const flow = await h.sagemaker.send(
    new CreateFlowDefinitionCommand({
      FlowDefinitionName: name,
      RoleArn: ROLE_ARN,
      OutputConfig: { S3OutputPath: settings.s3OutputPath ?? "s3://data-bucket/a2i-output" },
      HumanLoopConfig: {
        WorkteamArn: WORKTEAM_ARN,
        HumanTaskUiArn: ui.HumanTaskUiArn,
        TaskTitle: "Which logo is this?",
        TaskDescription: "Pick the logo shown in the image.",
        TaskKeywords: ["image", "logo"],
        TaskCount: settings.taskCount ?? 1,
        TaskTimeLimitInSeconds: settings.taskTimeLimitInSeconds ?? 600,
        TaskAvailabilityLifetimeInSeconds: settings.taskAvailabilityLifetimeInSeconds ?? 3_600,
      },
    }),
  );
  h.clock.advance(ACTIVATION_DELAY_MS);
  return flow.FlowDefinitionArn as string;
}

export const inputFor = (n: number) =>
  JSON.stringify({
    taskObject: `s3://data-bucket/images_for_detection/${n}.png`,
    labels: ["acme", "globex"],
  });

/** Starts loop `name` under the flow with InputContent `inputFor(n)`. */
export async function startLoop(h: Harness, flowArn: string, name: string, n = 1): Promise<string> {
  const out = await h.runtime.send(
    new StartHumanLoopCommand({
      HumanLoopName: name,
      FlowDefinitionArn: flowArn,
      HumanLoopInput: { InputContent: inputFor(n) },
    }),
  );
  return out.HumanLoopArn as string;
}

/** Sends a raw HTTP request to the harness (for what the SDK would refuse to send). */
export async function raw(h: Harness, path: string, init: RequestInit = {}) {
  const response = await fetch(`${h.endpoint}${path}`, init);
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    text,
    json: text ? JSON.parse(text) : undefined,
  };
}
