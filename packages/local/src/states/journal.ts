/**
 * The write-ahead journal behind the engine's acknowledgements. An acknowledged StartExecution,
 * SendTask* or StopExecution must survive a power cut, but an fdatasync per execution file makes a
 * burst of short executions wait on the disk once each. Instead the lines an acknowledgement needs
 * (everything its execution log has written but not yet flushed) are copied into one shared journal
 * segment, and one fdatasync of that segment covers every acknowledgement waiting at that moment
 * (group commit). Execution logs stay the source of truth: a checkpoint (every second) flushes them
 * and then deletes the journal segments they cover; at startup, journal records a log lacks are
 * re-applied, by event id, before anything reads the logs.
 */
import {
  closeSync,
  existsSync,
  fdatasync,
  fdatasyncSync,
  fsync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  unlink,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, join } from "node:path";
import { z } from "zod";
import { type ExecutionLog, type LogTracker, readLog } from "./history";

/** A journal that cannot be applied to the execution logs without losing or inventing events. */
export class JournalReplayError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JournalReplayError";
  }
}

/** One journal line: an execution log's file name and the events it may lack after a power cut. */
const JournalRecord = z.object({
  // Only names the engine itself gives logs (a hash), so a damaged journal cannot write elsewhere.
  log: z.string().regex(/^[0-9a-f]{40}\.jsonl$/),
  events: z.array(z.looseObject({ id: z.number().int().positive(), type: z.string() })).min(1),
});

const SEGMENT = /^journal-(\d+)\.log$/;

function segmentName(n: number): string {
  return `journal-${String(n).padStart(8, "0")}.log`;
}

function deferred() {
  let resolve: () => void = () => {};
  let reject: (error: unknown) => void = () => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Leader/follower group commit over one flush operation: a waiter is released by a flush that
 * began after it asked, and while a flush is in flight every new waiter queues for the next one,
 * so N concurrent waiters cost two flushes at most. A failed flush rejects exactly its batch.
 */
export class GroupCommit {
  private inFlight: Promise<void> | undefined;
  private next: ReturnType<typeof deferred> | undefined;

  constructor(private readonly flush: () => Promise<void>) {}

  /** Resolves once a flush that started after this call has completed. */
  wait(): Promise<void> {
    this.next ??= deferred();
    const { promise } = this.next;
    if (!this.inFlight) this.start();
    return promise;
  }

  /** Resolves when no flush is running or queued. */
  async idle(): Promise<void> {
    while (this.inFlight) await this.inFlight.catch(() => {});
  }

  private start() {
    const batch = this.next;
    if (!batch) return;
    this.next = undefined;
    const run = this.flush().then(batch.resolve, batch.reject);
    this.inFlight = run;
    void run.then(() => {
      this.inFlight = undefined;
      this.start();
    });
  }
}

function syncDirectory(dir: string): Promise<void> {
  const fd = openSync(dir, "r");
  return new Promise<void>((resolve, reject) =>
    fsync(fd, (error) => {
      closeSync(fd);
      if (error) reject(error);
      else resolve();
    }),
  );
}

function syncDirectorySync(dir: string) {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

class Segment {
  readonly fd: number;
  readonly group: GroupCommit;
  records = 0;

  constructor(readonly file: string) {
    this.fd = openSync(file, "a");
    this.group = new GroupCommit(
      () =>
        new Promise<void>((resolve, reject) =>
          fdatasync(this.fd, (error) => (error ? reject(error) : resolve())),
        ),
    );
  }
}

/** Reads a segment's records; stops at the first line that is not whole JSON (see `replayJournal`). */
function readSegment(file: string): z.infer<typeof JournalRecord>[] {
  const text = readFileSync(file, "utf8");
  const lines = text.split("\n");
  // Bytes after the last newline are a write the process or the power did not finish.
  lines.pop();
  const records: z.infer<typeof JournalRecord>[] = [];
  for (const [i, line] of lines.entries()) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      // A line a power cut tore (or zero-filled). Every record after it was written later and so
      // was never acknowledged: an acknowledgement's fdatasync would have made this line whole.
      break;
    }
    const record = JournalRecord.safeParse(parsed);
    if (!record.success) {
      throw new JournalReplayError(`Journal ${file} line ${i + 1} is not a journal record`);
    }
    records.push(record.data);
  }
  return records;
}

/**
 * Re-applies journal segments to the execution logs: each record's events that its log lacks are
 * appended (idempotent by event id), the touched logs and their folder are flushed, and the
 * segments deleted. Returns how many events were re-applied.
 */
export function replayJournal(journalDir: string, executionsDir: string): number {
  const segments = readdirSync(journalDir)
    .filter((name) => SEGMENT.test(name))
    .sort();
  // The last event id of each touched log, so a log is read once however many records name it.
  const lastIds = new Map<string, number>();
  let applied = 0;
  for (const name of segments) {
    for (const record of readSegment(join(journalDir, name))) {
      const file = join(executionsDir, record.log);
      let lastId = lastIds.get(file) ?? (existsSync(file) ? (readLog(file).at(-1)?.id ?? 0) : 0);
      const known = lastId;
      const missing = record.events.filter((event) => event.id > known);
      if (missing[0] && missing[0].id !== lastId + 1) {
        throw new JournalReplayError(
          `Journal ${name} continues ${record.log} at event ${missing[0].id}, but the log ends at ${lastId}`,
        );
      }
      if (missing.length > 0) {
        const fd = openSync(file, "a");
        try {
          writeSync(fd, missing.map((event) => `${JSON.stringify(event)}\n`).join(""));
          fdatasyncSync(fd);
        } finally {
          closeSync(fd);
        }
        applied += missing.length;
        lastId = (missing.at(-1) as { id: number }).id;
      }
      lastIds.set(file, lastId);
    }
  }
  if (applied > 0) syncDirectorySync(executionsDir);
  for (const name of segments) unlinkSync(join(journalDir, name));
  if (segments.length > 0) syncDirectorySync(journalDir);
  return applied;
}

/**
 * The engine's journal: `commit(log)` makes a log's written lines durable with a shared fdatasync;
 * `checkpoint()` flushes every log written since the last checkpoint and deletes the segments
 * those flushes made redundant. Open it with `openJournal`, which replays what a crash left.
 */
export class Journal implements LogTracker {
  private current: Segment;
  /** Logs written since the last checkpoint began: the next checkpoint flushes them. */
  private pending = new Set<ExecutionLog>();
  /** Sealed segments whose logs are not all known flushed yet. */
  private retired: Segment[] = [];
  private checkpointing: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly journalDir: string,
    private readonly executionsDir: string,
    private sequence: number,
    /** write(2) for journal records; tests inject a failing one to imitate a full disk. */
    private readonly write: (fd: number, text: string) => number = writeSync,
  ) {
    this.current = new Segment(join(journalDir, segmentName(sequence)));
    // The segment's directory entry must be on disk before an acknowledgement relies on it.
    syncDirectorySync(journalDir);
  }

  dirtied(log: ExecutionLog): void {
    this.pending.add(log);
  }

  /** Resolves once every line `log` has written is durable (in the journal or in the log). */
  commit(log: ExecutionLog): Promise<void> {
    const lines = log.unsynced();
    if (lines.length === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error("The journal is closed"));
    const segment = this.current;
    const record = `{"log":${JSON.stringify(basename(log.file))},"events":[${lines.join(",")}]}\n`;
    let written = 0;
    try {
      written = this.write(segment.fd, record);
    } finally {
      // A failed or short write (a full disk) leaves a torn line, and replay stops at a torn line:
      // nothing may follow it, so later records go to a new segment.
      if (written !== Buffer.byteLength(record)) this.seal();
    }
    if (written !== Buffer.byteLength(record)) {
      return Promise.reject(new Error(`Short write to the journal ${segment.file}`));
    }
    segment.records++;
    return segment.group.wait();
  }

  /** Retires the current segment at once and continues in a new one. */
  private seal() {
    // Numbers are taken before any wait, so a checkpoint and a seal never share a segment.
    const next = new Segment(join(this.journalDir, segmentName(++this.sequence)));
    syncDirectorySync(this.journalDir);
    this.current.records++;
    this.retired.push(this.current);
    this.current = next;
  }

  /** Flushes the logs written since the last checkpoint and deletes the segments they cover. */
  checkpoint(): Promise<void> {
    this.checkpointing ??= this.runCheckpoint().finally(() => {
      this.checkpointing = undefined;
    });
    return this.checkpointing;
  }

  private async runCheckpoint() {
    if (this.current.records > 0 && !this.closed) {
      const next = new Segment(join(this.journalDir, segmentName(++this.sequence)));
      try {
        await syncDirectory(this.journalDir);
      } catch (error) {
        closeSync(next.fd);
        throw error;
      }
      this.retired.push(this.current);
      this.current = next;
    }
    const sealed = this.retired.splice(0);
    try {
      await this.flushPending();
    } catch (error) {
      this.retired.unshift(...sealed);
      throw error;
    }
    for (const segment of sealed) {
      await segment.group.idle();
      closeSync(segment.fd);
      await new Promise<void>((resolve) => unlink(segment.file, () => resolve()));
    }
  }

  /** Flushes every log written since the last call; on failure they stay pending. */
  private async flushPending() {
    // Taken after any segment switch: every record in a sealed segment names a log written before now.
    const logs = [...this.pending];
    this.pending.clear();
    try {
      await Promise.all(logs.map((log) => log.sync()));
      // New logs' directory entries, which a journal record alone would otherwise have to recreate.
      if (logs.length > 0) await syncDirectory(this.executionsDir);
    } catch (error) {
      for (const log of logs) this.pending.add(log);
      throw error;
    }
  }

  /**
   * Flushes everything and closes the journal. Best effort, like a crash: whatever cannot be
   * flushed (the data folder is gone, the disk fails) stays in its segment for the next start.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.checkpointing?.catch(() => {});
    let flushed = true;
    await this.flushPending().catch(() => {
      flushed = false;
    });
    for (const segment of [...this.retired.splice(0), this.current]) {
      await segment.group.idle();
      closeSync(segment.fd);
      if (flushed || segment.records === 0) {
        await new Promise<void>((resolve) => unlink(segment.file, () => resolve()));
      }
    }
  }
}

/** Replays whatever journal a crash left in `journalDir`, then starts a fresh one. */
export function openJournal(
  journalDir: string,
  executionsDir: string,
  write?: (fd: number, text: string) => number,
): Journal {
  const last = readdirSync(journalDir)
    .map((name) => Number(SEGMENT.exec(name)?.[1] ?? 0))
    .reduce((a, b) => Math.max(a, b), 0);
  replayJournal(journalDir, executionsDir);
  return new Journal(journalDir, executionsDir, last + 1, write);
}
