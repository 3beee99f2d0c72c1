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

/**
 * An execution's append-only log. Each event is written with one write(2) before it takes effect,
 * so a killed process never loses a recorded step; `sync()` adds fdatasync for the moments a
 * caller is told something is recorded (API acknowledgements), which keeps the hot loop fast.
 * The descriptor is opened on demand and may be released while idle.
 */
export class ExecutionLog {
  private fd: number | undefined;
  private dirty = false;
  private syncing = 0;
  private flushing: Promise<void> | undefined;
  private closed = false;

  constructor(readonly file: string) {}

  private handle(): number {
    if (this.closed) throw new Error(`History ${this.file} is closed`);
    if (this.fd === undefined) this.fd = openSync(this.file, "a");
    openLogs.delete(this);
    openLogs.add(this);
    evictIdleLogs(this);
    return this.fd;
  }

  append(event: StoredEvent): void {
    writeSync(this.handle(), `${JSON.stringify(event)}\n`);
    this.dirty = true;
  }

  /** Flushes written events to the disk (fdatasync) if any were written since the last flush. */
  sync(): Promise<void> {
    // Nothing new to flush: a caller still waits for a flush already under way.
    if (this.closed || !this.dirty) return this.flushing ?? Promise.resolve();
    const fd = this.handle();
    this.dirty = false;
    this.syncing++;
    const flush = new Promise<void>((resolve, reject) =>
      fdatasync(fd, (error) => {
        this.syncing--;
        if (this.flushing === flush) this.flushing = undefined;
        if (error) reject(error);
        else resolve();
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

  async close(): Promise<void> {
    await this.sync();
    this.closed = true;
    while (this.syncing > 0) await new Promise((resolve) => setImmediate(resolve));
    this.release();
  }
}
