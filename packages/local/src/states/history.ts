/**
 * Execution histories: the event records the interpreter writes, their AWS wire shape, and the
 * append-only JSON Lines log each execution is persisted in.
 */
import { closeSync, fdatasync, openSync, readFileSync, truncateSync, writeSync } from "node:fs";

/** One history event as stored: AWS's fields plus the engine's own bookkeeping. */
export interface StoredEvent {
  id: number;
  previousEventId: number;
  /** Epoch milliseconds. */
  timestamp: number;
  type: string;
  details?: Record<string, unknown>;
  /** Which sequence of states the event belongs to: "" for the top level, longer for branches. */
  scope: string;
  /** Engine-only data needed to resume (next state, retry decision, task token); never sent. */
  meta?: Record<string, unknown>;
}

/** A history event in GetExecutionHistory's shape: epoch-second timestamp, `<camelType>EventDetails`. */
export function toWireEvent(event: StoredEvent): Record<string, unknown> {
  const wire: Record<string, unknown> = {
    timestamp: event.timestamp / 1000,
    type: event.type,
    id: event.id,
    previousEventId: event.previousEventId,
  };
  if (event.details) wire[detailsMember(event.type)] = event.details;
  return wire;
}

function detailsMember(type: string): string {
  if (type.endsWith("StateEntered")) return "stateEnteredEventDetails";
  if (type.endsWith("StateExited")) return "stateExitedEventDetails";
  return `${type[0]?.toLowerCase()}${type.slice(1)}EventDetails`;
}

/**
 * Reads a log; a torn last line (the process died mid-write) never took effect and is dropped,
 * and cut from the file, so the events appended after a restart start on a line of their own.
 */
export function readLog(file: string): StoredEvent[] {
  const bytes = readFileSync(file);
  // Every event is written as one whole line; bytes after the last newline are a torn write.
  const complete = bytes.lastIndexOf(0x0a) + 1;
  if (complete < bytes.length) truncateSync(file, complete);
  const lines = bytes.subarray(0, complete).toString("utf8").split("\n");
  const events: StoredEvent[] = [];
  for (const [i, line] of lines.entries()) {
    if (!line) continue;
    try {
      events.push(JSON.parse(line) as StoredEvent);
    } catch (error) {
      if (i >= lines.length - 2) break;
      throw new Error(`Corrupt history line ${i + 1} in ${file}: ${(error as Error).message}`);
    }
  }
  return events;
}

/**
 * A log's first and last whole events, parsing nothing between them: startup reads every closed
 * execution's log, and only needs how it began and ended. Anything unusual (a torn or damaged
 * tail) is left to `readLog`'s rules.
 */
export function readLogEnds(file: string): { first?: StoredEvent; last?: StoredEvent } {
  const bytes = readFileSync(file);
  const firstEnd = bytes.indexOf(0x0a);
  const lastEnd = bytes.length - 1;
  if (firstEnd >= 0 && bytes[lastEnd] === 0x0a) {
    try {
      const first = JSON.parse(bytes.subarray(0, firstEnd).toString("utf8")) as StoredEvent;
      const lastStart = bytes.lastIndexOf(0x0a, lastEnd - 1) + 1;
      const last =
        lastStart === 0
          ? first
          : (JSON.parse(bytes.subarray(lastStart, lastEnd).toString("utf8")) as StoredEvent);
      return { first, last };
    } catch {
      // Falls through to the full read, which knows which damage a crash can leave.
    }
  }
  const events = readLog(file);
  return { first: events[0], last: events.at(-1) };
}

/** Open log files are capped so thousands of executions waiting on people never exhaust descriptors. */
const MAX_OPEN_LOGS = 64;
/** Logs holding a descriptor, least recently used first (a Set keeps insertion order). */
const openLogs = new Set<ExecutionLog>();

function evictIdleLogs(keep: ExecutionLog) {
  for (const log of openLogs) {
    if (openLogs.size <= MAX_OPEN_LOGS) return;
    if (log !== keep) log.release();
  }
}

/** Told when a log has events that are written but not yet flushed, so a checkpoint can flush them. */
export interface LogTracker {
  dirtied(log: ExecutionLog): void;
}

/**
 * An execution's append-only log. Each event is written with one write(2) before it takes effect,
 * so a killed process never loses a recorded step; `sync()` adds fdatasync. Acknowledgements do not
 * sync the log itself: they copy its unflushed lines (`unsynced()`) into the shared journal, whose
 * one fdatasync covers every waiting acknowledgement; the tracker's checkpoint flushes the log later.
 * The descriptor is opened on demand and may be released while idle.
 */
export class ExecutionLog {
  private fd: number | undefined;
  private dirty = false;
  private syncing = 0;
  private flushing: Promise<void> | undefined;
  private closed = false;
  /** Lines written but not yet covered by a completed fdatasync, oldest first. */
  private tail: string[] = [];
  /** How many lines were ever written, and how many of them a completed fdatasync covers. */
  private written = 0;
  private durable = 0;

  constructor(
    readonly file: string,
    private readonly tracker?: LogTracker,
  ) {}

  private handle(): number {
    if (this.fd === undefined) this.fd = openSync(this.file, "a");
    openLogs.delete(this);
    openLogs.add(this);
    evictIdleLogs(this);
    return this.fd;
  }

  append(event: StoredEvent): void {
    if (this.closed) throw new Error(`History ${this.file} is closed`);
    const line = JSON.stringify(event);
    writeSync(this.handle(), `${line}\n`);
    this.tail.push(line);
    this.written++;
    this.dirty = true;
    this.tracker?.dirtied(this);
  }

  /** The lines a power cut could still take from this file (written, not yet fdatasync'ed). */
  unsynced(): readonly string[] {
    return this.tail;
  }

  /**
   * Flushes written events to the disk (fdatasync) if any were written since the last flush. A
   * closed log can still be flushed: closing gives up the right to append, not what was written.
   */
  sync(): Promise<void> {
    // Nothing new to flush: a caller still waits for a flush already under way.
    if (!this.dirty) return this.flushing ?? Promise.resolve();
    const fd = this.handle();
    const upto = this.written;
    this.dirty = false;
    this.syncing++;
    const flush = new Promise<void>((resolve, reject) =>
      fdatasync(fd, (error) => {
        this.syncing--;
        if (this.flushing === flush) this.flushing = undefined;
        if (error) {
          // The lines stay unflushed: the next sync must try them again.
          this.dirty = true;
          this.tracker?.dirtied(this);
          reject(error);
          return;
        }
        // Flushes may finish out of order; each covers every line written before it began.
        if (upto > this.durable) {
          this.tail.splice(0, upto - this.durable);
          this.durable = upto;
        }
        if (this.closed) this.release();
        resolve();
      }),
    );
    this.flushing = flush;
    return flush;
  }

  /**
   * Gives the descriptor back while the log is idle; the next append or sync reopens it (fdatasync
   * on a new descriptor still flushes what the old one wrote). A log being synced keeps its descriptor.
   */
  release(): void {
    if (this.fd === undefined || this.syncing > 0) return;
    closeSync(this.fd);
    this.fd = undefined;
    openLogs.delete(this);
  }

  /**
   * Refuses further appends and gives the descriptor back. Without a tracker the log is flushed
   * first; with one, its unflushed lines wait for the tracker's next checkpoint.
   */
  async close(): Promise<void> {
    if (!this.tracker) await this.sync();
    this.closed = true;
    // Lines still to flush keep the descriptor (reopening thousands of files to flush them costs
    // more than the flush); the flush gives it back, as does one still under way.
    if (this.tail.length === 0) this.release();
  }
}
