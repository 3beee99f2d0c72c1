/**
 * The write-ahead journal behind every execution history. Each event an execution records is first
 * written, as one line naming its execution log, to the current journal segment with write(2)
 * (a killed process loses nothing), and the execution logs are written behind: a checkpoint (every
 * second) appends each log's new lines to its own file, flushes those files and deletes the segments
 * they cover. So a burst of short executions shares one open file instead of creating a file each on
 * the hot path. An acknowledged StartExecution, SendTask* or StopExecution must also survive a power
 * cut: one fdatasync of the segment holding its lines covers every acknowledgement waiting at that
 * moment (group commit). At startup, journal records a log lacks are re-applied, by event id,
 * before anything reads the logs.
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
import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { type ExecutionLog, type LogSink, readLog } from "./history";

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

/** The journal's write buffer: records of one turn beyond it are written out as it fills. */
const BUFFER_BYTES = 1024 * 1024;

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

/** A journal write that did not complete (a full disk): the records it held wait for the next one. */
export class JournalWriteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JournalWriteError";
  }
}

/**
 * One journal file. Records are numbered across segments (`seq`); a segment knows the last number
 * written into it and the last one an fdatasync of it covers.
 */
class Segment {
  readonly fd: number;
  readonly group: GroupCommit;
  /** Whole records written into this segment. */
  records = 0;
  /** The first and last record numbers written here (first is 0 until a record is). */
  firstSeq = 0;
  lastSeq = 0;
  private syncedSeq = 0;

  constructor(readonly file: string) {
    this.fd = openSync(file, "a");
    this.group = new GroupCommit(() => {
      const upto = this.lastSeq;
      return new Promise<void>((resolve, reject) =>
        fdatasync(this.fd, (error) => {
          if (error) return reject(error);
          this.syncedSeq = Math.max(this.syncedSeq, upto);
          resolve();
        }),
      );
    });
  }

  /** Resolves once every record up to `seq` that this segment holds is on disk. */
  durable(seq: number): Promise<void> {
    if (this.firstSeq === 0 || this.firstSeq > seq) return Promise.resolve();
    return Math.min(seq, this.lastSeq) <= this.syncedSeq ? Promise.resolve() : this.group.wait();
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
  // Each touched log is read once and written once, however many records name it: after a crash
  // the journal holds every event of the last second or so, thousands of records for a busy engine.
  const logs = new Map<string, { lastId: number; missing: string[] }>();
  for (const name of segments) {
    for (const record of readSegment(join(journalDir, name))) {
      const file = join(executionsDir, record.log);
      let log = logs.get(file);
      if (!log) {
        log = { lastId: existsSync(file) ? (readLog(file).at(-1)?.id ?? 0) : 0, missing: [] };
        logs.set(file, log);
      }
      const known = log.lastId;
      const missing = record.events.filter((event) => event.id > known);
      if (missing[0] && missing[0].id !== known + 1) {
        throw new JournalReplayError(
          `Journal ${name} continues ${record.log} at event ${missing[0].id}, but the log ends at ${known}`,
        );
      }
      for (const event of missing) log.missing.push(`${JSON.stringify(event)}\n`);
      if (missing.length > 0) log.lastId = (missing.at(-1) as { id: number }).id;
    }
  }
  let applied = 0;
  for (const [file, log] of logs) {
    if (log.missing.length === 0) continue;
    const fd = openSync(file, "a");
    try {
      writeSync(fd, log.missing.join(""));
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    applied += log.missing.length;
  }
  if (applied > 0) syncDirectorySync(executionsDir);
  for (const name of segments) unlinkSync(join(journalDir, name));
  if (segments.length > 0) syncDirectorySync(journalDir);
  return applied;
}

/**
 * Lines of one execution log that are in the journal but not yet known on disk in its file. The
 * lines themselves are not kept: the checkpoint reads them back from the sealed segments, so a
 * second of history does not sit in the heap twice (as events and as text) until it is written,
 * which cost the engine's garbage collector more than writing it (bench/engine.ts).
 */
interface Unwritten {
  log: ExecutionLog;
  /** The event ids of the first and last of the lines: each event id is one line, in order. */
  firstId: number;
  lastId: number;
  /** The journal record number of the last of the lines. */
  lastSeq: number;
  /** Called once the lines are in the log's file and flushed. */
  written: (() => void)[];
}

/** How `append` frames a line: a record naming the log, with the line as its one event. */
const RECORD_HEAD = Buffer.from('{"log":"');
const RECORD_MIDDLE = Buffer.from('","events":[');
const RECORD_TAIL = Buffer.from("]}\n");
const EVENT_ID_HEAD = Buffer.from('{"id":');
const NEWLINE = Buffer.from("\n");

/**
 * The lines for the logs in `wanted` that a segment's records hold, in order, by log name. A line
 * is taken only when its event id is the next one its log lacks: the lines an earlier checkpoint
 * already wrote, and the copies a torn write left behind (see `flush`), are passed over. A record
 * cut short by a crash or a failed write ends the segment, as in `readSegment`.
 */
function collectLines(
  segment: Buffer,
  wanted: Map<string, Unwritten>,
  next: Map<string, number>,
  into: Map<string, Buffer[]>,
) {
  let start = 0;
  for (;;) {
    const end = segment.indexOf(0x0a, start);
    if (end < 0) return;
    const record = segment.subarray(start, end + 1);
    start = end + 1;
    // Log names hold no quotes (see `append`): the first `","events":[` ends the name.
    const middleAt = record.indexOf(RECORD_MIDDLE, RECORD_HEAD.length);
    const lineAt = middleAt + RECORD_MIDDLE.length;
    if (
      middleAt < 0 ||
      record.length <= lineAt + RECORD_TAIL.length ||
      !record.subarray(0, RECORD_HEAD.length).equals(RECORD_HEAD) ||
      !record.subarray(record.length - RECORD_TAIL.length).equals(RECORD_TAIL)
    ) {
      return;
    }
    const name = record.toString("utf8", RECORD_HEAD.length, middleAt);
    const entry = wanted.get(name);
    if (!entry) continue;
    const line = record.subarray(lineAt, record.length - RECORD_TAIL.length);
    if (!line.subarray(0, EVENT_ID_HEAD.length).equals(EVENT_ID_HEAD)) return;
    let id = 0;
    for (let i = EVENT_ID_HEAD.length; i < line.length; i++) {
      const digit = (line[i] as number) - 0x30;
      if (digit < 0 || digit > 9) break;
      id = id * 10 + digit;
    }
    const expected = next.get(name) ?? entry.firstId;
    if (id !== expected) continue;
    next.set(name, id + 1);
    let lines = into.get(name);
    if (!lines) {
      lines = [];
      into.set(name, lines);
    }
    lines.push(line, NEWLINE);
  }
}

/**
 * Appends `text` to `file` and flushes it. A write that fails part way is cut back off, so the
 * next checkpoint's retry cannot leave a torn line in the middle of a log.
 */
async function appendDurably(file: string, text: Uint8Array): Promise<void> {
  const handle = await open(file, "a");
  try {
    const { size } = await handle.stat();
    try {
      await handle.writeFile(text);
      await handle.datasync();
    } catch (error) {
      await handle.truncate(size).catch(() => {});
      throw error;
    }
  } finally {
    await handle.close();
  }
}

/**
 * The engine's journal. `append` records a line in memory; the lines recorded in one turn of the
 * event loop reach the current segment together, with one write(2), and `written()` resolves once
 * that write is done. Nothing outside the engine can have seen an event before then: the engine
 * waits for `written()` before every effect (a Lambda invocation, an SDK call, a map run's files)
 * and writes before answering a read, so an event lost with a killed process is one no one saw,
 * and resuming does it again. `commit(log)` makes a log's recorded lines durable with a shared
 * fdatasync, and `checkpoint()` writes every log's new lines into its file and deletes the
 * segments that made redundant. Open it with `openJournal`, which replays what a crash left.
 */
export class Journal implements LogSink {
  private current: Segment;
  /**
   * Records not yet written to a segment, encoded once straight into one reusable buffer (a burst
   * of short executions records megabytes a second), how many there are, and the number of the
   * last of them.
   */
  private buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private buffered = 0;
  private bufferedRecords = 0;
  private seq = 0;
  /** Waiters for the buffer's write, released by the write that takes their records. */
  private bufferWaiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  private writeScheduled = false;
  /** The current segment ends in a torn record: a new one must be opened before the next write. */
  private sealNeeded = false;
  /** Lines recorded since the last checkpoint began, by log file (one file's lines stay in order). */
  private unwritten = new Map<string, Unwritten>();
  /** Lines a checkpoint is writing into their files now. */
  private writing = new Map<string, Unwritten>();
  /** Sealed segments whose lines are not all known written to their logs yet. */
  private retired: Segment[] = [];
  private checkpointing: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly journalDir: string,
    private readonly executionsDir: string,
    private sequence: number,
    /** write(2) for journal records; tests inject a failing one to imitate a full disk. */
    private readonly write: (fd: number, bytes: Uint8Array) => number = writeSync,
  ) {
    this.current = new Segment(join(journalDir, segmentName(sequence)));
    // The segment's directory entry must be on disk before an acknowledgement relies on it.
    syncDirectorySync(journalDir);
  }

  append(log: ExecutionLog, id: number, line: string): void {
    if (this.closed) throw new Error("The journal is closed");
    // Log names are the engine's own hex hashes: nothing in them needs escaping.
    const record = `{"log":"${log.name}","events":[${line}]}\n`;
    // UTF-8 takes at most 3 bytes per UTF-16 unit. A full buffer is written out at once rather
    // than grown: a burst would otherwise allocate ever larger buffers, each a trigger for a GC.
    const most = record.length * 3;
    if (this.buffered + most > this.buffer.length) {
      // A failure keeps the records buffered and reaches whoever waits on them (an effect, an
      // acknowledgement); this record then joins them.
      if (this.bufferedRecords > 0) this.flushQuietly();
      // Still no room: the write failed and kept its records, or this one record is that large.
      if (this.buffered + most > this.buffer.length) {
        const grown = Buffer.allocUnsafe(Math.max(this.buffered + most, BUFFER_BYTES));
        this.buffer.copy(grown, 0, 0, this.buffered);
        this.buffer = grown;
      }
    }
    this.buffered += this.buffer.write(record, this.buffered);
    this.bufferedRecords++;
    const seq = ++this.seq;
    let entry = this.unwritten.get(log.file);
    if (!entry) {
      entry = { log, firstId: id, lastId: id, lastSeq: seq, written: [] };
      this.unwritten.set(log.file, entry);
    }
    entry.log = log;
    entry.lastId = id;
    entry.lastSeq = seq;
    this.scheduleWrite();
  }

  private scheduleWrite() {
    if (this.writeScheduled) return;
    this.writeScheduled = true;
    setImmediate(() => {
      this.writeScheduled = false;
      try {
        this.flush();
      } catch {
        // The records stay buffered; their waiters were told, and the next write tries again.
      }
    });
  }

  /** Resolves once every record appended before the call is written to a segment (not yet synced). */
  written(): Promise<void> {
    if (this.bufferedRecords === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.bufferWaiters.push({ resolve, reject });
      this.scheduleWrite();
    });
  }

  /**
   * Writes the buffered records to the current segment now, with one write(2). A failed or short
   * write (a full disk) throws JournalWriteError and keeps every record buffered for the next try,
   * in a new segment: replay stops at the torn line the failure left, so nothing may follow it.
   */
  flush(): void {
    const waiters = this.bufferWaiters;
    if (this.bufferedRecords === 0) {
      this.bufferWaiters = [];
      for (const waiter of waiters) waiter.resolve();
      return;
    }
    if (this.sealNeeded) {
      try {
        this.seal();
      } catch (error) {
        this.bufferWaiters = [];
        for (const waiter of waiters) waiter.reject(error);
        throw error;
      }
    }
    const segment = this.current;
    const length = this.buffered;
    let written = 0;
    let failure: unknown;
    try {
      written = this.write(segment.fd, this.buffer.subarray(0, length));
    } catch (error) {
      failure = error;
    }
    if (written !== length) {
      // Records written whole before the tear are replayed twice at most: replay skips event ids
      // a log already holds.
      const error = new JournalWriteError(
        `Short write to the journal ${segment.file}${failure instanceof Error ? `: ${failure.message}` : ""}`,
      );
      this.bufferWaiters = [];
      try {
        this.seal();
      } finally {
        for (const waiter of waiters) waiter.reject(error);
      }
      throw error;
    }
    if (segment.firstSeq === 0) segment.firstSeq = this.seq - this.bufferedRecords + 1;
    segment.lastSeq = this.seq;
    segment.records += this.bufferedRecords;
    this.buffered = 0;
    this.bufferedRecords = 0;
    // One record larger than the buffer needed one of its own size: give that back.
    if (this.buffer.length > BUFFER_BYTES) this.buffer = Buffer.allocUnsafe(BUFFER_BYTES);
    this.bufferWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  /** Writes the buffer unless that fails (readers answer with what is in memory anyway). */
  flushQuietly(): void {
    try {
      this.flush();
    } catch {
      // Reported to whoever waits on the write (an effect, an acknowledgement).
    }
  }

  /** Resolves once every line `log` has recorded is durable (in the journal or in its file). */
  async commit(log: ExecutionLog): Promise<void> {
    const entry = this.unwritten.get(log.file) ?? this.writing.get(log.file);
    if (!entry) return;
    if (this.closed) throw new Error("The journal is closed");
    const target = entry.lastSeq;
    // Starts arriving together share the write, then the fdatasync (group commit).
    await this.written();
    // Records of segments a checkpoint deleted are durable in their logs' files.
    await Promise.all([...this.retired, this.current].map((segment) => segment.durable(target)));
  }

  /** Whether some of the file's lines are not yet written into it (its history is still in memory). */
  holds(file: string): boolean {
    return this.unwritten.has(file) || this.writing.has(file);
  }

  /** Calls `done` once every line recorded so far for `file` is written into it and flushed. */
  whenWritten(file: string, done: () => void): void {
    const entry = this.unwritten.get(file) ?? this.writing.get(file);
    if (entry) entry.written.push(done);
    else done();
  }

  /**
   * Retires the current segment at once and continues in a new one. Until that succeeds (a full
   * disk may refuse the new file too) nothing more is written to the torn segment.
   */
  private seal() {
    this.sealNeeded = true;
    // A torn segment is kept by close() even without a whole record: it is replay's to judge.
    this.current.records++;
    // Numbers are taken before any wait, so a checkpoint and a seal never share a segment.
    const next = new Segment(join(this.journalDir, segmentName(++this.sequence)));
    syncDirectorySync(this.journalDir);
    this.retired.push(this.current);
    this.current = next;
    this.sealNeeded = false;
  }

  /** Writes the lines recorded since the last checkpoint into their logs and deletes the segments they cover. */
  checkpoint(): Promise<void> {
    this.checkpointing ??= this.runCheckpoint().finally(() => {
      this.checkpointing = undefined;
    });
    return this.checkpointing;
  }

  private async runCheckpoint() {
    // Every record a sealed segment could hold must be in it before the logs are written from
    // memory: the segment is deleted afterwards.
    this.flush();
    if (this.current.records > 0 && !this.closed) {
      const next = new Segment(join(this.journalDir, segmentName(++this.sequence)));
      try {
        await syncDirectory(this.journalDir);
      } catch (error) {
        closeSync(next.fd);
        throw error;
      }
      try {
        // Records appended while the directory was synced: the logs are written from the sealed
        // segments alone, so every record the checkpoint takes must be in one of them.
        this.flush();
      } catch (error) {
        closeSync(next.fd);
        unlinkSync(next.file);
        throw error;
      }
      this.retired.push(this.current);
      this.current = next;
    }
    const sealed = this.retired.splice(0);
    try {
      await this.writeLogs(sealed);
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

  /**
   * Writes every log's unwritten lines into its file, read back from `segments`. Taken right after
   * the segment switch, with every record written: the segments hold each line it takes. A log
   * whose write fails keeps its lines (in the segments, which stay) for the next try.
   */
  private async writeLogs(segments: readonly Segment[]) {
    this.writing = this.unwritten;
    this.unwritten = new Map();
    const batch = [...this.writing.values()];
    const byName = new Map(batch.map((entry) => [entry.log.name, entry]));
    const next = new Map<string, number>();
    const lines = new Map<string, Buffer[]>();
    let read: unknown;
    for (const segment of segments) {
      if (batch.length === 0) break;
      try {
        collectLines(await readFile(segment.file), byName, next, lines);
      } catch (error) {
        read = error;
        break;
      }
    }
    const outcomes = await Promise.allSettled(
      batch.map(async (entry) => {
        if (read) throw read;
        if ((next.get(entry.log.name) ?? entry.firstId) !== entry.lastId + 1) {
          throw new JournalReplayError(
            `The journal lacks events ${next.get(entry.log.name) ?? entry.firstId}..${entry.lastId} of ${entry.log.name}`,
          );
        }
        await appendDurably(entry.log.file, Buffer.concat(lines.get(entry.log.name) ?? []));
      }),
    );
    // New logs' directory entries, which a journal record alone would otherwise have to recreate.
    const directory =
      batch.length > 0
        ? await syncDirectory(this.executionsDir).then(
            () => undefined,
            (error: unknown) => error,
          )
        : undefined;
    let failure: unknown = directory;
    const written: (() => void)[] = [];
    for (const [i, entry] of batch.entries()) {
      const outcome = outcomes[i] as PromiseSettledResult<void>;
      if (outcome.status === "fulfilled" && !directory) {
        written.push(...entry.written);
        continue;
      }
      failure ??= outcome.status === "rejected" ? outcome.reason : directory;
      // Lines recorded meanwhile come after these: both go to the file together next time.
      const later = this.unwritten.get(entry.log.file);
      if (later) {
        entry.lastId = later.lastId;
        entry.lastSeq = later.lastSeq;
        entry.written.push(...later.written);
        entry.log = later.log;
      }
      this.unwritten.set(entry.log.file, entry);
    }
    this.writing = new Map();
    // Told only now, so a waiter asking `holds` sees just the lines recorded since this write began.
    for (const done of written) done();
    if (failure !== undefined) throw failure;
  }

  /**
   * Writes everything and closes the journal. Best effort, like a crash: whatever cannot be
   * written (the data folder is gone, the disk fails) stays in its segment for the next start.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.checkpointing?.catch(() => {});
    let flushed = true;
    try {
      this.flush();
    } catch {
      flushed = false;
    }
    if (flushed) {
      await this.writeLogs([...this.retired, this.current]).catch(() => {
        flushed = false;
      });
    }
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
  write?: (fd: number, bytes: Uint8Array) => number,
): Journal {
  const last = readdirSync(journalDir)
    .map((name) => Number(SEGMENT.exec(name)?.[1] ?? 0))
    .reduce((a, b) => Math.max(a, b), 0);
  replayJournal(journalDir, executionsDir);
  return new Journal(journalDir, executionsDir, last + 1, write);
}
