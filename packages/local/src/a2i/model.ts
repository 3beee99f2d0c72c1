/**
 * The records the local A2I keeps (flow definitions, human task UIs, human loops) and the pure
 * rules around them: ARNs, the output.json key, status names. Everything here is plain data so it
 * can be written to disk as JSON and read back after a restart.
 */
import { type BusEvent, LOCAL_ACCOUNT, LOCAL_REGION } from "../contracts";
import type { Worker } from "./workforce";

export type HumanLoopStatus = "InProgress" | "Failed" | "Completed" | "Stopped" | "Stopping";
export type FailureCode = "ValidationError" | "Expired" | "InternalError";
export type FlowDefinitionStatus = "Initializing" | "Active" | "Failed" | "Deleting";

/** The statuses a loop never leaves (except by DeleteHumanLoop). */
export const TERMINAL_STATUSES: ReadonlySet<HumanLoopStatus> = new Set(["Completed", "Failed", "Stopped"]);

export interface HumanTaskUiRecord {
  name: string;
  arn: string;
  content: string;
  creationTime: string;
  tags: { Key: string; Value: string }[];
}

export interface HumanLoopConfig {
  WorkteamArn: string;
  HumanTaskUiArn: string;
  TaskTitle: string;
  TaskDescription: string;
  TaskCount: number;
  TaskAvailabilityLifetimeInSeconds?: number;
  TaskTimeLimitInSeconds?: number;
  TaskKeywords?: string[];
  PublicWorkforceTaskPrice?: unknown;
}

export interface FlowDefinitionRecord {
  name: string;
  arn: string;
  roleArn: string;
  creationTime: string;
  /** Initializing until this instant, Active from then on (computed, so a restart keeps it right). */
  activeAt: string;
  outputConfig: { S3OutputPath: string; KmsKeyId?: string };
  humanLoopConfig?: HumanLoopConfig;
  humanLoopRequestSource?: unknown;
  humanLoopActivationConfig?: unknown;
  tags: { Key: string; Value: string }[];
}

/** What a loop froze from its flow definition and UI at start, so later deletes cannot change it. */
export interface LoopTask {
  title: string;
  description: string;
  keywords: string[];
  taskCount: number;
  taskTimeLimitInSeconds: number;
  taskAvailabilityLifetimeInSeconds: number;
  template: string;
}

export interface Hold {
  worker: Worker;
  acceptedAt: string;
  heldUntil: string;
}

export interface Answer {
  worker: Worker;
  answerContent: Record<string, unknown>;
  acceptedAt: string;
  submittedAt: string;
}

export interface HumanLoopRecord {
  name: string;
  arn: string;
  flowDefinitionArn: string;
  flowDefinitionName: string;
  /** The InputContent string exactly as sent (the conflict check compares it). */
  inputContent: string;
  contentClassifiers?: string[];
  creationTime: string;
  status: HumanLoopStatus;
  failureCode?: FailureCode;
  failureReason?: string;
  outputS3Uri: string;
  task: LoopTask;
  holds: Hold[];
  answers: Answer[];
  /** Worker ids who skipped this task: their queue offers it to them last. */
  skippedBy: string[];
  /** Worker id -> end of a hold that ran out, so a late submit says "expired" rather than "not held". */
  lapsedHolds: Record<string, string>;
  /** The status-change event from a terminal transition, kept until the bus accepts it. */
  pendingStatusEvent?: BusEvent;
}

/** `arn:aws:sagemaker:us-east-1:000000000000:<kind>/<name>` — every A2I/SageMaker resource ARN. */
export function sagemakerArn(kind: "human-loop" | "flow-definition" | "human-task-ui", name: string): string {
  return `arn:aws:sagemaker:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${kind}/${name}`;
}

/** The resource name at the end of a SageMaker ARN (`…:flow-definition/<name>`). */
export function nameFromArn(arn: string): string {
  return arn.slice(arn.indexOf("/") + 1);
}

/** A parsed `S3OutputPath`: the bucket and the key prefix (no leading or trailing slash). */
export interface S3Location {
  bucket: string;
  prefix: string;
}

/**
 * Reads `S3OutputPath` (`s3://bucket/prefix`, or an https path-style / virtual-hosted S3 URL) into
 * bucket and prefix; undefined when it names no bucket.
 */
export function parseS3OutputPath(path: string): S3Location | undefined {
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(path);
  if (s3) return { bucket: s3[1] as string, prefix: trimSlashes(s3[2] as string) };
  const https = /^https:\/\/([^/]+)\/?(.*)$/.exec(path);
  if (!https) return undefined;
  const host = https[1] as string;
  const rest = https[2] as string;
  const virtualHosted = /^(.+)\.s3[.-][^/]*amazonaws\.com$/.exec(host);
  if (virtualHosted) return { bucket: virtualHosted[1] as string, prefix: trimSlashes(rest) };
  const [bucket, ...keyParts] = rest.split("/");
  if (!bucket) return undefined;
  return { bucket, prefix: trimSlashes(keyParts.join("/")) };
}

function trimSlashes(value: string): string {
  return value.replace(/^\/+|\/+$/g, "");
}

const pad = (n: number) => String(n).padStart(2, "0");

/**
 * `<prefix>/<FlowDefinitionName>/YYYY/MM/DD/hh/mm/ss/<HumanLoopName>/output.json` from the loop's
 * UTC creation time, seconds truncated (A2I fixes the key when the loop is created).
 */
export function outputKey(
  prefix: string,
  flowDefinitionName: string,
  loopName: string,
  created: Date,
): string {
  const stamp = [
    created.getUTCFullYear(),
    pad(created.getUTCMonth() + 1),
    pad(created.getUTCDate()),
    pad(created.getUTCHours()),
    pad(created.getUTCMinutes()),
    pad(created.getUTCSeconds()),
  ].join("/");
  const head = prefix ? `${prefix}/` : "";
  return `${head}${flowDefinitionName}/${stamp}/${loopName}/output.json`;
}

/** Splits `s3://bucket/key` into its parts. */
export function splitS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match) throw new Error(`Not an s3://bucket/key URI: ${uri}`);
  return { bucket: match[1] as string, key: match[2] as string };
}
