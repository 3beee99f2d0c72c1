/**
 * Task tokens: opaque to callers, but naming their execution so a callback that arrives after a
 * restart can find (and resume) the execution that waits for it.
 */
import { randomUUID } from "node:crypto";

/** Creates a task token: opaque, unique per attempt, and naming its execution so it outlives restarts. */
export function newTaskToken(executionArn: string): string {
  return Buffer.from(JSON.stringify({ v: 1, x: executionArn, n: randomUUID() })).toString("base64url");
}

/** The execution a token belongs to, or undefined when the text is not a token this engine minted. */
export function tokenExecution(token: string): string | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Record<string, unknown>;
    return parsed.v === 1 && typeof parsed.x === "string" && typeof parsed.n === "string"
      ? parsed.x
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The open task tokens of every running attempt. After a restart an execution re-registers its
 * open token only when its replay reaches the task again, so a callback that arrives first can
 * wait here for it instead of being told the task is closed (which would drop the answer).
 */
export class TokenTable<Waiter extends { executionArn: string }> extends Map<string, Waiter> {
  private readonly awaited = new Map<string, Set<() => void>>();
  /** Open tokens per execution, so closing one of thousands waiting does not scan them all. */
  private readonly byExecution = new Map<string, Set<string>>();

  override set(token: string, waiter: Waiter): this {
    super.set(token, waiter);
    const owned = this.byExecution.get(waiter.executionArn) ?? new Set();
    owned.add(token);
    this.byExecution.set(waiter.executionArn, owned);
    const wakers = this.awaited.get(token);
    this.awaited.delete(token);
    for (const wake of wakers ?? []) wake();
    return this;
  }

  override delete(token: string): boolean {
    const waiter = this.get(token);
    if (!waiter) return false;
    const owned = this.byExecution.get(waiter.executionArn);
    owned?.delete(token);
    if (owned?.size === 0) this.byExecution.delete(waiter.executionArn);
    return super.delete(token);
  }

  override clear(): void {
    this.byExecution.clear();
    super.clear();
  }

  /** Closes every open token of one execution (it ended). */
  deleteExecution(executionArn: string): void {
    for (const token of this.byExecution.get(executionArn) ?? []) super.delete(token);
    this.byExecution.delete(executionArn);
  }

  /** Resolves once `token` is registered, or once `stillExpected()` turns false (checked every 50 ms). */
  registered(token: string, stillExpected: () => boolean): Promise<void> {
    if (this.has(token)) return Promise.resolve();
    return new Promise((resolve) => {
      const wakers = this.awaited.get(token) ?? new Set();
      this.awaited.set(token, wakers);
      const done = () => {
        clearInterval(poll);
        wakers.delete(done);
        if (wakers.size === 0 && this.awaited.get(token) === wakers) this.awaited.delete(token);
        resolve();
      };
      const poll = setInterval(() => {
        if (!stillExpected()) done();
      }, 50);
      wakers.add(done);
    });
  }
}

/** Event types that leave a task attempt open: anything else after its TaskScheduled closes it. */
const OPEN_ATTEMPT_EVENTS = new Set(["TaskStarted", "TaskSubmitted"]);

/** Whether a recorded history holds `token`'s attempt scheduled and not yet closed. */
export function tokenOpenIn(
  events: readonly { id: number; type: string; scope: string; meta?: Record<string, unknown> }[],
  token: string,
): boolean {
  const scheduled = events.find((event) => event.meta?.token === token);
  if (!scheduled) return false;
  return !events.some(
    (event) =>
      event.id > scheduled.id && event.scope === scheduled.scope && !OPEN_ATTEMPT_EVENTS.has(event.type),
  );
}
