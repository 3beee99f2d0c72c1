/**
 * The local Step Functions service: state machines, executions with durable histories, task-token
 * callbacks, and the awsJson1_0 API the SDK's SFNClient talks to.
 */
import { createHash, hash, randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type Clock,
  type ExecutionStarter,
  type LambdaInvoker,
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  type ServiceHandler,
  systemClock,
} from "../contracts";
import { ServiceError } from "../edge/protocol";
import { createStatesHandler } from "./api";
import { type Definition, parseDefinition, readValidatedDefinition } from "./definition";
import { DefinitionStore } from "./definition-store";
import { InvalidDefinitionError, StatesError } from "./errors";
import { DATA_DETAILS, ExecutionLog, readLog, readLogEnds, type StoredEvent, toWireEvent } from "./history";
import type { ReadableObjects } from "./item-reader";
import { openJournal } from "./journal";
import type { MapRunHost, MapRunRecord } from "./map-run";
import { type StateMachineRecord, StateMachineRegistry, type StateMachineType } from "./registry";
import { type ChildOutcome, Interrupted, type TokenWaiter } from "./run-types";
import { ExecutionRun, MAX_HISTORY_EVENTS } from "./runtime";
import { after, type Timer } from "./timers";
import { TokenTable, tokenExecution, tokenOpenIn } from "./tokens";

export type ExecutionStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";

/** DescribeExecution's answer (timestamps in epoch seconds, as on the wire). */
export interface ExecutionDescription {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: number;
  stopDate?: number;
  input: string;
  inputDetails: { included: boolean };
  output?: string;
  outputDetails?: { included: boolean };
  error?: string;
  cause?: string;
  mapRunArn?: string;
  redriveCount: number;
  redriveDate?: number;
  redriveStatus: "REDRIVABLE" | "NOT_REDRIVABLE" | "REDRIVABLE_BY_MAP_RUN";
  redriveStatusReason?: string;
}

export interface ExecutionListItem {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: number;
  stopDate?: number;
  mapRunArn?: string;
  itemCount?: number;
  redriveCount: number;
  redriveDate?: number;
}

/** Counts of a map run's items or child executions by status (DescribeMapRun). */
export interface MapRunCounts {
  pending: number;
  running: number;
  succeeded: number;
  failed: number;
  timedOut: number;
  aborted: number;
  total: number;
  resultsWritten: number;
  failuresNotRedrivable: number;
  pendingRedrive: number;
}

/** DescribeMapRun's answer (epoch-second dates). */
export interface MapRunDescription {
  mapRunArn: string;
  executionArn: string;
  status: MapRunRecord["status"];
  startDate: number;
  stopDate?: number;
  maxConcurrency: number;
  toleratedFailurePercentage: number;
  toleratedFailureCount: number;
  itemCounts: MapRunCounts;
  executionCounts: MapRunCounts;
  redriveCount: number;
}

/** A history event on the wire: `timestamp`, `type`, `id`, `previousEventId`, `<camelType>EventDetails`. */
export type HistoryEvent = Record<string, unknown> & {
  timestamp: number;
  type: string;
  id: number;
  previousEventId: number;
};

export interface StateMachineDescription {
  stateMachineArn: string;
  name: string;
  status: "ACTIVE";
  definition: string;
  roleArn: string;
  type: StateMachineType;
  creationDate: number;
  loggingConfiguration: { level: "OFF"; includeExecutionData: boolean };
  tracingConfiguration: { enabled: boolean };
}

export interface StatesEngineOptions {
  dataDir: string;
  invoker: LambdaInvoker;
  sdk?: (service: string, action: string, params: unknown) => Promise<unknown>;
  clock?: Clock;
  /** Multiplies Wait durations, retry intervals and timeouts (e.g. 0.001 in tests); 1 = real time. */
  timeScale?: number;
  /** The local S3, read by Distributed Map ItemReaders and written by ResultWriters. */
  objects?: ReadableObjects;
  /**
   * How often written logs are flushed and the journal retired (default 1 s). Tests lengthen it so
   * that a killed process leaves every acknowledgement in the journal alone, as a power cut would.
   */
  checkpointIntervalMs?: number;
}

export interface StatesEngine extends ExecutionStarter {
  /** The awsJson1_0 API (`X-Amz-Target: AWSStepFunctions.<Op>`). */
  handler: ServiceHandler;
  /** Creates a state machine, or updates the one with the same name. */
  createStateMachine(input: {
    name: string;
    definition: string;
    roleArn?: string;
    type?: StateMachineType;
  }): Promise<{ stateMachineArn: string }>;
  describeStateMachine(stateMachineArn: string): Promise<StateMachineDescription>;
  updateStateMachine(input: {
    stateMachineArn: string;
    definition?: string;
    roleArn?: string;
  }): Promise<{ updateDate: number }>;
  /** Forgets the machine; its running executions carry their own definition and finish. */
  deleteStateMachine(stateMachineArn: string): Promise<void>;
  listStateMachines(input?: { maxResults?: number; nextToken?: string }): Promise<{
    stateMachines: { stateMachineArn: string; name: string; type: StateMachineType; creationDate: number }[];
    nextToken?: string;
  }>;
  startExecution(input: {
    stateMachineArn: string;
    name?: string;
    input?: string;
  }): Promise<{ executionArn: string; startDate: number }>;
  describeExecution(executionArn: string): Promise<ExecutionDescription>;
  listExecutions(input: {
    stateMachineArn?: string;
    mapRunArn?: string;
    statusFilter?: ExecutionStatus;
    /** REDRIVEN lists executions redriven at least once, NOT_REDRIVEN the others. */
    redriveFilter?: "REDRIVEN" | "NOT_REDRIVEN";
    maxResults?: number;
    nextToken?: string;
  }): Promise<{ executions: ExecutionListItem[]; nextToken?: string }>;
  getExecutionHistory(input: {
    executionArn: string;
    maxResults?: number;
    reverseOrder?: boolean;
    nextToken?: string;
    includeExecutionData?: boolean;
  }): Promise<{ events: HistoryEvent[]; nextToken?: string }>;
  stopExecution(executionArn: string, error?: string, cause?: string): Promise<{ stopDate: number }>;
  /** Continues a FAILED, TIMED_OUT or ABORTED standard execution from its unsuccessful state. */
  redriveExecution(executionArn: string): Promise<{ redriveDate: number }>;
  listMapRuns(input: { executionArn: string; maxResults?: number; nextToken?: string }): Promise<{
    mapRuns: {
      executionArn: string;
      mapRunArn: string;
      stateMachineArn: string;
      startDate: number;
      stopDate?: number;
    }[];
    nextToken?: string;
  }>;
  describeMapRun(mapRunArn: string): Promise<MapRunDescription>;
  sendTaskSuccess(token: string, output: string): Promise<void>;
  sendTaskFailure(token: string, error?: string, cause?: string): Promise<void>;
  sendTaskHeartbeat(token: string): Promise<void>;
  /** Called after every history event and status change; returns the unsubscribe function. */
  onExecutionChange(listener: (executionArn: string, status: string) => void): () => void;
  /** Continues the RUNNING executions found on disk. */
  resume(): Promise<void>;
  /** Stops timers and runs without recording anything further; safe at any moment. */
  close(): Promise<void>;
}

/** AWS's payload limit for execution input, task output and state data. */
export const MAX_PAYLOAD_BYTES = 262_144;
/** How often the logs of running executions are flushed to disk between acknowledgements. */
const FLUSH_INTERVAL_MS = 1_000;
const DEFAULT_ROLE_ARN = `arn:aws:iam::${LOCAL_ACCOUNT}:role/secondlook-local-states`;
const ARN_PREFIX = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:`;
// Whitespace, brackets, wildcards and the listed punctuation (control characters are checked by code).
const FORBIDDEN_NAME = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/;

/** Control characters, non-characters and lone surrogates are not allowed in names. */
function hasForbiddenCodeUnit(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (
      code <= 0x1f ||
      (code >= 0x7f && code <= 0x9f) ||
      code >= 0xfffe ||
      (code >= 0xd800 && code <= 0xdfff)
    ) {
      return true;
    }
  }
  return false;
}

interface ExecutionRecord {
  arn: string;
  name: string;
  stateMachineArn: string;
  stateMachineName: string;
  definition: string;
  roleArn: string;
  type: StateMachineType;
  /** Held while RUNNING; a closed execution's input and result are read back from its log. */
  input?: string;
  startDate: number;
  status: ExecutionStatus;
  stopDate?: number;
  /** Set on a Distributed Map's child executions. */
  mapRunArn?: string;
  itemCount?: number;
  /** Creation order, newest highest: ListExecutions' sort and paging key. */
  seq: number;
  /** Loaded for running executions; read from disk on demand for closed ones. */
  events?: StoredEvent[];
  nextId: number;
  log?: ExecutionLog;
  controller?: AbortController;
  timer?: Timer;
  run?: ExecutionRun;
  /** Set while StartExecution makes the start durable: the start launches it, never resume(). */
  starting?: boolean;
  /** How often, and last when, the execution was redriven (epoch ms). */
  redriveCount?: number;
  redriveDate?: number;
}

/** What a closed execution began with and ended with, as its log records them. */
interface ClosedData {
  input: string;
  output?: string;
  error?: string;
  cause?: string;
}

/**
 * Closed executions' inputs and results kept in memory, most recently used last; the rest are read
 * back from their logs, so memory does not grow with the number of executions ever run.
 */
const CLOSED_CACHE_SIZE = 256;

const TERMINAL: Record<string, ExecutionStatus> = {
  ExecutionSucceeded: "SUCCEEDED",
  ExecutionFailed: "FAILED",
  ExecutionTimedOut: "TIMED_OUT",
  ExecutionAborted: "ABORTED",
};

/** AWS redrives executions that closed within the last 14 days. */
const REDRIVE_PERIOD_MS = 14 * 24 * 3600 * 1000;
/** A standard execution may run for a year, redrives included. */
const MAX_EXECUTION_MS = 365 * 24 * 3600 * 1000;

/** The redrive count and date recorded in a running log, or on a closed log's last event. */
function redriveOf(events: StoredEvent[]): { redriveCount?: number; redriveDate?: number } {
  let info: { redriveCount?: number; redriveDate?: number } = {};
  for (const event of events) {
    if (event.type === "ExecutionRedriven") {
      info = { redriveCount: Number(event.details?.redriveCount), redriveDate: event.timestamp };
    } else if (event.meta?.redriveCount !== undefined) {
      info = { redriveCount: Number(event.meta.redriveCount), redriveDate: Number(event.meta.redriveDate) };
    }
  }
  return info;
}

function isName(name: string): boolean {
  return name.length >= 1 && name.length <= 80 && !FORBIDDEN_NAME.test(name) && !hasForbiddenCodeUnit(name);
}

function seconds(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : ms / 1000;
}

/** Opaque paging token carrying a position; anything else is refused with InvalidToken. */
function encodeToken(kind: string, position: number, scope: string): string {
  return Buffer.from(JSON.stringify({ k: kind, p: position, s: scope })).toString("base64url");
}

function decodeToken(token: string, kind: string, scope: string): number {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Record<string, unknown>;
    if (parsed.k === kind && parsed.s === scope && typeof parsed.p === "number") return parsed.p;
  } catch {
    // Falls through to the InvalidToken below.
  }
  throw new ServiceError("InvalidToken", `Invalid pagination token: ${token}`);
}

function pageSize(maxResults: number | undefined): number {
  if (maxResults === undefined || maxResults === 0) return 100;
  if (!Number.isInteger(maxResults) || maxResults < 0 || maxResults > 1000) {
    throw new ServiceError("ValidationException", "maxResults must be between 0 and 1000");
  }
  return maxResults;
}

function requireJson(text: string, code: string, what: string) {
  if (Buffer.byteLength(text, "utf8") > MAX_PAYLOAD_BYTES) {
    throw new ServiceError(
      "ValidationException",
      `${what} exceeds the maximum size of ${MAX_PAYLOAD_BYTES} bytes`,
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ServiceError(code, `${what} is not valid JSON`);
  }
}

/** Builds the engine over `<dataDir>/states/`; call `resume()` once the integrations are ready. */
export async function createStatesEngine(options: StatesEngineOptions): Promise<StatesEngine> {
  const clock = options.clock ?? systemClock;
  const timeScale = options.timeScale ?? 1;
  if (!(timeScale > 0)) throw new RangeError(`timeScale must be positive, got ${timeScale}`);
  const root = join(options.dataDir, "states");
  const executionsDir = join(root, "executions");
  const mapRunsDir = join(root, "map-runs");
  mkdirSync(executionsDir, { recursive: true });
  mkdirSync(mapRunsDir, { recursive: true });
  const mapRuns = new Map<string, MapRunRecord>();
  const mapRunChildren = new Map<string, Set<string>>();
  const registry = new StateMachineRegistry(join(root, "state-machines.json"));
  const executions = new Map<string, ExecutionRecord>();
  const tokens = new TokenTable<TokenWaiter>();
  const listeners = new Set<(executionArn: string, status: string) => void>();
  const childWaiters = new Map<string, Set<(outcome: ChildOutcome) => void>>();
  let seq = 0;
  let closed = false;
  const closedCache = new Map<string, ClosedData>();
  // Loaded records repeat the same ARNs, names and (in older logs) definitions: one copy of each.
  const internedTexts = new Map<string, string>();

  const definitions = new DefinitionStore(join(root, "definitions"));
  // Replays what a crash left in the journal into the execution logs before anything reads them.
  const journal = openJournal(root, executionsDir);
  loadExecutions();
  loadMapRuns();

  function loadMapRuns() {
    for (const file of readdirSync(mapRunsDir)) {
      if (!file.endsWith(".json")) continue;
      const record = JSON.parse(readFileSync(join(mapRunsDir, file), "utf8")) as MapRunRecord;
      mapRuns.set(record.mapRunArn, record);
    }
  }

  function indexChild(record: ExecutionRecord) {
    if (!record.mapRunArn) return;
    const children = mapRunChildren.get(record.mapRunArn) ?? new Set();
    children.add(record.arn);
    mapRunChildren.set(record.mapRunArn, children);
  }

  // Steps reach the journal's segment (the page cache) within the event-loop turn that made them,
  // and always before an effect or an answer depends on them; a checkpoint every second writes each
  // history's new lines into its own file, flushes them, and retires the journal segments they
  // cover, which bounds what a power cut could lose without an fsync per step. A failed checkpoint
  // keeps its segments and lines for the next one.
  const flusher = setInterval(() => {
    void journal.checkpoint().catch(() => {});
  }, options.checkpointIntervalMs ?? FLUSH_INTERVAL_MS);
  flusher.unref();

  function loadExecutions() {
    const loaded: ExecutionRecord[] = [];
    for (const file of readdirSync(executionsDir)) {
      if (!file.endsWith(".jsonl")) continue;
      const path = join(executionsDir, file);
      // A closed execution needs only how it began and ended; a running one is read whole.
      const { first: started, last } = readLogEnds(path);
      if (started?.type !== "ExecutionStarted" || !last) continue;
      const meta = started.meta as Record<string, string>;
      const record: ExecutionRecord = {
        arn: meta.executionArn as string,
        name: meta.name as string,
        stateMachineArn: sharedText(meta.stateMachineArn as string),
        stateMachineName: sharedText(meta.stateMachineName as string),
        // Logs written before the definition store carry the text itself.
        definition:
          meta.definition !== undefined
            ? sharedText(meta.definition)
            : definitions.get(meta.definitionHash as string),
        type: meta.type as StateMachineType,
        roleArn: sharedText(String(started.details?.roleArn)),
        input: String(started.details?.input),
        startDate: started.timestamp,
        status: "RUNNING",
        seq: 0,
        nextId: 1,
        ...(meta.mapRunArn
          ? { mapRunArn: sharedText(meta.mapRunArn), itemCount: Number(meta.itemCount ?? 1) }
          : {}),
      };
      const status = TERMINAL[last.type];
      if (status) closeRecord(record, status, last);
      else {
        record.events = readLog(path);
        record.nextId = record.events.length + 1;
      }
      Object.assign(record, redriveOf(status ? [last] : (record.events ?? [])));
      loaded.push(record);
    }
    loaded.sort((a, b) => a.startDate - b.startDate);
    for (const record of loaded) {
      record.seq = ++seq;
      executions.set(record.arn, record);
      indexChild(record);
    }
  }

  /** An execution's log file, named by its ARN's hash (not kept per record: it is rebuilt on demand). */
  function fileOf(executionArn: string): string {
    return join(
      executionsDir,
      // One-shot hash: a start costs one, and createHash's object is most of that.
      `${hash("sha256", executionArn, "hex").slice(0, 40)}.jsonl`,
    );
  }

  function sharedText(text: string): string {
    const shared = internedTexts.get(text);
    if (shared !== undefined) return shared;
    internedTexts.set(text, text);
    return text;
  }

  function closeRecord(record: ExecutionRecord, status: ExecutionStatus, event: StoredEvent) {
    record.status = status;
    record.stopDate = event.timestamp;
    remember(record.arn, { input: record.input ?? "null", ...resultOf(event) });
    record.input = undefined;
  }

  function resultOf(event: StoredEvent | undefined): Omit<ClosedData, "input"> {
    const details = event?.details ?? {};
    return {
      ...(typeof details.output === "string" ? { output: details.output } : {}),
      ...(typeof details.error === "string" ? { error: details.error } : {}),
      ...(typeof details.cause === "string" ? { cause: details.cause } : {}),
    };
  }

  function remember(executionArn: string, data: ClosedData) {
    closedCache.delete(executionArn);
    closedCache.set(executionArn, data);
    for (const oldest of closedCache.keys()) {
      if (closedCache.size <= CLOSED_CACHE_SIZE) break;
      closedCache.delete(oldest);
    }
  }

  /** A closed execution's input and result: from the cache, or from its first and last events. */
  function closedData(record: ExecutionRecord): ClosedData {
    const cached = closedCache.get(record.arn);
    if (cached) {
      remember(record.arn, cached);
      return cached;
    }
    const events = eventsOf(record);
    const data = { input: String(events[0]?.details?.input ?? "null"), ...resultOf(events.at(-1)) };
    remember(record.arn, data);
    return data;
  }

  function notify(record: ExecutionRecord) {
    for (const listener of listeners) {
      try {
        listener(record.arn, record.status);
      } catch {
        // A failing observer must not break the execution it observes.
      }
    }
  }

  /** Numbers an event (in place, ignoring any id it has) and records it. */
  function append(record: ExecutionRecord, event: Omit<StoredEvent, "id"> & { id?: number }): StoredEvent {
    if (!record.log || !record.events) throw new Interrupted("closed");
    event.id = record.nextId;
    const stored = event as StoredEvent;
    record.log.append(stored);
    record.nextId++;
    record.events.push(stored);
    notify(record);
    return stored;
  }

  function dataOf(record: ExecutionRecord): ClosedData {
    return record.status === "RUNNING" ? { input: record.input ?? "null" } : closedData(record);
  }

  function outcome(record: ExecutionRecord): ChildOutcome {
    const data = dataOf(record);
    return {
      executionArn: record.arn,
      stateMachineArn: record.stateMachineArn,
      name: record.name,
      status: record.status,
      startDate: record.startDate,
      input: data.input,
      ...(record.stopDate === undefined ? {} : { stopDate: record.stopDate }),
      ...(data.output === undefined ? {} : { output: data.output }),
      ...(data.error === undefined ? {} : { error: data.error }),
      ...(data.cause === undefined ? {} : { cause: data.cause }),
    };
  }

  /** Writes the closing event and releases the execution's resources; the first close wins. */
  function finish(
    record: ExecutionRecord,
    type: "ExecutionSucceeded" | "ExecutionFailed" | "ExecutionAborted" | "ExecutionTimedOut",
    details: Record<string, unknown>,
  ): Promise<void> {
    if (record.status !== "RUNNING" || closed) return Promise.resolve();
    record.timer?.clear();
    // AWS links a stopped execution's ExecutionAborted to no event (0), not to the last state's.
    const previousEventId = type === "ExecutionAborted" ? 0 : (record.run?.lastTopLevelId() ?? 0);
    const event = append(record, {
      previousEventId,
      timestamp: clock.now().getTime(),
      type,
      details,
      scope: "",
      // A closed execution is loaded from its first and last events: the last keeps the redrives.
      ...(record.redriveCount
        ? { meta: { redriveCount: record.redriveCount, redriveDate: record.redriveDate } }
        : {}),
    });
    closeRecord(record, TERMINAL[type] as ExecutionStatus, event);
    tokens.deleteExecution(record.arn);
    const log = record.log;
    record.log = undefined;
    record.run = undefined;
    record.controller = undefined;
    // Only a stop is acknowledged to a caller: its closing event is made durable through the
    // journal's shared flush; other closes reach the disk with the next checkpoint.
    const flushed = log && type === "ExecutionAborted" ? journal.commit(log) : Promise.resolve();
    flushed.catch(() => {});
    log?.close();
    // The history is read from memory until the checkpoint has written it into the log's file.
    const file = log?.file ?? fileOf(record.arn);
    journal.whenWritten(file, () => {
      // A redrive may have recorded more since; its own close lets go of them once they are written.
      if (record.status !== "RUNNING" && !journal.holds(file)) record.events = undefined;
    });
    notify(record);
    const waiters = childWaiters.get(record.arn);
    childWaiters.delete(record.arn);
    for (const waiter of waiters ?? []) waiter(outcome(record));
    return flushed;
  }

  function failureDetails(error: string, cause: string) {
    return { ...(error ? { error } : {}), ...(cause ? { cause } : {}) };
  }

  // Everything a run does outside the engine waits until the events before it are written to the
  // journal (journal.ts): a killed process then loses only steps no one outside saw.
  const gatedInvoker: LambdaInvoker = {
    invoke: async (functionArn, payload) => {
      await journal.written();
      return options.invoker.invoke(functionArn, payload);
    },
  };
  const sdk = options.sdk;
  const gatedSdk =
    sdk &&
    (async (service: string, action: string, params: unknown) => {
      await journal.written();
      return sdk(service, action, params);
    });

  /** Starts (or, given its recorded events, resumes) interpreting an execution. */
  function launch(record: ExecutionRecord, recorded: StoredEvent[]) {
    const definition = definitionOf(record.definition);
    const controller = new AbortController();
    record.controller = controller;
    const run = new ExecutionRun(
      {
        invoker: gatedInvoker,
        ...(gatedSdk ? { sdk: gatedSdk } : {}),
        clock,
        timeScale,
        tokens,
        startChild: (input) => engine.startExecution(input),
        waitForChild,
        ...(options.objects ? { objects: options.objects } : {}),
        mapRuns: mapRunHost,
      },
      {
        executionArn: record.arn,
        name: record.name,
        stateMachineArn: record.stateMachineArn,
        stateMachineName: record.stateMachineName,
        roleArn: record.roleArn,
        input: JSON.parse(record.input ?? "null"),
        startDate: record.startDate,
        definition,
      },
      (event) => append(record, event),
      recorded,
    );
    record.run = run;
    if (definition.TimeoutSeconds !== undefined) {
      // A redriven execution gets its TimeoutSeconds again from the redrive.
      const from = record.redriveDate ?? record.startDate;
      const deadline = from + definition.TimeoutSeconds * 1000 * timeScale;
      record.timer = after(deadline - clock.now().getTime(), () => {
        controller.abort(new Interrupted("timed-out"));
        finish(record, "ExecutionTimedOut", { error: "States.Timeout", cause: "The execution timed out" });
      });
    }
    run.runTopLevel(controller.signal).then(
      (output) =>
        finish(record, "ExecutionSucceeded", {
          output: JSON.stringify(output ?? null),
          outputDetails: DATA_DETAILS,
        }),
      (error: unknown) => {
        if (error instanceof Interrupted) return;
        if (error instanceof StatesError) {
          finish(record, "ExecutionFailed", failureDetails(error.error, error.cause));
        } else {
          finish(record, "ExecutionFailed", { error: "States.Runtime", cause: (error as Error).message });
        }
      },
    );
  }

  /** Why RedriveExecution would refuse an execution (AWS's wording), or undefined if it would not. */
  function notRedrivable(record: ExecutionRecord): string | undefined {
    const now = clock.now().getTime();
    if (record.status === "RUNNING" || record.status === "SUCCEEDED") {
      return `Execution is ${record.status} and cannot be redriven`;
    }
    if (record.type === "EXPRESS") return "Execution of an EXPRESS state machine cannot be redriven";
    if (record.mapRunArn) return "Execution was started by a Map Run; redrive its parent execution";
    if (now - (record.stopDate ?? now) > REDRIVE_PERIOD_MS) return "Execution redrivable period exceeded";
    if (now - record.startDate > MAX_EXECUTION_MS) return "Execution has exceeded the max execution time";
    return undefined;
  }

  /** DescribeExecution's redrive members. */
  function redriveFields(record: ExecutionRecord) {
    const reason = notRedrivable(record);
    return {
      redriveCount: record.redriveCount ?? 0,
      ...(record.redriveDate === undefined ? {} : { redriveDate: record.redriveDate / 1000 }),
      ...(reason === undefined
        ? { redriveStatus: "REDRIVABLE" as const }
        : { redriveStatus: "NOT_REDRIVABLE" as const, redriveStatusReason: reason }),
    };
  }

  function waitForChild(executionArn: string, signal: AbortSignal): Promise<ChildOutcome> {
    return new Promise((resolve, reject) => {
      const record = executions.get(executionArn);
      if (!record)
        return reject(new StatesError("States.TaskFailed", `Execution ${executionArn} does not exist`));
      if (record.status !== "RUNNING") return resolve(outcome(record));
      const waiters = childWaiters.get(executionArn) ?? new Set();
      childWaiters.set(executionArn, waiters);
      const onAbort = () => {
        waiters.delete(done);
        reject(signal.reason);
      };
      const done = (result: ChildOutcome) => {
        signal.removeEventListener("abort", onAbort);
        resolve(result);
      };
      waiters.add(done);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  function machineOf(stateMachineArn: string): StateMachineRecord {
    if (!stateMachineArn.startsWith(`${ARN_PREFIX}stateMachine:`)) {
      throw new ServiceError("InvalidArn", `Invalid Arn: '${stateMachineArn}'`);
    }
    const machine = registry.get(stateMachineArn);
    if (!machine) {
      throw new ServiceError(
        "StateMachineDoesNotExist",
        `State Machine Does Not Exist: '${stateMachineArn}'`,
      );
    }
    return machine;
  }

  function executionOf(executionArn: string): ExecutionRecord {
    if (!executionArn.startsWith(`${ARN_PREFIX}execution:`)) {
      throw new ServiceError("InvalidArn", `Invalid Arn: '${executionArn}'`);
    }
    const record = executions.get(executionArn);
    if (!record)
      throw new ServiceError("ExecutionDoesNotExist", `Execution Does Not Exist: '${executionArn}'`);
    return record;
  }

  /** Stored definitions were validated on create/update; parse each text once. */
  const parsedDefinitions = new Map<string, Definition>();
  function definitionOf(text: string): Definition {
    let definition = parsedDefinitions.get(text);
    if (!definition) {
      definition = readValidatedDefinition(text);
      parsedDefinitions.set(text, definition);
    }
    return definition;
  }

  function validated(definition: string, type: StateMachineType) {
    // asl-validator compiles its schemas on every call (hundreds of ms); skip texts already accepted.
    if (registry.list().some((m) => m.definition === definition && m.type === type)) return;
    try {
      parseDefinition(definition, type);
    } catch (error) {
      if (error instanceof InvalidDefinitionError) throw new ServiceError("InvalidDefinition", error.message);
      throw error;
    }
  }

  function eventsOf(record: ExecutionRecord): StoredEvent[] {
    return record.events ?? readLog(fileOf(record.arn));
  }

  /** Continues one RUNNING execution found on disk from its recorded history. */
  function resumeRecord(record: ExecutionRecord) {
    // A record still starting is launched by its StartExecution; a second run would redo its steps.
    if (record.status !== "RUNNING" || record.run || record.starting || closed) return;
    const file = fileOf(record.arn);
    const events = record.events ?? readLog(file);
    record.events = events;
    record.nextId = events.length + 1;
    record.log = new ExecutionLog(file, journal);
    launch(record, events.slice());
  }

  /**
   * The open task a token belongs to. A callback can arrive before `resume()` (another service
   * replays an event at startup); its execution is then resumed first so the answer is not lost.
   */
  async function waiterFor(token: string): Promise<TokenWaiter> {
    const executionArn = token.length <= 2048 ? tokenExecution(token) : undefined;
    if (!executionArn) throw new ServiceError("InvalidToken", "Invalid Token: the task token is malformed");
    const record = executions.get(executionArn);
    if (!tokens.has(token) && record?.status === "RUNNING" && tokenOpenIn(eventsOf(record), token)) {
      resumeRecord(record);
      // The replay re-registers the open token when it reaches the task; until then wait, not refuse.
      await tokens.registered(token, () => record.status === "RUNNING" && !closed);
    }
    const waiter = tokens.get(token);
    if (!waiter)
      throw new ServiceError("TaskTimedOut", "Task Timed Out: the task is closed or its token expired");
    return waiter;
  }

  /** Lets the attempt record the outcome, then makes it durable before the caller is answered. */
  async function settled(executionArn: string) {
    // The log is taken first: if the answer ends the execution, finish() detaches it to close it.
    const log = executions.get(executionArn)?.log;
    await new Promise((resolve) => setImmediate(resolve));
    if (log) await journal.commit(log);
  }

  /** Records ExecutionStarted durably, then starts interpreting; the caller checked name and input. */
  async function createExecution(
    machine: { arn: string; name: string; definition: string; roleArn: string; type: StateMachineType },
    arn: string,
    name: string,
    inputText: string,
    child?: { mapRunArn: string; itemCount: number },
  ): Promise<ExecutionRecord> {
    const file = fileOf(arn);
    const startDate = clock.now().getTime();
    const record: ExecutionRecord = {
      arn,
      name,
      stateMachineArn: machine.arn,
      stateMachineName: machine.name,
      definition: machine.definition,
      roleArn: machine.roleArn,
      type: machine.type,
      input: inputText,
      startDate,
      status: "RUNNING",
      seq: ++seq,
      events: [],
      nextId: 1,
      log: new ExecutionLog(file, journal),
      ...(child ?? {}),
    };
    executions.set(arn, record);
    indexChild(record);
    // Until launched here, resume() (which a listener of the start may call) must leave it alone.
    record.starting = true;
    append(record, {
      previousEventId: 0,
      timestamp: startDate,
      type: "ExecutionStarted",
      scope: "",
      details: {
        input: inputText,
        inputDetails: DATA_DETAILS,
        roleArn: machine.roleArn,
      },
      meta: {
        executionArn: arn,
        name,
        stateMachineArn: machine.arn,
        stateMachineName: machine.name,
        definitionHash: definitions.put(machine.definition),
        type: machine.type,
        ...(child ? { mapRunArn: child.mapRunArn, itemCount: child.itemCount } : {}),
      },
    });
    // The run begins at once: its first effect waits for the journal's write(2) like every other
    // (journal.ts), so a killed process loses no step anyone saw. Only the acknowledgement waits
    // for the fdatasync, which covers every start waiting at that moment (group commit).
    record.starting = undefined;
    launch(record, record.events?.slice() ?? []);
    if (record.log) await journal.commit(record.log);
    return record;
  }

  const mapRunHost: MapRunHost = {
    lookup: (executionArn) => {
      const record = executions.get(executionArn);
      return record && outcome(record);
    },
    async startChild(input) {
      if (closed) throw new Interrupted("closed");
      await createExecution(
        {
          arn: input.stateMachineArn,
          name: input.stateMachineName,
          definition: input.definition,
          roleArn: DEFAULT_ROLE_ARN,
          type: "STANDARD",
        },
        input.executionArn,
        input.name,
        input.input,
        { mapRunArn: input.mapRunArn, itemCount: input.itemCount },
      );
    },
    waitForChild,
    async stopChild(executionArn, error, cause) {
      await engine.stopExecution(executionArn, error, cause);
    },
    async putObject(bucket, key, body) {
      if (!options.objects) throw new Error("The local engine was started without access to S3");
      await journal.written();
      await options.objects.put(bucket, key, body, "application/json");
    },
    async saveMapRun(record) {
      mapRuns.set(record.mapRunArn, record);
      // A map run on disk names children whose starts must be on disk before it.
      await journal.written();
      const file = join(
        mapRunsDir,
        `${createHash("sha256").update(record.mapRunArn).digest("hex").slice(0, 40)}.json`,
      );
      await writeFile(`${file}.tmp`, JSON.stringify(record));
      await rename(`${file}.tmp`, file);
    },
  };

  function mapRunOf(mapRunArn: string): MapRunRecord {
    if (!mapRunArn.startsWith(`${ARN_PREFIX}mapRun:`)) {
      throw new ServiceError("InvalidArn", `Invalid Arn: '${mapRunArn}'`);
    }
    const run = mapRuns.get(mapRunArn);
    if (!run) throw new ServiceError("ResourceNotFound", `Map Run Does Not Exist: '${mapRunArn}'`);
    return run;
  }

  function mapRunCounts(run: MapRunRecord, weight: (record: ExecutionRecord) => number, total: number) {
    const counts: MapRunCounts = {
      pending: 0,
      running: 0,
      succeeded: 0,
      failed: 0,
      timedOut: 0,
      aborted: 0,
      total,
      resultsWritten: 0,
      failuresNotRedrivable: 0,
      pendingRedrive: 0,
    };
    let started = 0;
    for (const arn of mapRunChildren.get(run.mapRunArn) ?? []) {
      const record = executions.get(arn);
      if (!record) continue;
      const n = weight(record);
      started += n;
      const key = (
        {
          RUNNING: "running",
          SUCCEEDED: "succeeded",
          FAILED: "failed",
          TIMED_OUT: "timedOut",
          ABORTED: "aborted",
        } as const
      )[record.status];
      counts[key] += n;
      if (record.status !== "RUNNING" && run.status !== "RUNNING") counts.resultsWritten += n;
    }
    counts.pending = Math.max(0, total - started);
    return counts;
  }

  const engine: Omit<StatesEngine, "handler"> = {
    async createStateMachine(input) {
      if (!isName(input.name)) throw new ServiceError("InvalidName", `Invalid Name: '${input.name}'`);
      const type = input.type ?? "STANDARD";
      validated(input.definition, type);
      // Stored (and flushed) now, so that no start of this machine waits on a definition file.
      definitions.put(input.definition);
      const arn = `${ARN_PREFIX}stateMachine:${input.name}`;
      const existing = registry.get(arn);
      const now = clock.now().getTime();
      await registry.put({
        name: input.name,
        arn,
        definition: input.definition,
        roleArn: input.roleArn ?? existing?.roleArn ?? DEFAULT_ROLE_ARN,
        type,
        creationDate: existing?.creationDate ?? now,
        ...(existing ? { updateDate: now } : {}),
      });
      return { stateMachineArn: arn };
    },

    async describeStateMachine(stateMachineArn) {
      const machine = machineOf(stateMachineArn);
      return {
        stateMachineArn: machine.arn,
        name: machine.name,
        status: "ACTIVE",
        definition: machine.definition,
        roleArn: machine.roleArn,
        type: machine.type,
        creationDate: machine.creationDate / 1000,
        loggingConfiguration: { level: "OFF", includeExecutionData: false },
        tracingConfiguration: { enabled: false },
      };
    },

    async updateStateMachine(input) {
      const machine = machineOf(input.stateMachineArn);
      if (input.definition !== undefined) {
        validated(input.definition, machine.type);
        definitions.put(input.definition);
      }
      const updateDate = clock.now().getTime();
      await registry.put({
        ...machine,
        ...(input.definition === undefined ? {} : { definition: input.definition }),
        ...(input.roleArn === undefined ? {} : { roleArn: input.roleArn }),
        updateDate,
      });
      return { updateDate: updateDate / 1000 };
    },

    async deleteStateMachine(stateMachineArn) {
      machineOf(stateMachineArn);
      await registry.delete(stateMachineArn);
    },

    async listStateMachines(input = {}) {
      const size = pageSize(input.maxResults);
      const start = input.nextToken ? decodeToken(input.nextToken, "machines", "") : 0;
      const all = registry.list();
      const page = all.slice(start, start + size);
      return {
        stateMachines: page.map((m) => ({
          stateMachineArn: m.arn,
          name: m.name,
          type: m.type,
          creationDate: m.creationDate / 1000,
        })),
        ...(start + size < all.length ? { nextToken: encodeToken("machines", start + size, "") } : {}),
      };
    },

    async startExecution(input) {
      if (closed)
        throw new ServiceError("ServiceUnavailable", "The local Step Functions engine is closed", 503);
      const machine = machineOf(input.stateMachineArn);
      const name = input.name ?? randomUUID();
      if (!isName(name)) throw new ServiceError("InvalidName", `Invalid Name: '${name}'`);
      const inputText = input.input ?? "{}";
      requireJson(inputText, "InvalidExecutionInput", "Execution input");
      const arn = `${ARN_PREFIX}execution:${machine.name}:${name}`;
      const existing = executions.get(arn);
      if (existing) {
        if (existing.status === "RUNNING" && existing.input === inputText) {
          return { executionArn: arn, startDate: existing.startDate / 1000 };
        }
        throw new ServiceError("ExecutionAlreadyExists", `Execution Already Exists: '${arn}'`);
      }
      const record = await createExecution(
        {
          arn: machine.arn,
          name: machine.name,
          definition: machine.definition,
          roleArn: machine.roleArn,
          type: machine.type,
        },
        arn,
        name,
        inputText,
      );
      return { executionArn: arn, startDate: record.startDate / 1000 };
    },

    async describeExecution(executionArn) {
      // What a reader sees is written first (journal.ts).
      journal.flushQuietly();
      const r = executionOf(executionArn);
      const data = dataOf(r);
      return {
        executionArn: r.arn,
        stateMachineArn: r.stateMachineArn,
        name: r.name,
        status: r.status,
        startDate: r.startDate / 1000,
        ...(r.stopDate === undefined ? {} : { stopDate: r.stopDate / 1000 }),
        input: data.input,
        inputDetails: { included: true },
        ...(r.status === "SUCCEEDED"
          ? { output: data.output ?? "null", outputDetails: { included: true } }
          : {}),
        ...(data.error === undefined ? {} : { error: data.error }),
        ...(data.cause === undefined ? {} : { cause: data.cause }),
        ...(r.mapRunArn === undefined ? {} : { mapRunArn: r.mapRunArn }),
        ...redriveFields(r),
      };
    },

    async listExecutions(input) {
      // What a reader sees is written first (journal.ts).
      journal.flushQuietly();
      if ((input.stateMachineArn === undefined) === (input.mapRunArn === undefined)) {
        throw new ServiceError("ValidationException", "Specify exactly one of stateMachineArn and mapRunArn");
      }
      if (input.stateMachineArn !== undefined) machineOf(input.stateMachineArn);
      else mapRunOf(input.mapRunArn as string);
      const scope = input.stateMachineArn ?? (input.mapRunArn as string);
      const size = pageSize(input.maxResults);
      const before = input.nextToken
        ? decodeToken(input.nextToken, "executions", scope)
        : Number.POSITIVE_INFINITY;
      const candidates =
        input.mapRunArn === undefined
          ? [...executions.values()].filter((r) => r.stateMachineArn === input.stateMachineArn)
          : [...(mapRunChildren.get(input.mapRunArn) ?? [])].flatMap((arn) => executions.get(arn) ?? []);
      const matching = candidates
        .filter(
          (r) =>
            r.seq < before &&
            (input.statusFilter === undefined || r.status === input.statusFilter) &&
            (input.redriveFilter === undefined ||
              (input.redriveFilter === "REDRIVEN") === (r.redriveCount ?? 0) > 0),
        )
        .sort((a, b) => b.seq - a.seq);
      const page = matching.slice(0, size);
      const last = page.at(-1);
      return {
        executions: page.map((r) => ({
          executionArn: r.arn,
          stateMachineArn: r.stateMachineArn,
          name: r.name,
          status: r.status,
          startDate: r.startDate / 1000,
          ...(r.stopDate === undefined ? {} : { stopDate: seconds(r.stopDate) as number }),
          ...(r.mapRunArn === undefined ? {} : { mapRunArn: r.mapRunArn, itemCount: r.itemCount ?? 1 }),
          redriveCount: r.redriveCount ?? 0,
          ...(r.redriveDate === undefined ? {} : { redriveDate: r.redriveDate / 1000 }),
        })),
        ...(matching.length > size && last ? { nextToken: encodeToken("executions", last.seq, scope) } : {}),
      };
    },

    async getExecutionHistory(input) {
      // What a reader sees is written first (journal.ts).
      journal.flushQuietly();
      const record = executionOf(input.executionArn);
      const size = pageSize(input.maxResults);
      const reverse = input.reverseOrder ?? false;
      const all = eventsOf(record);
      const from = input.nextToken
        ? decodeToken(input.nextToken, reverse ? "history-desc" : "history-asc", record.arn)
        : undefined;
      const ordered = reverse ? all.slice().reverse() : all;
      const eligible = ordered.filter((e) => from === undefined || (reverse ? e.id <= from : e.id >= from));
      const page = eligible.slice(0, size);
      const following = eligible[size];
      const includeData = input.includeExecutionData ?? true;
      return {
        events: page.map((event) => {
          const wire = toWireEvent(
            includeData || !event.details
              ? event
              : {
                  ...event,
                  details: Object.fromEntries(
                    Object.entries(event.details).filter(([k]) => k !== "input" && k !== "output"),
                  ),
                },
          );
          return wire as HistoryEvent;
        }),
        ...(following
          ? { nextToken: encodeToken(reverse ? "history-desc" : "history-asc", following.id, record.arn) }
          : {}),
      };
    },

    async stopExecution(executionArn, error, cause) {
      const record = executionOf(executionArn);
      if (record.status === "RUNNING") {
        record.controller?.abort(new Interrupted("aborted"));
        // The abort is on disk before the caller hears it is done.
        await finish(record, "ExecutionAborted", failureDetails(error ?? "", cause ?? ""));
      }
      return { stopDate: (record.stopDate ?? clock.now().getTime()) / 1000 };
    },

    async redriveExecution(executionArn) {
      if (closed)
        throw new ServiceError("ServiceUnavailable", "The local Step Functions engine is closed", 503);
      const record = executionOf(executionArn);
      const reason = notRedrivable(record);
      if (reason) throw new ServiceError("ExecutionNotRedrivable", reason);
      const file = fileOf(record.arn);
      const events = eventsOf(record).slice();
      if (events.length >= MAX_HISTORY_EVENTS - 1) {
        throw new ServiceError("ExecutionNotRedrivable", "Execution history event limit exceeded");
      }
      const input = closedData(record).input;
      const now = clock.now().getTime();
      closedCache.delete(record.arn);
      Object.assign(record, {
        status: "RUNNING",
        stopDate: undefined,
        input,
        events,
        nextId: events.length + 1,
        log: new ExecutionLog(file, journal),
        redriveCount: (record.redriveCount ?? 0) + 1,
        redriveDate: now,
      });
      append(record, {
        previousEventId: 0,
        timestamp: now,
        type: "ExecutionRedriven",
        scope: "",
        details: { redriveCount: record.redriveCount },
      });
      // The redrive is durable (through the journal, like a start) before the caller hears of it;
      // meanwhile resume() must not launch the record a second time.
      record.starting = true;
      try {
        if (record.log) await journal.commit(record.log);
      } finally {
        record.starting = undefined;
      }
      launch(record, events.slice());
      return { redriveDate: now / 1000 };
    },

    async listMapRuns(input) {
      // What a reader sees is written first (journal.ts).
      journal.flushQuietly();
      executionOf(input.executionArn);
      const size = pageSize(input.maxResults);
      const start = input.nextToken ? decodeToken(input.nextToken, "map-runs", input.executionArn) : 0;
      const all = [...mapRuns.values()]
        .filter((run) => run.executionArn === input.executionArn)
        .sort((a, b) => b.startDate - a.startDate);
      return {
        mapRuns: all.slice(start, start + size).map((run) => ({
          executionArn: run.executionArn,
          mapRunArn: run.mapRunArn,
          stateMachineArn: run.stateMachineArn,
          startDate: run.startDate / 1000,
          ...(run.stopDate === undefined ? {} : { stopDate: run.stopDate / 1000 }),
        })),
        ...(start + size < all.length
          ? { nextToken: encodeToken("map-runs", start + size, input.executionArn) }
          : {}),
      };
    },

    async describeMapRun(mapRunArn) {
      // What a reader sees is written first (journal.ts).
      journal.flushQuietly();
      const run = mapRunOf(mapRunArn);
      const parent = executions.get(run.executionArn);
      // A map run whose parent was stopped mid-run is reported as aborted.
      const status =
        run.status === "RUNNING" && parent && parent.status !== "RUNNING" ? "ABORTED" : run.status;
      return {
        mapRunArn: run.mapRunArn,
        executionArn: run.executionArn,
        status,
        startDate: run.startDate / 1000,
        ...(run.stopDate === undefined ? {} : { stopDate: run.stopDate / 1000 }),
        maxConcurrency: run.maxConcurrency,
        toleratedFailurePercentage: run.toleratedFailurePercentage,
        toleratedFailureCount: run.toleratedFailureCount,
        itemCounts: mapRunCounts(run, (r) => r.itemCount ?? 1, run.totalItems),
        executionCounts: mapRunCounts(run, () => 1, run.totalChildren),
        redriveCount: 0,
      };
    },

    async sendTaskSuccess(token, output) {
      const waiter = await waiterFor(token);
      const parsed = requireJson(output, "InvalidOutput", "Task output");
      waiter.succeed(parsed);
      await settled(waiter.executionArn);
    },

    async sendTaskFailure(token, error, cause) {
      const waiter = await waiterFor(token);
      waiter.fail(error ?? "", cause ?? "");
      await settled(waiter.executionArn);
    },

    async sendTaskHeartbeat(token) {
      (await waiterFor(token)).heartbeat();
    },

    onExecutionChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    async resume() {
      for (const record of executions.values()) resumeRecord(record);
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(flusher);
      for (const record of executions.values()) {
        record.timer?.clear();
        record.controller?.abort(new Interrupted("closed"));
        record.run = undefined;
        record.log?.close();
        record.log = undefined;
      }
      tokens.clear();
      // Flushes every log written since the last checkpoint, so a clean stop leaves no journal.
      await journal.close();
    },
  };
  return Object.assign(engine, { handler: createStatesHandler(engine) });
}
