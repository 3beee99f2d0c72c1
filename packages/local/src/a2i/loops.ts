/**
 * Human loops and the reviewers' task queue. A loop is offered to every worker of the single local
 * work team; TaskCount distinct workers answer it once each; a claim holds it for one worker for
 * TaskTimeLimitInSeconds. After the last answer the loop writes output.json and emits the
 * "SageMaker A2I HumanLoop Status Change" event, as A2I does.
 */
import { randomUUID } from "node:crypto";
import {
  type BusEvent,
  type Clock,
  type EventBus,
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  type LocalObjects,
} from "../contracts";
import { ServiceError } from "../edge/protocol";
import type { ControlPlane } from "./control-plane";
import {
  type FailureCode,
  type HumanLoopRecord,
  nameFromArn,
  outputKey,
  parseS3OutputPath,
  sagemakerArn,
  splitS3Uri,
  TERMINAL_STATUSES,
} from "./model";
import { page } from "./paging";
import type { ListHumanLoopsRequest, StartHumanLoopRequest } from "./schemas";
import type { A2IStore } from "./store";
import { type OfferedTask, type TaskQueue, TaskUnavailableError, type Worker } from "./workforce";

/** An answer the queue cannot record because it is not a form-output object. */
export class InvalidAnswerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidAnswerError";
  }
}

export interface HumanLoopsOptions {
  store: A2IStore;
  objects: LocalObjects;
  bus: EventBus;
  clock: Clock;
  /** Multiplies task time limits and availability lifetimes (1 = real time). */
  timeScale: number;
  controlPlane: ControlPlane;
  /** Open (InProgress/Stopping) loops allowed per flow definition before ServiceQuotaExceeded. */
  maxOpenLoopsPerFlowDefinition: number;
  /** Maps the S3OutputPath bucket to the local bucket that receives output.json. */
  bucketForOutput: (bucket: string) => string;
  /** Reports a status-change event the bus refused; it stays pending and is retried on the next sweep. */
  onEventError?: (error: unknown) => void;
}

export const STATUS_CHANGE_DETAIL_TYPE = "SageMaker A2I HumanLoop Status Change";

const notFound = (name: string) =>
  new ServiceError("ResourceNotFoundException", `Human loop ${name} does not exist.`, 404);

const isOpen = (loop: HumanLoopRecord) => !TERMINAL_STATUSES.has(loop.status);
const ms = (iso: string) => Date.parse(iso);

export class HumanLoops implements TaskQueue {
  private readonly loops = new Map<string, HumanLoopRecord>();
  /** Events of loops that were deleted before the bus took them: still owed to the bus. */
  private readonly orphanEvents: BusEvent[] = [];
  private readonly inFlight = new Map<BusEvent, Promise<void>>();
  private lock: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: HumanLoopsOptions) {}

  /** Reads the loops (holds and partial answers included) a previous run left on disk. */
  async load(): Promise<void> {
    for (const loop of await this.options.store.humanLoops.loadAll()) this.loops.set(loop.name, loop);
  }

  // ---------------------------------------------------------------- runtime API

  /** StartHumanLoop: returns the loop ARN (the existing one for a repeat of the same request). */
  async start(request: StartHumanLoopRequest): Promise<string> {
    return this.mutate(async (dirty) => {
      const name = request.HumanLoopName;
      const inputContent = request.HumanLoopInput.InputContent;
      const existing = this.loops.get(name);
      if (existing) {
        if (
          existing.inputContent === inputContent &&
          existing.flowDefinitionArn === request.FlowDefinitionArn
        ) {
          return existing.arn;
        }
        const state = isOpen(existing) ? "an active" : `a ${existing.status}`;
        throw new ServiceError(
          "ConflictException",
          `Human loop name ${name} is already used by ${state} human loop with different input data.`,
          409,
        );
      }
      const flow = this.options.controlPlane.activeFlowDefinition(request.FlowDefinitionArn);
      parseInputContent(inputContent);
      const open = [...this.loops.values()].filter(
        (l) => l.flowDefinitionArn === flow.arn && isOpen(l),
      ).length;
      if (open >= this.options.maxOpenLoopsPerFlowDefinition) {
        throw new ServiceError(
          "ServiceQuotaExceededException",
          `Flow definition ${flow.name} already has ${open} open human loops (local limit ${this.options.maxOpenLoopsPerFlowDefinition}).`,
          402,
        );
      }
      const config = flow.humanLoopConfig;
      if (!config)
        throw new ServiceError("ValidationException", `Flow definition ${flow.name} has no HumanLoopConfig.`);
      const ui = this.options.controlPlane.humanTaskUi(nameFromArn(config.HumanTaskUiArn));
      const created = this.now();
      const location = parseS3OutputPath(flow.outputConfig.S3OutputPath);
      if (!location)
        throw new ServiceError("ValidationException", `Flow definition ${flow.name} has no output bucket.`);
      const bucket = this.options.bucketForOutput(location.bucket);
      const loop: HumanLoopRecord = {
        name,
        arn: sagemakerArn("human-loop", name),
        flowDefinitionArn: flow.arn,
        flowDefinitionName: flow.name,
        inputContent,
        ...(request.DataAttributes ? { contentClassifiers: request.DataAttributes.ContentClassifiers } : {}),
        creationTime: created.toISOString(),
        status: "InProgress",
        outputS3Uri: `s3://${bucket}/${outputKey(location.prefix, flow.name, name, created)}`,
        task: {
          title: config.TaskTitle,
          description: config.TaskDescription,
          keywords: config.TaskKeywords ?? [],
          taskCount: config.TaskCount,
          taskTimeLimitInSeconds: config.TaskTimeLimitInSeconds as number,
          taskAvailabilityLifetimeInSeconds: config.TaskAvailabilityLifetimeInSeconds as number,
          template: ui.content,
        },
        holds: [],
        answers: [],
        skippedBy: [],
        lapsedHolds: {},
      };
      this.loops.set(name, loop);
      dirty.add(loop);
      return loop.arn;
    });
  }

  /** DescribeHumanLoop's body (ISO-8601 timestamps). */
  async describe(name: string) {
    return this.mutate(async (dirty) => {
      const loop = this.existing(name);
      await this.refresh(loop, dirty);
      return {
        CreationTime: loop.creationTime,
        ...(loop.status === "Failed"
          ? { FailureReason: loop.failureReason, FailureCode: loop.failureCode }
          : {}),
        HumanLoopStatus: loop.status,
        HumanLoopName: loop.name,
        HumanLoopArn: loop.arn,
        FlowDefinitionArn: loop.flowDefinitionArn,
        HumanLoopOutput: { OutputS3Uri: loop.outputS3Uri },
      };
    });
  }

  /** ListHumanLoops' body: one page of summaries and the token for the next. */
  async list(request: ListHumanLoopsRequest) {
    return this.mutate(async (dirty) => {
      const ofFlow = [...this.loops.values()].filter(
        (l) => l.flowDefinitionArn === request.FlowDefinitionArn,
      );
      if (ofFlow.length === 0 && !this.options.controlPlane.hasFlowDefinitionArn(request.FlowDefinitionArn)) {
        throw new ServiceError(
          "ResourceNotFoundException",
          `Flow definition ${request.FlowDefinitionArn} does not exist.`,
          404,
        );
      }
      for (const loop of ofFlow) await this.refresh(loop, dirty);
      const result = page(ofFlow, {
        scope: request.FlowDefinitionArn,
        sortOrder: request.SortOrder,
        maxResults: request.MaxResults,
        nextToken: request.NextToken,
        after: request.CreationTimeAfter?.getTime(),
        before: request.CreationTimeBefore?.getTime(),
      });
      return {
        HumanLoopSummaries: result.items.map((loop) => ({
          HumanLoopName: loop.name,
          HumanLoopStatus: loop.status,
          CreationTime: loop.creationTime,
          ...(loop.status === "Failed" ? { FailureReason: loop.failureReason } : {}),
          FlowDefinitionArn: loop.flowDefinitionArn,
        })),
        ...(result.nextToken ? { NextToken: result.nextToken } : {}),
      };
    });
  }

  /**
   * StopHumanLoop: Stopped at once when nobody holds the task; otherwise Stopping until the holders
   * submit or their holds end (their answers are still written).
   */
  async stop(name: string): Promise<void> {
    await this.mutate(async (dirty) => {
      const loop = this.existing(name);
      await this.refresh(loop, dirty);
      if (loop.status === "Completed" || loop.status === "Failed") {
        throw new ServiceError(
          "ValidationException",
          `Human loop ${name} is ${loop.status} and cannot be stopped.`,
        );
      }
      if (loop.status !== "InProgress") return;
      loop.status = "Stopping";
      dirty.add(loop);
      await this.settle(loop, dirty);
    });
  }

  /** DeleteHumanLoop: only once the loop is Completed, Failed or Stopped. */
  async delete(name: string): Promise<void> {
    await this.mutate(async (dirty) => {
      const loop = this.existing(name);
      await this.refresh(loop, dirty);
      if (isOpen(loop)) {
        throw new ServiceError(
          "ValidationException",
          `Human loop ${name} is ${loop.status}; stop it before deleting it.`,
        );
      }
      if (loop.pendingStatusEvent) this.orphanEvents.push(loop.pendingStatusEvent);
      this.loops.delete(name);
      dirty.delete(loop);
      await this.options.store.humanLoops.remove(name);
    });
  }

  /** What DeleteFlowDefinition does to the definition's loops: each open one is stopped. */
  async stopLoopsOf(flowDefinitionArn: string): Promise<void> {
    await this.mutate(async (dirty) => {
      for (const loop of this.loops.values()) {
        if (loop.flowDefinitionArn !== flowDefinitionArn || loop.status !== "InProgress") continue;
        loop.status = "Stopping";
        dirty.add(loop);
        await this.settle(loop, dirty);
      }
    });
  }

  /** Expires holds and loops whose time is up and retries status events the bus refused. */
  async sweep(): Promise<void> {
    await this.mutate(async (dirty) => {
      for (const loop of this.loops.values()) await this.refresh(loop, dirty);
    });
  }

  // ---------------------------------------------------------------- TaskQueue

  async countAvailable(worker: Worker): Promise<number> {
    return this.mutate(async (dirty) => {
      let count = 0;
      for (const loop of this.loops.values()) {
        await this.refresh(loop, dirty);
        if (this.availableTo(loop, worker)) count++;
      }
      return count;
    });
  }

  /**
   * Claims the oldest task this worker can start; tasks they skipped come last, so a skip moves on
   * to something new whenever there is something new.
   */
  async claimNext(worker: Worker): Promise<OfferedTask | undefined> {
    return this.mutate(async (dirty) => {
      for (const loop of this.loops.values()) await this.refresh(loop, dirty);
      const candidates = [...this.loops.values()]
        .filter((loop) => this.availableTo(loop, worker))
        .sort((a, b) => {
          const skipped = Number(a.skippedBy.includes(worker.id)) - Number(b.skippedBy.includes(worker.id));
          if (skipped !== 0) return skipped;
          const created = ms(a.creationTime) - ms(b.creationTime);
          return created !== 0 ? created : a.name < b.name ? -1 : 1;
        });
      const next = candidates[0];
      if (!next) return undefined;
      const now = this.now();
      next.holds.push({
        worker,
        acceptedAt: now.toISOString(),
        heldUntil: new Date(now.getTime() + this.seconds(next.task.taskTimeLimitInSeconds)).toISOString(),
      });
      delete next.lapsedHolds[worker.id];
      dirty.add(next);
      return this.offer(next, worker);
    });
  }

  async getHeld(worker: Worker, humanLoopName: string): Promise<OfferedTask | undefined> {
    return this.mutate(async (dirty) => {
      const loop = this.loops.get(humanLoopName);
      if (!loop) return undefined;
      await this.refresh(loop, dirty);
      if (!isOpen(loop) || !this.holdOf(loop, worker)) return undefined;
      return this.offer(loop, worker);
    });
  }

  async release(worker: Worker, humanLoopName: string): Promise<void> {
    await this.mutate(async (dirty) => {
      const loop = await this.heldLoop(worker, humanLoopName, dirty);
      loop.holds = loop.holds.filter((h) => h.worker.id !== worker.id);
      if (!loop.skippedBy.includes(worker.id)) loop.skippedBy.push(worker.id);
      dirty.add(loop);
      await this.settle(loop, dirty);
    });
  }

  async submit(worker: Worker, humanLoopName: string, answerContent: Record<string, unknown>): Promise<void> {
    if (answerContent === null || typeof answerContent !== "object" || Array.isArray(answerContent)) {
      throw new InvalidAnswerError("answerContent must be an object keyed by the form's element names");
    }
    await this.mutate(async (dirty) => {
      const loop = await this.heldLoop(worker, humanLoopName, dirty);
      const hold = this.holdOf(loop, worker);
      if (!hold) throw new Error("unreachable: heldLoop returned a loop the worker does not hold");
      loop.holds = loop.holds.filter((h) => h !== hold);
      loop.answers.push({
        worker,
        answerContent: structuredClone(answerContent),
        acceptedAt: hold.acceptedAt,
        submittedAt: this.now().toISOString(),
      });
      dirty.add(loop);
      await this.settle(loop, dirty);
    });
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Emits every status-change event still owed to the bus and not already on its way, and waits
   * for those deliveries. Deliveries already running belong to their caller and are not awaited:
   * a rule target that calls back into A2I must never wait on its own delivery.
   */
  async flushEvents(): Promise<void> {
    const deliveries = this.owedEvents()
      .filter((event) => !this.inFlight.has(event))
      .map((event) => this.deliver(event));
    await Promise.all(deliveries);
  }

  /** Waits for running operations and event deliveries to finish. */
  async idle(): Promise<void> {
    await this.lock.catch(() => undefined);
    await Promise.all(this.inFlight.values());
  }

  // ---------------------------------------------------------------- internals

  private now(): Date {
    return this.options.clock.now();
  }

  /**
   * Runs one operation at a time (an output write must not interleave with a stop), persists what
   * it changed, then — outside the lock, so a rule target may call back into A2I — emits events.
   */
  private async mutate<T>(operation: (dirty: Set<HumanLoopRecord>) => Promise<T>): Promise<T> {
    const result = await this.exclusive(operation);
    // The operation succeeded; an event the bus refuses stays owed and is retried, never reported here.
    await this.flushEvents();
    return result;
  }

  private exclusive<T>(operation: (dirty: Set<HumanLoopRecord>) => Promise<T>): Promise<T> {
    const run = this.lock.then(async () => {
      const dirty = new Set<HumanLoopRecord>();
      try {
        return await operation(dirty);
      } finally {
        for (const loop of dirty) {
          if (this.loops.get(loop.name) === loop) await this.options.store.humanLoops.save(loop.name, loop);
        }
      }
    });
    this.lock = run.catch(() => undefined);
    return run;
  }

  private owedEvents(): BusEvent[] {
    const owed = [...this.orphanEvents];
    for (const loop of this.loops.values()) if (loop.pendingStatusEvent) owed.push(loop.pendingStatusEvent);
    return owed;
  }

  private existing(name: string): HumanLoopRecord {
    const loop = this.loops.get(name);
    if (!loop) throw notFound(name);
    return loop;
  }

  private holdOf(loop: HumanLoopRecord, worker: Worker) {
    return loop.holds.find((h) => h.worker.id === worker.id);
  }

  private expired(loop: HumanLoopRecord): boolean {
    return (
      this.now().getTime() >=
      ms(loop.creationTime) + this.seconds(loop.task.taskAvailabilityLifetimeInSeconds)
    );
  }

  /** A duration in A2I seconds as scaled milliseconds. */
  private seconds(value: number): number {
    return value * 1000 * this.options.timeScale;
  }

  private availableTo(loop: HumanLoopRecord, worker: Worker): boolean {
    if (loop.status !== "InProgress" || this.expired(loop)) return false;
    if (loop.answers.some((a) => a.worker.id === worker.id) || this.holdOf(loop, worker)) return false;
    return loop.answers.length + loop.holds.length < loop.task.taskCount;
  }

  /** The loop this worker may act on, or the TaskUnavailableError that says why not. */
  private async heldLoop(
    worker: Worker,
    name: string,
    dirty: Set<HumanLoopRecord>,
  ): Promise<HumanLoopRecord> {
    const loop = this.loops.get(name);
    if (!loop) throw new TaskUnavailableError("closed", `Task ${name} no longer exists.`);
    if (loop.answers.some((a) => a.worker.id === worker.id)) {
      throw new TaskUnavailableError("already-answered", `You already answered task ${name}.`);
    }
    await this.refresh(loop, dirty);
    if (this.holdOf(loop, worker)) return loop;
    // An expired loop is gone for everyone: "went back to the queue" would send the reviewer looking.
    if (loop.status === "Failed" && loop.failureCode === "Expired") {
      throw new TaskUnavailableError(
        "expired",
        `Task ${name} expired: it was not finished within its ${loop.task.taskAvailabilityLifetimeInSeconds}-second availability and is closed. Nothing more is needed from you.`,
      );
    }
    if (loop.lapsedHolds[worker.id]) {
      throw new TaskUnavailableError(
        "expired",
        `Your time for task ${name} ran out at ${loop.lapsedHolds[worker.id]}; it went back to the queue.`,
      );
    }
    if (!isOpen(loop)) throw new TaskUnavailableError("closed", `Task ${name} is closed (${loop.status}).`);
    throw new TaskUnavailableError("not-held", `You do not hold task ${name}; take it from the queue first.`);
  }

  /** Applies what the passage of time did to the loop: lapsed holds, then expiry or a finished stop. */
  private async refresh(loop: HumanLoopRecord, dirty: Set<HumanLoopRecord>): Promise<void> {
    if (!isOpen(loop)) return;
    const now = this.now().getTime();
    const lapsed = loop.holds.filter((h) => ms(h.heldUntil) <= now);
    if (lapsed.length > 0) {
      for (const hold of lapsed) loop.lapsedHolds[hold.worker.id] = hold.heldUntil;
      loop.holds = loop.holds.filter((h) => !lapsed.includes(h));
      dirty.add(loop);
    }
    await this.settle(loop, dirty);
  }

  /** Moves an open loop to its next status once its answers, holds and lifetime allow it. */
  private async settle(loop: HumanLoopRecord, dirty: Set<HumanLoopRecord>): Promise<void> {
    if (!isOpen(loop)) return;
    if (loop.status === "InProgress" && loop.answers.length >= loop.task.taskCount) {
      await this.finish(loop, "Completed", dirty);
    } else if (loop.status === "Stopping" && loop.holds.length === 0) {
      await this.finish(loop, "Stopped", dirty);
    } else if (loop.status === "InProgress" && loop.holds.length === 0 && this.expired(loop)) {
      const lifetime = loop.task.taskAvailabilityLifetimeInSeconds;
      this.fail(loop, "Expired", `No worker completed the task within ${lifetime} seconds.`, dirty);
    }
  }

  private async finish(loop: HumanLoopRecord, status: "Completed" | "Stopped", dirty: Set<HumanLoopRecord>) {
    dirty.add(loop);
    // A stopped loop keeps the answers submitted before it stopped; with none there is nothing to write.
    if (loop.answers.length > 0) {
      try {
        await this.writeOutput(loop);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        this.fail(loop, "InternalError", `Could not write ${loop.outputS3Uri}: ${reason}`, dirty);
        return;
      }
    }
    this.transition(loop, status);
  }

  private fail(loop: HumanLoopRecord, code: FailureCode, reason: string, dirty: Set<HumanLoopRecord>) {
    loop.failureCode = code;
    loop.failureReason = reason;
    loop.holds = [];
    dirty.add(loop);
    this.transition(loop, "Failed");
  }

  private transition(loop: HumanLoopRecord, status: "Completed" | "Stopped" | "Failed") {
    loop.status = status;
    loop.holds = [];
    loop.pendingStatusEvent = this.statusEvent(loop);
  }

  private async writeOutput(loop: HumanLoopRecord): Promise<void> {
    const output = {
      flowDefinitionArn: loop.flowDefinitionArn,
      humanAnswers: loop.answers.map((answer) => ({
        acceptanceTime: answer.acceptedAt,
        answerContent: answer.answerContent,
        submissionTime: answer.submittedAt,
        timeSpentInSeconds: (ms(answer.submittedAt) - ms(answer.acceptedAt)) / 1000,
        workerId: answer.worker.id,
        workerMetadata: {
          identityData: {
            identityProviderType: answer.worker.identityProviderType,
            issuer: answer.worker.issuer,
            sub: answer.worker.sub,
          },
        },
      })),
      humanLoopName: loop.name,
      inputContent: JSON.parse(loop.inputContent),
    };
    const { bucket, key } = splitS3Uri(loop.outputS3Uri);
    await this.options.objects.put(bucket, key, Buffer.from(JSON.stringify(output)), "application/json");
  }

  private statusEvent(loop: HumanLoopRecord): BusEvent {
    return {
      version: "0",
      id: randomUUID(),
      "detail-type": STATUS_CHANGE_DETAIL_TYPE,
      source: "aws.sagemaker",
      account: LOCAL_ACCOUNT,
      // EventBridge's `time` has second precision.
      time: `${this.now().toISOString().slice(0, 19)}Z`,
      region: LOCAL_REGION,
      resources: [loop.arn],
      detail: {
        creationTime: loop.creationTime,
        failureCode: loop.status === "Failed" ? (loop.failureCode ?? null) : null,
        failureReason: loop.status === "Failed" ? (loop.failureReason ?? null) : null,
        flowDefinitionArn: loop.flowDefinitionArn,
        humanLoopArn: loop.arn,
        humanLoopName: loop.name,
        humanLoopOutput: { outputS3Uri: loop.outputS3Uri },
        humanLoopStatus: loop.status,
      },
    };
  }

  private deliver(event: BusEvent): Promise<void> {
    const delivery = this.emit(event).finally(() => this.inFlight.delete(event));
    this.inFlight.set(event, delivery);
    return delivery;
  }

  /** Puts one event on the bus and records that it went; never rejects (a refused event stays owed). */
  private async emit(event: BusEvent): Promise<void> {
    try {
      await this.options.bus.put(event);
      const orphan = this.orphanEvents.indexOf(event);
      if (orphan >= 0) {
        this.orphanEvents.splice(orphan, 1);
        return;
      }
      await this.exclusive(async (dirty) => {
        for (const loop of this.loops.values()) {
          if (loop.pendingStatusEvent !== event) continue;
          delete loop.pendingStatusEvent;
          dirty.add(loop);
        }
      });
    } catch (error) {
      this.options.onEventError?.(error);
    }
  }

  private offer(loop: HumanLoopRecord, worker: Worker): OfferedTask {
    const hold = this.holdOf(loop, worker);
    if (!hold) throw new Error("unreachable: offering a task the worker does not hold");
    return {
      humanLoopName: loop.name,
      flowDefinitionName: loop.flowDefinitionName,
      title: loop.task.title,
      description: loop.task.description,
      keywords: [...loop.task.keywords],
      template: loop.task.template,
      input: JSON.parse(loop.inputContent),
      createdAt: new Date(loop.creationTime),
      acceptedAt: new Date(hold.acceptedAt),
      heldUntil: new Date(hold.heldUntil),
    };
  }
}

/** InputContent must be JSON text holding an object: it becomes `task.input` and output.json's `inputContent`. */
export function parseInputContent(inputContent: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(inputContent);
  } catch {
    throw new ServiceError("ValidationException", "HumanLoopInput.InputContent must be a JSON document.");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ServiceError("ValidationException", "HumanLoopInput.InputContent must be a JSON object.");
  }
  return parsed as Record<string, unknown>;
}
