/**
 * The seams between the local cloud's services. Each service is built by a factory that takes
 * these, so the composition root (cloud.ts) wires them and tests can wire fakes.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** Local account and region: every ARN the local cloud mints uses these. */
export const LOCAL_ACCOUNT = "000000000000";
export const LOCAL_REGION = "us-east-1";

/** One AWS service's HTTP entry point, called by the edge router. */
export type ServiceHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;

/** An EventBridge event as AWS delivers it to targets. */
export interface BusEvent {
  version: "0";
  id: string;
  "detail-type": string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

/** What S3 and A2I use to publish events; the rules decide who receives them. */
export interface EventBus {
  put(event: BusEvent): Promise<void>;
}

/** In-process object access for services that read or write the local S3 (A2I, Rekognition, engine). */
export interface LocalObjects {
  get(bucket: string, key: string): Promise<Buffer>;
  /** Streams an object's bytes (large manifests are read without holding them whole). */
  stream?(bucket: string, key: string): Promise<AsyncIterable<Uint8Array>>;
  put(bucket: string, key: string, body: Buffer, contentType?: string): Promise<{ etag: string }>;
  head(bucket: string, key: string): Promise<{ size: number; etag: string; lastModified: Date } | undefined>;
  /** Streams keys in lexicographic order; never loads a whole listing. */
  list(
    bucket: string,
    prefix: string,
  ): AsyncIterable<{ key: string; size: number; etag: string; lastModified: Date }>;
}

/** Invokes a Lambda function by ARN or name as the Lambda service would (event + context). */
export interface LambdaInvoker {
  /**
   * Resolves with the function's result as a JSON value the caller owns (Lambda passes it through
   * JSON, and nothing changes it afterwards); rejects with an Error whose `name` is the function's
   * errorType.
   */
  invoke(functionArnOrName: string, payload: unknown): Promise<unknown>;
}

/** The engine's API surface other local services need (rules start executions). */
export interface ExecutionStarter {
  startExecution(input: {
    stateMachineArn: string;
    name?: string;
    input: string;
  }): Promise<{ executionArn: string }>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
