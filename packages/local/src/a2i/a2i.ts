/**
 * The local A2I: composes the SageMaker control plane (task UIs, flow definitions), the human
 * loops with their task queue, and the two wire handlers the edge routes to.
 */
import { type Clock, type EventBus, type LocalObjects, type ServiceHandler, systemClock } from "../contracts";
import { ControlPlane } from "./control-plane";
import { HumanLoops } from "./loops";
import { createRuntimeHandler, RequestRateLimiter } from "./runtime-api";
import { createSageMakerHandler } from "./sagemaker-api";
import { A2IStore } from "./store";
import type { TaskQueue } from "./workforce";

/** Local stand-ins for A2I's account quotas; unlimited unless set. */
export interface LocalA2ILimits {
  /** InProgress/Stopping loops per flow definition; one more StartHumanLoop gets 402 ServiceQuotaExceeded. */
  maxOpenLoopsPerFlowDefinition?: number;
  /** Average runtime-API requests per second before 429 ThrottlingException. */
  requestsPerSecond?: number;
  /** Requests allowed in one burst (defaults to requestsPerSecond). */
  burst?: number;
}

export interface LocalA2IOptions {
  /** State lives under `<dataDir>/a2i/`. */
  dataDir: string;
  /** The local S3, where output.json is written. */
  objects: LocalObjects;
  /** Receives "SageMaker A2I HumanLoop Status Change" events. */
  bus: EventBus;
  /** Inject a controllable clock to make holds, lifetimes and activation pass in tests. */
  clock?: Clock;
  /** Maps the S3OutputPath bucket to the local bucket holding output.json (identity by default). */
  bucketForOutput?: (bucket: string) => string;
  /** Presigns `s3://` URIs for RenderUiTemplate's `grant_read_access`. */
  grantReadAccess?: (s3Uri: string) => string;
  /**
   * Multiplies every A2I duration — task time limits, availability lifetimes, the activation delay —
   * so tests and demos can make hours pass in seconds; 1 = real time.
   */
  timeScale?: number;
  /** How long a new flow definition stays Initializing (default 1 s, before timeScale). */
  flowActivationDelayMs?: number;
  /** How often expiry is checked in the background (default 1 s; it is also checked on every access). */
  sweepIntervalMs?: number;
  limits?: LocalA2ILimits;
  /** Called when the event bus refuses a status-change event (it is retried on the next sweep). */
  onEventError?: (error: unknown) => void;
}

export interface LocalA2I {
  /** restJson1 `/human-loops…` (the A2I runtime API). */
  runtimeHandler: ServiceHandler;
  /** awsJson1_1 `X-Amz-Target: SageMaker.*` (flow definitions, task UIs, RenderUiTemplate). */
  sagemakerHandler: ServiceHandler;
  /** What the reviewer portal uses to claim, release and answer tasks. */
  queue: TaskQueue;
  /** Applies expiry now (the background timer calls this too). */
  sweep(): Promise<void>;
  /** Stops the timer and waits for pending writes and events. */
  close(): Promise<void>;
}

const noPresigner = (uri: string): string => {
  throw new Error(`No presigner is configured to grant read access to ${uri}`);
};

/** Loads the local A2I's state from `<dataDir>/a2i/` and returns its handlers and task queue. */
export async function createLocalA2I(options: LocalA2IOptions): Promise<LocalA2I> {
  const clock = options.clock ?? systemClock;
  const timeScale = options.timeScale ?? 1;
  if (!(timeScale > 0)) throw new RangeError(`timeScale must be positive, got ${timeScale}`);
  const store = new A2IStore(options.dataDir);
  const limits = options.limits ?? {};
  let loops: HumanLoops | undefined;
  const controlPlane = new ControlPlane({
    store,
    clock,
    activationDelayMs: (options.flowActivationDelayMs ?? 1_000) * timeScale,
    grantReadAccess: options.grantReadAccess ?? noPresigner,
    onFlowDefinitionDeleted: async (arn) => loops?.stopLoopsOf(arn),
  });
  loops = new HumanLoops({
    store,
    objects: options.objects,
    bus: options.bus,
    clock,
    timeScale,
    controlPlane,
    maxOpenLoopsPerFlowDefinition: limits.maxOpenLoopsPerFlowDefinition ?? Number.POSITIVE_INFINITY,
    bucketForOutput: options.bucketForOutput ?? ((bucket) => bucket),
    onEventError: options.onEventError,
  });
  await controlPlane.load();
  await loops.load();
  const humanLoops = loops;
  const rate = limits.requestsPerSecond ?? Number.POSITIVE_INFINITY;
  const limiter = new RequestRateLimiter(clock, rate, limits.burst ?? rate);
  const timer = setInterval(() => {
    humanLoops.sweep().catch((error) => options.onEventError?.(error));
  }, options.sweepIntervalMs ?? 1_000);
  // The sweep must never keep the process alive on its own.
  timer.unref();
  // Events owed from before a restart go out now rather than at the first sweep.
  await humanLoops.flushEvents();
  return {
    runtimeHandler: createRuntimeHandler(humanLoops, limiter),
    sagemakerHandler: createSageMakerHandler(controlPlane),
    queue: humanLoops,
    sweep: () => humanLoops.sweep(),
    close: async () => {
      clearInterval(timer);
      await humanLoops.idle();
      await store.drain();
    },
  };
}
