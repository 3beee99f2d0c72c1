/**
 * The interpreter: runs one execution's states, writing every step to its history before it takes
 * effect, and — given a recorded history — resumes exactly where the history stops.
 *
 * Resuming works per scope (the top level, each Parallel branch attempt, each Map iteration): a
 * scope's events split into state visits; a visit with a `…StateExited` event is done and yields
 * its recorded output and next state, and the one open visit is re-run with its recorded events
 * so nothing already recorded is written or done twice.
 */
import { chooseNext } from "./choice";
import { mapLimit, settleAll } from "./concurrency";
import type { Catcher, Definition, Machine, Retrier, State } from "./definition";
import { errorMatches, StatesError } from "./errors";
import { DATA_DETAILS, type StoredEvent } from "./history";
import { callResource, childResult, parseResource, taskEvents } from "./integrations";
import { readItems } from "./item-reader";
import { type MapRunSpec, type ResultTransformation, runMapRun, stableId } from "./map-run";
import { applyResultPath, applyTemplate, type ContextObject, readPath, selectPath } from "./paths";
import { Interrupted, type RunServices } from "./run-types";
import { after, sleep, type Timer, whenAborted } from "./timers";
import { newTaskToken } from "./tokens";

/** The identity of the execution a run belongs to. */
export interface RunIdentity {
  executionArn: string;
  name: string;
  stateMachineArn: string;
  stateMachineName: string;
  roleArn: string;
  input: unknown;
  startDate: number;
  definition: Definition;
}

/**
 * Where events go: the engine gives each its id (in place), writes it to the log, memory and
 * listeners, and returns it.
 */
export type Emit = (event: StoredEvent) => StoredEvent;

/** Largest history a STANDARD execution may have (AWS quota). */
export const MAX_HISTORY_EVENTS = 25_000;

interface Thread {
  scope: string;
  lastId: number;
  signal: AbortSignal;
  /** The state this thread is in (kept after an uncaught failure, so a cut can name it). */
  open?: OpenState;
}

/** A state being run, and for Parallel/Map the branches or iterations it started. */
interface OpenState {
  type: string;
  name: string;
  children?: ChildRun[];
}

/** One Parallel branch or Map iteration; `done` once it finished or failed on its own. */
interface ChildRun {
  thread: Thread;
  /** The iteration index (Map only). */
  index?: number;
  done: boolean;
}

/** State types AWS records a `<Type>StateAborted` event for when they are cut short. */
const ABORTABLE = new Set(["Task", "Parallel", "Map", "Wait"]);

/** One attempt of a Task/Parallel/Map: whether it began (wrote its first event) and how it records a failure. */
interface Attempt {
  began: boolean;
  recordFailure(error: StatesError, meta: Record<string, unknown>): void;
}

/** IntervalSeconds × BackoffRate^n, capped by MaxDelaySeconds, with optional FULL jitter. */
function retryDelay(retrier: Retrier, retriesSoFar: number): number {
  let delay = (retrier.IntervalSeconds ?? 1) * (retrier.BackoffRate ?? 2) ** retriesSoFar;
  if (retrier.MaxDelaySeconds !== undefined) delay = Math.min(delay, retrier.MaxDelaySeconds);
  return retrier.JitterStrategy === "FULL" ? delay * Math.random() : delay;
}

interface Step {
  output: unknown;
  next?: string;
}

const json = (value: unknown) => JSON.stringify(value ?? null);

/**
 * Every state's entry and exit event types, made once: `${Type}StateEntered` would be a new string
 * at each of the hundreds of thousands of events a burst records, and each one hashed anew.
 */
const STATE_EVENTS = Object.fromEntries(
  ["Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"].map((type) => [
    type,
    { entered: `${type}StateEntered`, exited: `${type}StateExited` },
  ]),
) as Record<State["Type"], { entered: string; exited: string }>;

/** The token wait of a task without a token: handed to its work, which never awaits it. */
const NEVER: Promise<never> = new Promise(() => {});

/** Splits a scope's events into state visits, each starting at a `…StateEntered` event. */
function visitsOf(events: StoredEvent[]): StoredEvent[][] {
  const visits: StoredEvent[][] = [];
  for (const event of events) {
    if (event.type.endsWith("StateEntered")) visits.push([event]);
    else visits.at(-1)?.push(event);
  }
  return visits;
}

/** Splits a visit's events after the entry into attempts, each starting at a marker event. */
function attemptsOf(events: StoredEvent[], markers: readonly string[]): StoredEvent[][] {
  const attempts: StoredEvent[][] = [];
  for (const event of events) {
    if (markers.includes(event.type)) attempts.push([event]);
    else attempts.at(-1)?.push(event);
  }
  return attempts;
}

const TASK_MARKERS = ["TaskScheduled", "LambdaFunctionScheduled"] as const;
const FAILURE_TYPES = new Set([
  "TaskFailed",
  "TaskTimedOut",
  "LambdaFunctionFailed",
  "LambdaFunctionTimedOut",
  "ParallelStateFailed",
  "MapStateFailed",
]);

/** One execution being interpreted. */
export class ExecutionRun {
  private readonly replay = new Map<string, StoredEvent[]>();
  private transitions = 0;
  private eventCount: number;
  private topLast = 0;
  /** Id of the last ExecutionRedriven event: what an execution recorded before it is not final. */
  private redrivenAt = 0;
  /** The context object's parts that are the same for every state of the run. */
  private executionContext: Pick<ContextObject, "Execution" | "StateMachine"> | undefined;
  /** The last value `text()` serialised, and its text. */
  private lastValue: unknown;
  private lastText: string | undefined;
  /** The Region in the state machine's ARN, which every service task's TaskScheduled names. */
  private readonly region: string;

  constructor(
    private readonly services: RunServices,
    private readonly identity: RunIdentity,
    private readonly emitEvent: Emit,
    recorded: StoredEvent[],
  ) {
    for (const event of recorded) {
      const list = this.replay.get(event.scope) ?? [];
      list.push(event);
      this.replay.set(event.scope, list);
    }
    this.eventCount = recorded.length;
    for (const event of recorded) if (event.type === "ExecutionRedriven") this.redrivenAt = event.id;
    this.region = identity.stateMachineArn.split(":")[3] ?? "";
  }

  /** Runs (or resumes) the top-level states; resolves with the output or rejects with the failure. */
  runTopLevel(signal: AbortSignal): Promise<unknown> {
    // AWS links the first state's entry to event 0, not to ExecutionStarted.
    // Execution-level events (start, a redriven attempt's end, the redrive) belong to no state.
    const recorded = (this.replay.get("") ?? []).filter((e) => !e.type.startsWith("Execution"));
    this.topLast = recorded.at(-1)?.id ?? 0;
    this.replay.set("", recorded);
    return this.runStates({ scope: "", lastId: 0, signal }, this.identity.definition, this.identity.input);
  }

  /** The id of the last event the top-level scope wrote (what the closing event links to). */
  lastTopLevelId(): number {
    return this.topLast;
  }

  private emit(
    thread: Thread,
    type: string,
    details?: Record<string, unknown>,
    meta?: Record<string, unknown>,
  ) {
    if (thread.signal.aborted) throw thread.signal.reason;
    if (this.eventCount >= MAX_HISTORY_EVENTS - 1) {
      throw new StatesError(
        "States.Runtime",
        `The execution reached the limit of ${MAX_HISTORY_EVENTS} history events`,
      );
    }
    // Built once, with every field in one shape (absent ones undefined, which JSON leaves out): the
    // engine numbers this very object, and a burst of executions records hundreds of thousands.
    const event = this.emitEvent({
      id: 0,
      previousEventId: thread.lastId,
      timestamp: this.services.clock.now().getTime(),
      type,
      scope: thread.scope,
      details,
      meta,
    });
    this.eventCount++;
    thread.lastId = event.id;
    if (thread.scope === "") this.topLast = event.id;
    return event;
  }

  /**
   * A state's data as history text. A state's output is usually the next state's input, the very
   * same value (the engine never changes a value in place), so the last text is reused.
   */
  private text(value: unknown): string {
    if (value !== this.lastValue || this.lastText === undefined) {
      this.lastValue = value;
      this.lastText = json(value);
    }
    return this.lastText;
  }

  private scaled(seconds: number): number {
    return seconds * 1000 * this.services.timeScale;
  }

  /**
   * The context object of a state. Most states never read it, so the execution's part is built
   * once per run and the state's entry time is formatted only when read.
   */
  private context(stateName: string, enteredAt: number, retryCount: number): ContextObject {
    const id = this.identity;
    this.executionContext ??= {
      Execution: {
        Id: id.executionArn,
        Input: id.input,
        Name: id.name,
        RoleArn: id.roleArn,
        StartTime: new Date(id.startDate).toISOString(),
      },
      StateMachine: { Id: id.stateMachineArn, Name: id.stateMachineName },
    };
    return {
      Execution: this.executionContext.Execution,
      State: {
        get EnteredTime() {
          return new Date(enteredAt).toISOString();
        },
        Name: stateName,
        RetryCount: retryCount,
      },
      StateMachine: this.executionContext.StateMachine,
    };
  }

  private async runStates(thread: Thread, machine: Machine, input: unknown): Promise<unknown> {
    const recorded = this.replay.get(thread.scope) ?? [];
    this.replay.delete(thread.scope);
    const lastRecorded = recorded.at(-1);
    if (lastRecorded) thread.lastId = lastRecorded.id;
    const visits = visitsOf(recorded);
    let name = machine.StartAt;
    let data = input;
    for (;;) {
      const state = machine.States[name];
      if (!state) throw new StatesError("States.Runtime", `State ${name} does not exist`);
      const visit = visits.shift();
      const exited = visit?.find((e) => e.type.endsWith("StateExited"));
      const step = exited
        ? {
            output: JSON.parse(String(exited.details?.output)) as unknown,
            next: exited.meta?.next as string | undefined,
          }
        : await this.runState(thread, name, state, data, visit);
      if (step.next === undefined) return step.output;
      // A tight Pass/Choice loop never awaits real I/O; yield now and then so the API stays responsive.
      if (++this.transitions % 256 === 0) await new Promise((resolve) => setImmediate(resolve));
      name = step.next;
      data = step.output;
    }
  }

  private async runState(
    thread: Thread,
    name: string,
    state: State,
    input: unknown,
    visit: StoredEvent[] | undefined,
  ): Promise<Step> {
    const entered =
      visit?.[0] ??
      this.emit(thread, STATE_EVENTS[state.Type].entered, {
        name,
        input: this.text(input),
        inputDetails: DATA_DETAILS,
      });
    const recorded = visit?.slice(1) ?? [];
    let step: Step;
    thread.open = { type: state.Type, name };
    try {
      step = await this.execute(thread, name, state, input, entered.timestamp, recorded);
    } catch (error) {
      if (!(error instanceof StatesError)) throw error;
      const catcher = (state.Catch ?? []).find((c: Catcher) => errorMatches(c.ErrorEquals, error.error));
      if (!catcher) throw error;
      const output = applyResultPath(input, catcher.ResultPath, { Error: error.error, Cause: error.cause });
      step = { output, next: catcher.Next };
    }
    thread.open = undefined;
    const next = step.next ?? (state.End ? undefined : state.Next);
    this.emit(
      thread,
      STATE_EVENTS[state.Type].exited,
      { name, output: this.text(step.output), outputDetails: DATA_DETAILS },
      next === undefined ? undefined : { next },
    );
    return { output: step.output, next };
  }

  private async execute(
    thread: Thread,
    name: string,
    state: State,
    input: unknown,
    enteredAt: number,
    recorded: StoredEvent[],
  ): Promise<Step> {
    switch (state.Type) {
      case "Pass": {
        let effective = selectPath(input, state.InputPath);
        if (state.Parameters !== undefined) {
          effective = applyTemplate(state.Parameters, effective, this.context(name, enteredAt, 0));
        }
        const result = "Result" in state ? state.Result : effective;
        return { output: selectPath(applyResultPath(input, state.ResultPath, result), state.OutputPath) };
      }
      case "Choice": {
        const effective = selectPath(input, state.InputPath);
        const next = chooseNext((state.Choices ?? []) as Record<string, unknown>[], state.Default, effective);
        return { output: selectPath(effective, state.OutputPath), next };
      }
      case "Succeed":
        return { output: selectPath(selectPath(input, state.InputPath), state.OutputPath) };
      case "Fail":
        throw this.failure(state, input);
      case "Wait":
        return this.wait(thread, state, input, enteredAt);
      case "Task":
      case "Parallel":
      case "Map":
        return this.withRetries(thread, name, state, input, enteredAt, recorded);
    }
    throw new StatesError("States.Runtime", `Unknown state type ${(state as State).Type}`);
  }

  private failure(state: State, input: unknown): StatesError {
    const read = (path: string | undefined) => {
      if (path === undefined) return undefined;
      const value = applyTemplate({ "v.$": path }, input) as { v: unknown };
      return typeof value.v === "string" ? value.v : JSON.stringify(value.v);
    };
    return new StatesError(
      state.Error ?? read(state.ErrorPath) ?? "",
      state.Cause ?? read(state.CausePath) ?? "",
    );
  }

  private async wait(thread: Thread, state: State, input: unknown, enteredAt: number): Promise<Step> {
    const effective = selectPath(input, state.InputPath);
    let until: number;
    if (state.Seconds !== undefined || state.SecondsPath !== undefined) {
      const seconds = state.Seconds ?? readPath(effective, state.SecondsPath as string);
      if (typeof seconds !== "number" || seconds < 0) {
        throw new StatesError(
          "States.Runtime",
          `Wait seconds must be a non-negative number, got ${json(seconds)}`,
        );
      }
      until = enteredAt + this.scaled(seconds);
    } else {
      const stamp = state.Timestamp ?? readPath(effective, state.TimestampPath as string);
      const target = typeof stamp === "string" ? Date.parse(stamp) : Number.NaN;
      if (Number.isNaN(target))
        throw new StatesError("States.Runtime", `Wait timestamp is invalid: ${json(stamp)}`);
      until = enteredAt + Math.max(0, target - enteredAt) * this.services.timeScale;
    }
    await sleep(until - this.services.clock.now().getTime(), thread.signal);
    return { output: selectPath(effective, state.OutputPath) };
  }

  /** Runs attempts of a Task/Parallel/Map with its Retry rules; resumes from recorded attempts. */
  private async withRetries(
    thread: Thread,
    name: string,
    state: State,
    input: unknown,
    enteredAt: number,
    recorded: StoredEvent[],
  ): Promise<Step> {
    const retriers: Retrier[] = state.Retry ?? [];
    const counts = retriers.map(() => 0);
    let retryCount = 0;
    const markers = state.Type === "Task" ? TASK_MARKERS : [`${state.Type}StateStarted`];
    const attempts = attemptsOf(recorded, markers);
    let partial: StoredEvent[] | undefined;
    for (const [i, recordedAttempt] of attempts.entries()) {
      let attempt = recordedAttempt;
      if (this.redrivenAt > 0) {
        // A redrive gives a task (or a Distributed Map's run) a new attempt, and an inline
        // Parallel or Map its same attempt again, minus the final failure, so that only the
        // branches and iterations that did not succeed run again.
        const whole = state.Type === "Task" || state.ItemProcessor?.ProcessorConfig?.Mode === "DISTRIBUTED";
        if (whole && this.endedBeforeRedrive(attempt)) continue;
        if (!whole) attempt = attempt.filter((e) => !this.finalBeforeRedrive(e));
      }
      const failed = attempt.find((e) => FAILURE_TYPES.has(e.type));
      const retry = failed?.meta?.retry as { retrier: number; delayMs: number } | undefined;
      if (!failed || !retry) {
        partial = attempt;
        break;
      }
      counts[retry.retrier] = (counts[retry.retrier] ?? 0) + 1;
      retryCount++;
      if (i === attempts.length - 1) {
        // The restart happened during the retry wait: finish the wait that was recorded.
        await sleep(failed.timestamp + retry.delayMs - this.services.clock.now().getTime(), thread.signal);
      }
    }
    const effective = selectPath(input, state.InputPath);
    for (;;) {
      const attempt: Attempt = { began: false, recordFailure: () => {} };
      const context = this.context(name, enteredAt, retryCount);
      let result: unknown;
      try {
        result =
          state.Type === "Task"
            ? await this.taskAttempt(thread, state, effective, context, partial, attempt)
            : await this.branchesAttempt(thread, state, effective, context, partial, attempt);
      } catch (thrown) {
        if (!(thrown instanceof StatesError)) throw thrown;
        const alreadyRecorded = partial?.some((e) => FAILURE_TYPES.has(e.type)) ?? false;
        partial = undefined;
        // Failures before an attempt began (input processing) are not retried; recorded ones are final.
        if (!attempt.began || alreadyRecorded) throw thrown;
        const index = retriers.findIndex((r) => errorMatches(r.ErrorEquals, thrown.error));
        const retrier = retriers[index];
        if (!retrier || (counts[index] ?? 0) >= (retrier.MaxAttempts ?? 3)) {
          attempt.recordFailure(thrown, { final: true });
          throw thrown;
        }
        const delayMs = this.scaled(retryDelay(retrier, counts[index] ?? 0));
        attempt.recordFailure(thrown, { retry: { retrier: index, delayMs } });
        counts[index] = (counts[index] ?? 0) + 1;
        retryCount++;
        await sleep(delayMs, thread.signal);
        continue;
      }
      const selected =
        state.ResultSelector === undefined ? result : applyTemplate(state.ResultSelector, result, context);
      return { output: selectPath(applyResultPath(input, state.ResultPath, selected), state.OutputPath) };
    }
  }

  /**
   * Whether an attempt ended (failed for good, or was cut off by a stop or timeout) before the
   * execution was redriven: every event of it precedes the redrive and none is a retry decision.
   */
  private endedBeforeRedrive(attempt: StoredEvent[]): boolean {
    const last = attempt.at(-1);
    if (!last || last.id > this.redrivenAt) return false;
    const failure = attempt.find((e) => FAILURE_TYPES.has(e.type));
    return !failure?.meta?.retry && !attempt.some((e) => e.type.endsWith("Succeeded"));
  }

  /** A final failure, or a cut it caused, recorded before the execution was redriven. */
  private finalBeforeRedrive(event: StoredEvent): boolean {
    if (event.id > this.redrivenAt) return false;
    return event.meta?.cut !== undefined || (FAILURE_TYPES.has(event.type) && !event.meta?.retry);
  }

  private taskSeconds(state: State, effective: unknown, kind: "Timeout" | "Heartbeat"): number | undefined {
    const value = state[`${kind}Seconds`];
    const path = state[`${kind}SecondsPath`];
    const seconds = value ?? (path === undefined ? undefined : readPath(effective, path));
    if (seconds === undefined) return undefined;
    if (typeof seconds !== "number" || !Number.isInteger(seconds) || seconds <= 0) {
      throw new StatesError(
        "States.Runtime",
        `${kind}Seconds must be a positive integer, got ${json(seconds)}`,
      );
    }
    return seconds;
  }

  private async taskAttempt(
    thread: Thread,
    state: State,
    effective: unknown,
    context: ContextObject,
    partial: StoredEvent[] | undefined,
    attempt: Attempt,
  ): Promise<unknown> {
    const resource = parseResource(state.Resource ?? "");
    const names = taskEvents(resource.family);
    const identity = { resourceType: resource.resourceType, resource: resource.resource };
    const recordFailure = (error: StatesError, meta: Record<string, unknown>) => {
      const timedOut = error.error === "States.Timeout" || error.error === "States.HeartbeatTimeout";
      // AWS records timeouts without a cause.
      const failure = { error: error.error, ...(error.cause ? { cause: error.cause } : {}) };
      const details = resource.family === "lambda-function" ? failure : { ...identity, ...failure };
      this.emit(thread, timedOut ? names.timedOut : names.failed, details, meta);
    };
    let scheduled = partial?.[0];
    let started = partial?.find((e) => e.type === names.started);
    const submitted = partial?.find((e) => e.type === "TaskSubmitted");
    const succeeded = partial?.find((e) => e.type === names.succeeded);
    const failed = partial?.find((e) => FAILURE_TYPES.has(e.type));
    if (scheduled) attempt.began = true;
    attempt.recordFailure = recordFailure;
    if (succeeded) return JSON.parse(String(succeeded.details?.output));
    if (failed)
      throw new StatesError(String(failed.details?.error ?? ""), String(failed.details?.cause ?? ""));

    let token: string | undefined;
    let params: unknown;
    let timeout: number | undefined;
    let heartbeat: number | undefined;
    if (scheduled) {
      token = scheduled.meta?.token as string | undefined;
      params = JSON.parse(String(scheduled.details?.parameters ?? scheduled.details?.input));
      timeout = scheduled.meta?.timeout as number | undefined;
      heartbeat = scheduled.meta?.heartbeat as number | undefined;
    } else {
      if (resource.pattern === "callback") token = newTaskToken(this.identity.executionArn);
      const withToken: ContextObject = token ? { ...context, Task: { Token: token } } : context;
      params =
        state.Parameters === undefined ? effective : applyTemplate(state.Parameters, effective, withToken);
      timeout = this.taskSeconds(state, effective, "Timeout");
      heartbeat = this.taskSeconds(state, effective, "Heartbeat");
      // Built field by field rather than spread: object spreads took a quarter of a task's own time.
      const details: Record<string, unknown> =
        resource.family === "lambda-function"
          ? { resource: resource.resource, input: json(params), inputDetails: DATA_DETAILS }
          : {
              resourceType: resource.resourceType,
              resource: resource.resource,
              region: this.region,
              parameters: json(params),
            };
      if (timeout !== undefined) details.timeoutInSeconds = timeout;
      if (heartbeat !== undefined) details.heartbeatInSeconds = heartbeat;
      scheduled = this.emit(thread, names.scheduled, details, { token, timeout, heartbeat });
      attempt.began = true;
    }
    if (!started) {
      started = this.emit(
        thread,
        names.started,
        resource.family === "lambda-function" ? undefined : identity,
      );
    }

    const result = await this.race(
      thread,
      token,
      started.timestamp,
      timeout,
      // Only a task that can send heartbeats (callback, .sync) is held to HeartbeatSeconds: AWS
      // records it for a request-response call but never times that call out on it.
      resource.pattern === "request" ? undefined : heartbeat,
      async (waiter, isOpen) => {
        if (resource.pattern === "callback" || resource.pattern === "sync" || resource.pattern === "sync2") {
          let response = submitted ? (JSON.parse(String(submitted.details?.output)) as unknown) : undefined;
          if (!submitted) {
            response = await callResource(resource, params, this.services);
            // A callback may already have closed the task while the request was in flight.
            if (!isOpen()) return waiter;
            this.emit(thread, "TaskSubmitted", {
              ...identity,
              output: json(response),
              outputDetails: DATA_DETAILS,
            });
          }
          if (resource.pattern === "callback") return waiter;
          return childResult(resource, response, this.services, thread.signal);
        }
        return callResource(resource, params, this.services);
      },
    );
    this.emit(
      thread,
      names.succeeded,
      resource.family === "lambda-function"
        ? { output: json(result), outputDetails: DATA_DETAILS }
        : {
            resourceType: resource.resourceType,
            resource: resource.resource,
            output: json(result),
            outputDetails: DATA_DETAILS,
          },
    );
    return result;
  }

  /**
   * Runs the work of one task attempt against its TimeoutSeconds, HeartbeatSeconds and the
   * execution's signal. For callbacks the work resolves with the token wait, which SendTask*
   * completes; the token is registered for exactly as long as the attempt is open.
   */
  private race(
    thread: Thread,
    token: string | undefined,
    startedAt: number,
    timeout: number | undefined,
    heartbeat: number | undefined,
    work: (waiter: Promise<unknown>, isOpen: () => boolean) => Promise<unknown>,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timers: Timer[] = [];
      let heartbeatTimer: Timer | undefined;
      let settled = false;
      const finish = (settle: () => void) => {
        if (settled) return;
        settled = true;
        for (const timer of timers) timer.clear();
        heartbeatTimer?.clear();
        stopListening();
        if (token) this.services.tokens.delete(token);
        settle();
      };
      const onAbort = () => finish(() => reject(thread.signal.reason));
      if (thread.signal.aborted) return onAbort();
      const stopListening = whenAborted(thread.signal, onAbort);
      const now = () => this.services.clock.now().getTime();
      if (timeout !== undefined) {
        const timer = after(startedAt + this.scaled(timeout) - now(), () =>
          finish(() => reject(new StatesError("States.Timeout", ""))),
        );
        timers.push(timer);
      }
      const armHeartbeat = (from: number) => {
        if (heartbeat === undefined) return;
        heartbeatTimer?.clear();
        heartbeatTimer = after(from + this.scaled(heartbeat) - now(), () =>
          finish(() => reject(new StatesError("States.HeartbeatTimeout", ""))),
        );
      };
      armHeartbeat(startedAt);
      let waiter: Promise<unknown> = NEVER;
      if (token) {
        waiter = new Promise(() => {
          this.services.tokens.set(token, {
            executionArn: this.identity.executionArn,
            succeed: (output) => finish(() => resolve(output)),
            fail: (error, cause) => finish(() => reject(new StatesError(error, cause))),
            heartbeat: () => armHeartbeat(now()),
          });
        });
      }
      work(waiter, () => !settled).then(
        (value) => finish(() => resolve(value)),
        (error) => finish(() => reject(error)),
      );
    });
  }

  /** Parallel and Map: one attempt runs every branch/iteration in its own scope. */
  private async branchesAttempt(
    thread: Thread,
    state: State,
    effective: unknown,
    context: ContextObject,
    partial: StoredEvent[] | undefined,
    attempt: Attempt,
  ): Promise<unknown> {
    const type = state.Type;
    const params =
      type === "Parallel" && state.Parameters !== undefined
        ? applyTemplate(state.Parameters, effective, context)
        : effective;
    let items: unknown[] = [];
    if (type === "Map") {
      const processor = state.ItemProcessor;
      if (processor?.ProcessorConfig?.Mode === "DISTRIBUTED") {
        return this.distributedAttempt(thread, state, effective, context, partial, attempt);
      }
      const value = state.ItemsPath === undefined ? effective : readPath(effective, state.ItemsPath);
      if (!Array.isArray(value)) {
        throw new StatesError("States.Runtime", `Map ItemsPath must select an array, got ${json(value)}`);
      }
      items = value;
    }
    attempt.recordFailure = (error, meta) =>
      this.emit(thread, `${type}StateFailed`, undefined, { ...meta, error: error.error, cause: error.cause });
    const startedEvent =
      partial?.[0] ??
      this.emit(thread, `${type}StateStarted`, type === "Map" ? { length: items.length } : undefined);
    attempt.began = true;
    const recordedFailure = partial?.find((e) => e.type === `${type}StateFailed`);
    if (recordedFailure) {
      throw new StatesError(
        String(recordedFailure.meta?.error ?? ""),
        String(recordedFailure.meta?.cause ?? ""),
      );
    }
    const recordedCut = partial?.find((e) => e.meta?.cut !== undefined);
    if (recordedCut) {
      // The restart came while the cut was being recorded: the attempt already failed.
      const cut = recordedCut.meta?.cut as { error: string; cause: string };
      thread.lastId = recordedCut.previousEventId;
      throw new StatesError(cut.error, cut.cause);
    }
    const controller = new AbortController();
    const forward = () => controller.abort(thread.signal.reason);
    thread.signal.addEventListener("abort", forward, { once: true });
    const child = (key: number): Thread => ({
      scope: `${thread.scope}/${startedEvent.id}:${key}`,
      lastId: startedEvent.id,
      signal: controller.signal,
    });
    const children: ChildRun[] = [];
    if (thread.open) thread.open.children = children;
    let failing: { run: ChildRun; error: StatesError } | undefined;
    const guard = async (run: ChildRun, work: () => Promise<unknown>) => {
      try {
        const output = await work();
        run.done = true;
        return output;
      } catch (error) {
        if (!controller.signal.aborted) {
          if (error instanceof StatesError) {
            run.done = true;
            failing = { run, error };
          }
          controller.abort(new Interrupted("sibling-failed"));
        }
        throw error;
      }
    };
    try {
      let results: unknown[];
      if (type === "Parallel") {
        results = await settleAll(
          (state.Branches ?? []).map((branch, i) => {
            const run: ChildRun = { thread: child(i), done: false };
            children.push(run);
            return guard(run, () => this.runStates(run.thread, branch, params));
          }),
        );
      } else {
        const processor = (state.ItemProcessor ?? state.Iterator) as Machine;
        const selector = state.ItemSelector ?? state.Parameters;
        const iterationEvents = partial ?? [];
        const iterationName = context.State.Name;
        results = await mapLimit(items, state.MaxConcurrency ?? 0, (item, index) => {
          const run: ChildRun = { thread: child(index), index, done: false };
          return guard(run, async () => {
            const iteration = run.thread;
            const recordedOf = (type: string) =>
              iterationEvents.find((e) => e.type === type && e.details?.index === index);
            const own = () => ({ scope: thread.scope, lastId: iteration.lastId, signal: controller.signal });
            iteration.lastId = (
              recordedOf("MapIterationStarted") ??
              this.emit(own(), "MapIterationStarted", { name: iterationName, index })
            ).id;
            // Only a started iteration can be cut (MapIterationAborted).
            children.push(run);
            const done = recordedOf("MapIterationSucceeded");
            const itemInput =
              selector === undefined
                ? item
                : applyTemplate(selector, effective, {
                    ...context,
                    Map: { Item: { Index: index, Value: item } },
                  });
            const output = await this.runStates(iteration, processor, itemInput);
            if (!done) this.emit(own(), "MapIterationSucceeded", { name: iterationName, index });
            return output;
          });
        });
      }
      if (!partial?.some((e) => e.type === `${type}StateSucceeded`))
        this.emit(thread, `${type}StateSucceeded`);
      return results;
    } catch (error) {
      if (!failing) throw error;
      // Report the failure that cut the others, whichever branch index settled first.
      this.recordCut(thread, context.State.Name, failing, children);
      throw failing.error;
    } finally {
      thread.signal.removeEventListener("abort", forward);
    }
  }

  /**
   * Records what a failing branch or iteration cut short, as AWS does: the failed state's own
   * `<Type>StateAborted`, then for every sibling still running its `MapIterationAborted` and the
   * `<Type>StateAborted` of the state it was in (nested branches included), then the failing
   * `MapIterationFailed`. Every one links to the failure's last event, and so does the
   * `…StateFailed` that follows. Each carries the failure so a restart mid-way does not rerun it.
   */
  private recordCut(
    thread: Thread,
    name: string,
    failing: { run: ChildRun; error: StatesError },
    children: ChildRun[],
  ) {
    const at = failing.run.thread.lastId;
    const cut = { error: failing.error.error, cause: failing.error.cause };
    const side = (type: string, details?: Record<string, unknown>) =>
      this.emit({ scope: thread.scope, lastId: at, signal: thread.signal }, type, details, { cut });
    const own = failing.run.thread.open;
    if (own && ABORTABLE.has(own.type)) side(`${own.type}StateAborted`);
    const abort = (run: ChildRun, parentName: string) => {
      if (run.index !== undefined) side("MapIterationAborted", { name: parentName, index: run.index });
      const open = run.thread.open;
      if (!open) return;
      if (ABORTABLE.has(open.type)) side(`${open.type}StateAborted`);
      for (const nested of open.children ?? []) if (!nested.done) abort(nested, open.name);
    };
    for (const sibling of children) if (!sibling.done) abort(sibling, name);
    if (failing.run.index !== undefined) side("MapIterationFailed", { name, index: failing.run.index });
    thread.lastId = at;
  }

  /**
   * A Distributed Map attempt: MapStateStarted, MapRunStarted, the map run (children are separate
   * executions), then MapRunSucceeded or MapRunFailed. A resumed attempt reuses its recorded map run.
   */
  private async distributedAttempt(
    thread: Thread,
    state: State,
    effective: unknown,
    context: ContextObject,
    partial: StoredEvent[] | undefined,
    attempt: Attempt,
  ): Promise<unknown> {
    const host = this.services.mapRuns;
    if (!host) throw new StatesError("States.Runtime", "Distributed Map needs the engine's map-run support");
    attempt.recordFailure = (error, meta) =>
      this.emit(thread, "MapStateFailed", undefined, { ...meta, error: error.error, cause: error.cause });
    const spec = this.mapRunSpec(state, effective, context);
    const startedEvent = partial?.[0] ?? this.emit(thread, "MapStateStarted", { length: 0 });
    attempt.began = true;
    const recorded = (type: string) => partial?.find((e) => e.type === type);
    const stateFailed = recorded("MapStateFailed") ?? recorded("MapRunFailed");
    if (stateFailed) {
      const details = { ...stateFailed.meta, ...stateFailed.details };
      throw new StatesError(String(details.error ?? ""), String(details.cause ?? ""));
    }
    const runStarted = recorded("MapRunStarted");
    const label = state.Label ?? context.State.Name;
    const [, , , region, account] = this.identity.stateMachineArn.split(":");
    const mapRunArn =
      (runStarted?.details?.mapRunArn as string | undefined) ??
      `arn:aws:states:${region}:${account}:mapRun:${this.identity.stateMachineName}/${label}:${stableId(
        `${this.identity.executionArn}#${startedEvent.id}`,
      )}`;
    if (!runStarted) this.emit(thread, "MapRunStarted", { mapRunArn });
    let result: unknown;
    try {
      result = await runMapRun(
        host,
        {
          ...spec,
          mapRunArn,
          executionArn: this.identity.executionArn,
          parentStateMachineArn: this.identity.stateMachineArn,
          parentStateMachineName: this.identity.stateMachineName,
          startDate: startedEvent.timestamp,
          now: () => this.services.clock.now().getTime(),
        },
        thread.signal,
      );
    } catch (error) {
      if (error instanceof StatesError) {
        this.emit(thread, "MapRunFailed", { error: error.error, cause: error.cause });
      }
      throw error;
    }
    if (!recorded("MapRunSucceeded")) this.emit(thread, "MapRunSucceeded");
    if (!recorded("MapStateSucceeded")) this.emit(thread, "MapStateSucceeded");
    return result;
  }

  /** Resolves a Distributed Map's reader, selector, batcher, limits and writer against its input. */
  private mapRunSpec(
    state: State,
    effective: unknown,
    context: ContextObject,
  ): Omit<
    MapRunSpec,
    "mapRunArn" | "executionArn" | "parentStateMachineArn" | "parentStateMachineName" | "startDate" | "now"
  > {
    const number = (value: number | undefined, path: string | undefined, field: string) => {
      const resolved = value ?? (path === undefined ? undefined : readPath(effective, path));
      if (resolved !== undefined && (typeof resolved !== "number" || resolved < 0)) {
        throw new StatesError(
          "States.Runtime",
          `${field} must be a non-negative number, got ${json(resolved)}`,
        );
      }
      return resolved as number | undefined;
    };
    const reader = state.ItemReader;
    let items: MapRunSpec["items"];
    if (reader) {
      const { MaxItemsPath, ...config } = reader.ReaderConfig ?? {};
      const maxItems = number(config.MaxItems as number | undefined, MaxItemsPath, "MaxItems");
      const resolved = {
        resource: reader.Resource,
        parameters: (applyTemplate(reader.Parameters ?? {}, effective, context) ?? {}) as Record<
          string,
          unknown
        >,
        config: { ...config, ...(maxItems === undefined ? {} : { MaxItems: maxItems }) },
      };
      items = () => readItems(this.services.objects, resolved);
    } else {
      const value = state.ItemsPath === undefined ? effective : readPath(effective, state.ItemsPath);
      if (!Array.isArray(value)) {
        throw new StatesError("States.Runtime", `Map ItemsPath must select an array, got ${json(value)}`);
      }
      items = async function* () {
        yield* value;
      };
    }
    const selector = state.ItemSelector ?? state.Parameters;
    const select = (item: unknown, index: number) =>
      selector === undefined
        ? item
        : applyTemplate(selector, effective, { ...context, Map: { Item: { Index: index, Value: item } } });
    const b = state.ItemBatcher;
    const batcher = b && {
      maxItems: number(b.MaxItemsPerBatch, b.MaxItemsPerBatchPath, "MaxItemsPerBatch"),
      maxBytes: number(b.MaxInputBytesPerBatch, b.MaxInputBytesPerBatchPath, "MaxInputBytesPerBatch"),
      ...(b.BatchInput === undefined ? {} : { batchInput: applyTemplate(b.BatchInput, effective, context) }),
    };
    const percentage = number(
      state.ToleratedFailurePercentage,
      state.ToleratedFailurePercentagePath,
      "ToleratedFailurePercentage",
    );
    if (percentage !== undefined && percentage > 100) {
      throw new StatesError(
        "States.Runtime",
        `ToleratedFailurePercentage must be at most 100, got ${percentage}`,
      );
    }
    const count = number(
      state.ToleratedFailureCount,
      state.ToleratedFailureCountPath,
      "ToleratedFailureCount",
    );
    const writerConfig = writerConfigOf(state.ResultWriter);
    let resultWriter: MapRunSpec["resultWriter"];
    if (state.ResultWriter?.Parameters !== undefined) {
      const params = applyTemplate(state.ResultWriter.Parameters, effective, context) as Record<
        string,
        unknown
      >;
      if (typeof params.Bucket !== "string") {
        throw new StatesError("States.ResultWriterFailed", "ResultWriter Parameters.Bucket must be a string");
      }
      resultWriter = {
        bucket: params.Bucket,
        prefix: typeof params.Prefix === "string" ? params.Prefix : "",
        // Exports default to NONE (each child's record with its metadata), as JSON arrays.
        transformation: writerConfig?.transformation ?? "NONE",
        outputType: writerConfig?.outputType ?? "JSON",
      };
    }
    const processor = state.ItemProcessor as Machine;
    return {
      definition: JSON.stringify({ StartAt: processor.StartAt, States: processor.States }),
      items,
      select,
      ...(batcher ? { batcher } : {}),
      maxConcurrency: number(state.MaxConcurrency, state.MaxConcurrencyPath, "MaxConcurrency") ?? 0,
      ...(percentage === undefined ? {} : { toleratedFailurePercentage: percentage }),
      ...(count === undefined ? {} : { toleratedFailureCount: count }),
      ...(resultWriter ? { resultWriter } : {}),
      // Without an export, WriterConfig formats the state output (COMPACT when absent).
      ...(!resultWriter && writerConfig?.transformation
        ? { outputTransformation: writerConfig.transformation }
        : {}),
    };
  }
}

const TRANSFORMATIONS = ["NONE", "COMPACT", "FLATTEN"] as const;
const OUTPUT_TYPES = ["JSON", "JSONL"] as const;

/** A ResultWriter's WriterConfig, checked against the values AWS accepts. */
function writerConfigOf(
  writer: State["ResultWriter"],
): { transformation?: ResultTransformation; outputType?: (typeof OUTPUT_TYPES)[number] } | undefined {
  const config = (writer as { WriterConfig?: unknown } | undefined)?.WriterConfig;
  if (config === undefined) return undefined;
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    throw new StatesError(
      "States.Runtime",
      `ResultWriter WriterConfig must be an object, got ${json(config)}`,
    );
  }
  const { Transformation, OutputType } = config as Record<string, unknown>;
  const pick = <T extends string>(value: unknown, allowed: readonly T[], field: string): T | undefined => {
    if (value === undefined) return undefined;
    if (!allowed.includes(value as T)) {
      throw new StatesError(
        "States.Runtime",
        `ResultWriter WriterConfig.${field} must be one of ${allowed.join(", ")}, got ${json(value)}`,
      );
    }
    return value as T;
  };
  const transformation = pick(Transformation, TRANSFORMATIONS, "Transformation");
  const outputType = pick(OutputType, OUTPUT_TYPES, "OutputType");
  return {
    ...(transformation ? { transformation } : {}),
    ...(outputType ? { outputType } : {}),
  };
}
