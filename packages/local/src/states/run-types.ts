/**
 * What an execution run shares with the engine around it: the services it calls, how callbacks
 * reach it, and how it is told to stop.
 */
import type { Clock, LambdaInvoker } from "../contracts";
import type { ReadableObjects } from "./item-reader";
import type { MapRunHost } from "./map-run";

/** Why a run stopped without finishing; the initiator already recorded what needs recording. */
export class Interrupted extends Error {
  constructor(readonly kind: "closed" | "aborted" | "timed-out" | "sibling-failed") {
    super(`Execution interrupted: ${kind}`);
    this.name = "Interrupted";
  }
}

/** How a callback task is completed from outside (SendTaskSuccess/Failure/Heartbeat). */
export interface TokenWaiter {
  executionArn: string;
  succeed(output: unknown): void;
  fail(error: string, cause: string): void;
  heartbeat(): void;
}

/** A child execution started by `states:startExecution`. */
export interface ChildExecution {
  executionArn: string;
  startDate: number;
}

/** A child execution's final state, as `.sync` reports it (epoch-millisecond dates). */
export interface ChildOutcome {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: string;
  startDate: number;
  stopDate?: number;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
}

/** What a run needs from the engine around it. */
export interface RunServices {
  invoker: LambdaInvoker;
  sdk?: (service: string, action: string, params: unknown) => Promise<unknown>;
  clock: Clock;
  timeScale: number;
  tokens: Map<string, TokenWaiter>;
  startChild(input: { stateMachineArn: string; name?: string; input: string }): Promise<ChildExecution>;
  waitForChild(executionArn: string, signal: AbortSignal): Promise<ChildOutcome>;
  /** The local S3, for Distributed Map ItemReaders. */
  objects?: ReadableObjects;
  /** Child executions and exports of Distributed Map runs. */
  mapRuns?: MapRunHost;
}
