/**
 * A Distributed Map's map run: one child execution per item (or per batch), bounded concurrency,
 * tolerated failures, and the ResultWriter export. Items are streamed from their source twice at
 * most (once to count, once to run) and once more to write results, so only what is in flight is
 * held in memory. A map run that is resumed after a restart recognises its children by their
 * deterministic names and never starts one twice.
 */
import { createHash } from "node:crypto";
import { setMaxListeners } from "node:events";
import { StatesError } from "./errors";
import type { ChildOutcome } from "./run-types";
import { Interrupted } from "./run-types";

/** What the map run needs from the engine around it. */
export interface MapRunHost {
  /** The child's final or current outcome, if it was ever started. */
  lookup(executionArn: string): ChildOutcome | undefined;
  startChild(input: {
    executionArn: string;
    name: string;
    stateMachineArn: string;
    stateMachineName: string;
    definition: string;
    input: string;
    mapRunArn: string;
    itemCount: number;
  }): Promise<void>;
  waitForChild(executionArn: string, signal: AbortSignal): Promise<ChildOutcome>;
  stopChild(executionArn: string, error: string, cause: string): Promise<void>;
  putObject(bucket: string, key: string, body: Buffer): Promise<void>;
  /** Records the map run's settings and totals (called when it starts) and its end. */
  saveMapRun(record: MapRunRecord): Promise<void>;
}

export type MapRunStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "ABORTED";

/** What DescribeMapRun reports beyond the live counts. */
export interface MapRunRecord {
  mapRunArn: string;
  executionArn: string;
  stateMachineArn: string;
  /** Epoch milliseconds. */
  startDate: number;
  stopDate?: number;
  status: MapRunStatus;
  maxConcurrency: number;
  toleratedFailurePercentage: number;
  toleratedFailureCount: number;
  totalItems: number;
  totalChildren: number;
}

/** A Distributed Map state with every path already resolved against its input. */
export interface MapRunSpec {
  mapRunArn: string;
  executionArn: string;
  parentStateMachineArn: string;
  parentStateMachineName: string;
  startDate: number;
  /** The ItemProcessor as a standalone definition (JSON text). */
  definition: string;
  items: () => AsyncIterable<unknown>;
  /** Applies ItemSelector to one item. */
  select: (item: unknown, index: number) => unknown;
  batcher?: { maxItems?: number; maxBytes?: number; batchInput?: unknown };
  maxConcurrency: number;
  toleratedFailurePercentage?: number;
  toleratedFailureCount?: number;
  resultWriter?: {
    bucket: string;
    prefix: string;
    transformation: ResultTransformation;
    outputType: "JSON" | "JSONL";
  };
  /** How the state output lists the children's results when nothing is exported (default COMPACT). */
  outputTransformation?: ResultTransformation;
  now: () => number;
}

/**
 * WriterConfig.Transformation: NONE keeps each child's record with its metadata, COMPACT keeps
 * only the outputs, FLATTEN also splices array outputs into the list. A failed child's record is
 * always kept whole (AWS: "returns its execution result unchanged").
 */
export type ResultTransformation = "NONE" | "COMPACT" | "FLATTEN";

/** Step Functions runs at most this many children at once when MaxConcurrency is 0 or absent. */
export const DEFAULT_MAX_CONCURRENCY = 10_000;
/** Result files are split at this size so writing them never needs the whole export in memory. */
export const MAX_RESULT_FILE_BYTES = 5 * 1024 * 1024;
/** AWS's limit on one batch's input. */
const MAX_BATCH_BYTES = 262_144;

const EXCEEDED_CAUSE = "The specified tolerated failure threshold was exceeded";

/** A UUID-shaped id derived from a seed, so the same map run or child gets the same id after a restart. */
export function stableId(seed: string): string {
  const hex = createHash("sha256").update(seed).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** `arn:…:mapRun:<stateMachineName>/<Label>:<mapRunId>` → the id. */
export function mapRunId(mapRunArn: string): string {
  return mapRunArn.slice(mapRunArn.lastIndexOf(":") + 1);
}

interface Unit {
  index: number;
  input: unknown;
  itemCount: number;
}

/** Children's inputs in order: one per item, or one `{BatchInput, Items}` per batch. */
async function* unitsOf(spec: MapRunSpec): AsyncGenerator<Unit> {
  let index = 0;
  let itemIndex = 0;
  const batcher = spec.batcher;
  let batch: unknown[] = [];
  let batchBytes = 0;
  const maxBytes = Math.min(batcher?.maxBytes ?? MAX_BATCH_BYTES, MAX_BATCH_BYTES);
  const flush = (): Unit => {
    const input = {
      ...(batcher?.batchInput === undefined ? {} : { BatchInput: batcher.batchInput }),
      Items: batch,
    };
    const unit = { index: index++, input, itemCount: batch.length };
    batch = [];
    batchBytes = 0;
    return unit;
  };
  for await (const item of spec.items()) {
    const selected = spec.select(item, itemIndex++);
    if (!batcher) {
      yield { index: index++, input: selected, itemCount: 1 };
      continue;
    }
    const size = Buffer.byteLength(JSON.stringify(selected ?? null));
    if (batch.length > 0 && batchBytes + size > maxBytes) yield flush();
    batch.push(selected);
    batchBytes += size;
    if (batcher.maxItems !== undefined && batch.length >= batcher.maxItems) yield flush();
  }
  if (batch.length > 0) yield flush();
}

function childIdentity(spec: MapRunSpec, index: number) {
  const id = mapRunId(spec.mapRunArn);
  const stateMachineName = `${spec.parentStateMachineName}/${id}`;
  const name = stableId(`${spec.mapRunArn}#${index}`);
  const arnPrefix = spec.parentStateMachineArn.slice(0, spec.parentStateMachineArn.indexOf(":stateMachine:"));
  return {
    name,
    stateMachineName,
    stateMachineArn: `${arnPrefix}:stateMachine:${stateMachineName}`,
    executionArn: `${arnPrefix}:execution:${stateMachineName}:${name}`,
  };
}

const isFailure = (status: string) => status === "FAILED" || status === "TIMED_OUT" || status === "ABORTED";

/**
 * Runs (or resumes) a map run to its end. Resolves with the Map state's result: the children's
 * outputs in order, or the ResultWriter pointer. Rejects with States.ExceedToleratedFailureThreshold,
 * States.ItemReaderFailed or States.ResultWriterFailed, or with the signal's reason.
 */
export async function runMapRun(host: MapRunHost, spec: MapRunSpec, signal: AbortSignal): Promise<unknown> {
  let totalItems = 0;
  let totalChildren = 0;
  for await (const unit of unitsOf(spec)) {
    totalItems += unit.itemCount;
    totalChildren++;
  }
  const record: MapRunRecord = {
    mapRunArn: spec.mapRunArn,
    executionArn: spec.executionArn,
    stateMachineArn: spec.parentStateMachineArn,
    startDate: spec.startDate,
    status: "RUNNING",
    maxConcurrency: spec.maxConcurrency,
    toleratedFailurePercentage: spec.toleratedFailurePercentage ?? 0,
    toleratedFailureCount: spec.toleratedFailureCount ?? 0,
    totalItems,
    totalChildren,
  };
  await host.saveMapRun(record);

  const limit = spec.maxConcurrency > 0 ? spec.maxConcurrency : DEFAULT_MAX_CONCURRENCY;
  const outputs: unknown[] | undefined = spec.resultWriter ? undefined : [];
  const running = new Map<string, Promise<void>>();
  let firstError: unknown;
  let failedItems = 0;
  let exceeded = false;
  const stopAll = (error: string, cause: string) =>
    Promise.all([...running.keys()].map((arn) => host.stopChild(arn, error, cause).catch(() => {})));
  const exceeds = () => {
    const { toleratedFailurePercentage: percentage, toleratedFailureCount: count } = spec;
    if (percentage === undefined && count === undefined) return failedItems > 0;
    if (count !== undefined && failedItems > count) return true;
    return percentage !== undefined && totalItems > 0 && (failedItems / totalItems) * 100 > percentage;
  };
  const onAbort = () => {
    const reason = signal.reason;
    // Stopping or timing out the parent aborts its children; a closing engine leaves them to resume.
    if (reason instanceof Interrupted && reason.kind !== "closed") {
      void stopAll("States.Aborted", "The parent execution was stopped");
    }
  };
  // Every child in flight waits on the parent's signal; that many listeners is expected.
  setMaxListeners(0, signal);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const unit of unitsOf(spec)) {
      if (exceeded || signal.aborted || firstError) break;
      while (running.size >= limit) await Promise.race(running.values());
      if (exceeded || signal.aborted || firstError) break;
      const child = childIdentity(spec, unit.index);
      const work = (async () => {
        if (!host.lookup(child.executionArn)) {
          await host.startChild({
            ...child,
            definition: spec.definition,
            input: JSON.stringify(unit.input ?? null),
            mapRunArn: spec.mapRunArn,
            itemCount: unit.itemCount,
          });
        }
        const outcome = await host.waitForChild(child.executionArn, signal);
        if (isFailure(outcome.status)) {
          failedItems += unit.itemCount;
          if (!exceeded && exceeds()) {
            exceeded = true;
            await stopAll("States.ExceedToleratedFailureThreshold", EXCEEDED_CAUSE);
          }
          if (outputs) {
            outputs[unit.index] =
              spec.outputTransformation === undefined
                ? { Error: outcome.error ?? "", Cause: outcome.cause ?? "" }
                : resultRecord(outcome, JSON.stringify(unit.input ?? null));
          }
        } else if (outputs) {
          outputs[unit.index] =
            spec.outputTransformation === "NONE"
              ? resultRecord(outcome, JSON.stringify(unit.input ?? null))
              : outcome.output === undefined
                ? null
                : JSON.parse(outcome.output);
        }
      })()
        .catch((error: unknown) => {
          firstError ??= error;
        })
        .finally(() => running.delete(child.executionArn));
      running.set(child.executionArn, work);
    }
    await Promise.allSettled(running.values());
    if (signal.aborted) throw signal.reason;
    if (firstError) throw firstError;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }

  let result: unknown =
    spec.outputTransformation === "FLATTEN" && outputs
      ? outputs.flatMap((output) => (Array.isArray(output) ? output : [output]))
      : outputs;
  if (spec.resultWriter) result = await writeResults(host, spec, spec.resultWriter);
  await host.saveMapRun({ ...record, status: exceeded ? "FAILED" : "SUCCEEDED", stopDate: spec.now() });
  if (exceeded) throw new StatesError("States.ExceedToleratedFailureThreshold", EXCEEDED_CAUSE);
  return result;
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

/** One child's line in a result file, as the NONE transformation exports it. */
function resultRecord(outcome: ChildOutcome | undefined, input: string) {
  if (!outcome) return { Input: input, InputDetails: { Included: true }, Status: "PENDING" };
  return {
    ExecutionArn: outcome.executionArn,
    Input: outcome.input,
    InputDetails: { Included: true },
    Name: outcome.name,
    ...(outcome.output === undefined ? {} : { Output: outcome.output, OutputDetails: { Included: true } }),
    ...(outcome.error === undefined ? {} : { Error: outcome.error }),
    ...(outcome.cause === undefined ? {} : { Cause: outcome.cause }),
    RedriveCount: 0,
    RedriveStatus: "NOT_REDRIVABLE",
    RedriveStatusReason: `Execution is ${outcome.status} and cannot be redriven`,
    StartDate: iso(outcome.startDate),
    StateMachineArn: outcome.stateMachineArn,
    Status: outcome.status,
    ...(outcome.stopDate === undefined ? {} : { StopDate: iso(outcome.stopDate) }),
  };
}

type ResultKind = "SUCCEEDED" | "FAILED" | "PENDING";

/** The records one child contributes to its status's result file under a transformation. */
function exportedRecords(
  kind: ResultKind,
  outcome: ChildOutcome | undefined,
  input: string,
  transformation: ResultTransformation,
): unknown[] {
  if (kind !== "SUCCEEDED" || !outcome || transformation === "NONE") return [resultRecord(outcome, input)];
  const output = outcome.output === undefined ? null : (JSON.parse(outcome.output) as unknown);
  return transformation === "FLATTEN" && Array.isArray(output) ? output : [output];
}

/**
 * Writes `<Prefix>/<mapRunId>/{SUCCEEDED,FAILED,PENDING}_n.json` (`.jsonl` for JSON Lines) and
 * `manifest.json`; each results file is a JSON array, or one record per line for JSONL.
 */
async function writeResults(
  host: MapRunHost,
  spec: MapRunSpec,
  writer: NonNullable<MapRunSpec["resultWriter"]>,
): Promise<unknown> {
  const base = `${writer.prefix ? `${writer.prefix.replace(/\/$/, "")}/` : ""}${mapRunId(spec.mapRunArn)}`;
  const extension = writer.outputType === "JSONL" ? "jsonl" : "json";
  const files: Record<ResultKind, { Key: string; Size: number }[]> = {
    FAILED: [],
    PENDING: [],
    SUCCEEDED: [],
  };
  const buffers: Record<ResultKind, string[]> = { FAILED: [], PENDING: [], SUCCEEDED: [] };
  const sizes: Record<ResultKind, number> = { FAILED: 0, PENDING: 0, SUCCEEDED: 0 };
  const put = async (key: string, body: Buffer) => {
    try {
      await host.putObject(writer.bucket, key, body);
    } catch (error) {
      throw new StatesError(
        "States.ResultWriterFailed",
        `Unable to write s3://${writer.bucket}/${key}: ${(error as Error).message}`,
      );
    }
  };
  const flush = async (kind: ResultKind) => {
    if (buffers[kind].length === 0) return;
    const text =
      writer.outputType === "JSONL" ? `${buffers[kind].join("\n")}\n` : `[${buffers[kind].join(",")}]`;
    const body = Buffer.from(text);
    const key = `${base}/${kind}_${files[kind].length}.${extension}`;
    await put(key, body);
    files[kind].push({ Key: key, Size: body.length });
    buffers[kind] = [];
    sizes[kind] = 0;
  };
  for await (const unit of unitsOf(spec)) {
    const outcome = host.lookup(childIdentity(spec, unit.index).executionArn);
    const kind: ResultKind = !outcome ? "PENDING" : outcome.status === "SUCCEEDED" ? "SUCCEEDED" : "FAILED";
    if (outcome?.status === "RUNNING") continue;
    const input = JSON.stringify(unit.input ?? null);
    for (const record of exportedRecords(kind, outcome, input, writer.transformation)) {
      const line = JSON.stringify(record ?? null);
      if (sizes[kind] + line.length > MAX_RESULT_FILE_BYTES) await flush(kind);
      buffers[kind].push(line);
      sizes[kind] += line.length + 1;
    }
  }
  for (const kind of ["SUCCEEDED", "FAILED", "PENDING"] as const) await flush(kind);
  const manifestKey = `${base}/manifest.json`;
  const manifest = { DestinationBucket: writer.bucket, MapRunArn: spec.mapRunArn, ResultFiles: files };
  await put(manifestKey, Buffer.from(JSON.stringify(manifest)));
  return { MapRunArn: spec.mapRunArn, ResultWriterDetails: { Bucket: writer.bucket, Key: manifestKey } };
}
