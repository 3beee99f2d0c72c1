import { existsSync, readdirSync, readFileSync, writeSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ExecutionLog, readLog, type StoredEvent } from "../../src/states/history";
import { GroupCommit, JournalReplayError, openJournal, replayJournal } from "../../src/states/journal";

let dir: string;
let executionsDir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "secondlook-journal-"));
  executionsDir = join(dir, "executions");
  await mkdir(executionsDir);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const LOG_A = `${"a".repeat(40)}.jsonl`;
const LOG_B = `${"b".repeat(40)}.jsonl`;

const event = (id: number, type = "PassStateEntered"): StoredEvent => ({
  id,
  previousEventId: id - 1,
  timestamp: 1_700_000_000_000 + id,
  type,
  scope: "",
});

const record = (log: string, ids: number[]) =>
  `${JSON.stringify({ log, events: ids.map((id) => event(id)) })}\n`;
const lines = (events: StoredEvent[]) => events.map((e) => `${JSON.stringify(e)}\n`).join("");

/** A flush the test completes by hand, counting how often it was asked for. */
function manualFlush() {
  const calls: { resolve: () => void; reject: (error: Error) => void }[] = [];
  const flush = () =>
    new Promise<void>((resolve, reject) => {
      calls.push({ resolve, reject });
    });
  return { calls, flush };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("group commit", () => {
  it("releases 200 concurrent waiters with at most two flushes", async () => {
    // Arrange
    const { calls, flush } = manualFlush();
    const group = new GroupCommit(flush);

    // Act
    const all = Promise.all(Array.from({ length: 200 }, () => group.wait()));
    for (let i = 0; i < calls.length; i++) {
      calls[i]?.resolve();
      await tick();
    }
    await all;

    // Assert: the first waiter's flush, then one flush for the 199 that queued behind it.
    expect(calls).toHaveLength(2);
  });

  it("does not release a waiter that asked while a flush was already under way", async () => {
    // Arrange
    const { calls, flush } = manualFlush();
    const group = new GroupCommit(flush);
    const early = group.wait();
    const late = group.wait();
    let lateDone = false;
    void late.then(() => {
      lateDone = true;
    });

    // Act
    calls[0]?.resolve();
    await early;
    await tick();
    const lateAfterFirstFlush = lateDone;
    calls[1]?.resolve();
    await late;

    // Assert
    expect(lateAfterFirstFlush).toBe(false);
    expect(calls).toHaveLength(2);
  });

  it("rejects every waiter of a failed flush and lets the next batch flush again", async () => {
    // Arrange
    const { calls, flush } = manualFlush();
    const group = new GroupCommit(flush);
    const first = group.wait();
    const batch = [group.wait(), group.wait(), group.wait()];
    calls[0]?.resolve();
    await first;
    await tick();

    // Act
    calls[1]?.reject(new Error("EIO: disk failed"));
    const outcomes = await Promise.allSettled(batch);
    const after = group.wait();
    calls[2]?.resolve();
    await after;

    // Assert
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(outcomes[0]).toMatchObject({ reason: { message: "EIO: disk failed" } });
    expect(calls).toHaveLength(3);
  });
});

describe("journal replay", () => {
  it("re-applies the events a log lacks and ignores a torn last record", async () => {
    // Arrange
    await writeFile(join(dir, "journal-00000001.log"), `${record(LOG_A, [1, 2])}{"log":"${LOG_B}","eve`);

    // Act
    const applied = replayJournal(dir, executionsDir);

    // Assert
    expect(applied).toBe(2);
    expect(readLog(join(executionsDir, LOG_A)).map((e) => e.id)).toEqual([1, 2]);
    expect(existsSync(join(executionsDir, LOG_B))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith("journal-"))).toEqual([]);
  });

  it("ignores a zero-filled tail left by a power cut", async () => {
    // Arrange
    await writeFile(join(dir, "journal-00000001.log"), `${record(LOG_A, [1])}${"\0".repeat(64)}\n`);

    // Act
    const applied = replayJournal(dir, executionsDir);

    // Assert
    expect(applied).toBe(1);
    expect(readLog(join(executionsDir, LOG_A)).map((e) => e.id)).toEqual([1]);
  });

  it("appends only the events a log does not already hold, across records and segments", async () => {
    // Arrange
    await writeFile(join(executionsDir, LOG_A), lines([event(1), event(2)]));
    await writeFile(join(dir, "journal-00000001.log"), record(LOG_A, [1, 2, 3]));
    await writeFile(join(dir, "journal-00000002.log"), record(LOG_A, [3, 4]) + record(LOG_B, [1]));

    // Act
    const applied = replayJournal(dir, executionsDir);

    // Assert
    expect(applied).toBe(3);
    expect(readLog(join(executionsDir, LOG_A)).map((e) => e.id)).toEqual([1, 2, 3, 4]);
    expect(readLog(join(executionsDir, LOG_B)).map((e) => e.id)).toEqual([1]);
  });

  it("refuses a record that would leave a gap in a log, and keeps the journal", async () => {
    // Arrange
    await writeFile(join(executionsDir, LOG_A), lines([event(1)]));
    await writeFile(join(dir, "journal-00000001.log"), record(LOG_A, [3, 4]));

    // Act / Assert
    expect(() => replayJournal(dir, executionsDir)).toThrow(JournalReplayError);
    expect(() => replayJournal(dir, executionsDir)).toThrow(/continues a{40}\.jsonl at event 3/);
    expect(existsSync(join(dir, "journal-00000001.log"))).toBe(true);
    expect(readLog(join(executionsDir, LOG_A)).map((e) => e.id)).toEqual([1]);
  });

  it("refuses a record naming a file outside the execution logs", async () => {
    // Arrange
    await writeFile(join(dir, "journal-00000001.log"), record("../state-machines.json", [1]));

    // Act / Assert
    expect(() => replayJournal(dir, executionsDir)).toThrow(/line 1 is not a journal record/);
    expect(existsSync(join(dir, "journal-00000001.log"))).toBe(true);
  });
});

describe("the journal", () => {
  it("restores acknowledged events that never reached their execution log before a crash", async () => {
    // Arrange
    const journal = openJournal(dir, executionsDir);
    const file = join(executionsDir, LOG_A);
    const log = new ExecutionLog(file, journal);
    log.append(event(1, "ExecutionStarted"));
    log.append(event(2));
    await journal.commit(log);
    const writtenBeforeCrash = existsSync(file);
    // A crash before the checkpoint: the log's own file was never written; the journal was.

    // Act
    openJournal(dir, executionsDir);

    // Assert
    expect(writtenBeforeCrash).toBe(false);
    expect(readLog(file).map((e) => [e.id, e.type])).toEqual([
      [1, "ExecutionStarted"],
      [2, "PassStateEntered"],
    ]);
  });

  it("writes a log's lines into its file at the checkpoint and deletes the segment they were in", async () => {
    // Arrange
    const journal = openJournal(dir, executionsDir);
    const file = join(executionsDir, LOG_A);
    const log = new ExecutionLog(file, journal);
    log.append(event(1));
    await journal.commit(log);
    const segmentsBefore = readdirSync(dir).filter((f) => f.startsWith("journal-"));
    const heldBefore = journal.holds(file);

    // Act
    await journal.checkpoint();
    const segmentsAfter = readdirSync(dir).filter((f) => f.startsWith("journal-"));
    const heldAfter = journal.holds(file);
    await journal.close();

    // Assert
    expect(segmentsBefore).toEqual(["journal-00000001.log"]);
    expect(heldBefore).toBe(true);
    expect(segmentsAfter).toEqual(["journal-00000002.log"]);
    expect(heldAfter).toBe(false);
    expect(readLog(file).map((e) => e.id)).toEqual([1]);
    expect(readdirSync(dir).filter((f) => f.startsWith("journal-"))).toEqual([]);
  });

  it("tells a waiter once the lines recorded so far are in the log's file", async () => {
    // Arrange
    const journal = openJournal(dir, executionsDir);
    const file = join(executionsDir, LOG_A);
    const log = new ExecutionLog(file, journal);
    log.append(event(1));
    const seen: number[][] = [];
    journal.whenWritten(file, () => seen.push(readLog(file).map((e) => e.id)));
    const calledBeforeCheckpoint = seen.length;

    // Act
    await journal.checkpoint();
    journal.whenWritten(file, () => seen.push([-1]));
    await journal.close();

    // Assert: the first waiter ran after the write; the second, with nothing held, at once.
    expect(calledBeforeCheckpoint).toBe(0);
    expect(seen).toEqual([[1], [-1]]);
  });

  it("resolves a commit at once when the log's lines are already in its file", async () => {
    // Arrange
    const journal = openJournal(dir, executionsDir);
    const log = new ExecutionLog(join(executionsDir, LOG_A), journal);
    log.append(event(1));
    await journal.checkpoint();

    // Act
    let resolved = false;
    const commit = journal.commit(log).then(() => {
      resolved = true;
    });
    await Promise.resolve();
    await Promise.resolve();
    const resolvedWithoutFlush = resolved;
    await commit;
    await journal.close();

    // Assert
    expect(resolvedWithoutFlush).toBe(true);
    expect(readLog(join(executionsDir, LOG_A)).map((e) => e.id)).toEqual([1]);
  });
});

describe("a journal write that fails", () => {
  it("keeps a torn write's records and writes them whole into a new segment, losing nothing", async () => {
    // Arrange: the second write is cut short, as a full disk would.
    let writes = 0;
    const tearSecond = (fd: number, bytes: Uint8Array) => {
      writes++;
      return writeSync(fd, writes === 2 ? bytes.subarray(0, 10) : bytes);
    };
    const journal = openJournal(dir, executionsDir, tearSecond);
    const names = [LOG_A, LOG_B, `${"c".repeat(40)}.jsonl`];
    const logs = names.map((name) => new ExecutionLog(join(executionsDir, name), journal));

    // Act
    logs[0]?.append(event(1, "ExecutionStarted"));
    journal.flush();
    logs[1]?.append(event(1, "ExecutionStarted"));
    const torn = (() => {
      try {
        journal.flush();
        return "written";
      } catch (error) {
        return (error as Error).name;
      }
    })();
    logs[2]?.append(event(1, "ExecutionStarted"));
    await Promise.all(logs.map((log) => journal.commit(log)));
    const segments = readdirSync(dir).filter((f) => f.startsWith("journal-"));
    // A crash before any checkpoint: none of the logs was written behind.
    openJournal(dir, executionsDir);

    // Assert
    expect(torn).toBe("JournalWriteError");
    expect(segments).toHaveLength(2);
    for (const name of names) expect(readLog(join(executionsDir, name)).map((e) => e.id)).toEqual([1]);
  });

  it("rejects an acknowledgement while the journal cannot be written, and keeps the event for later", async () => {
    // Arrange: every write fails, as on a full disk, until the disk has room again.
    let full = true;
    const journal = openJournal(dir, executionsDir, (fd, text) => (full ? 0 : writeSync(fd, text)));
    const log = new ExecutionLog(join(executionsDir, LOG_A), journal);
    log.append(event(1, "ExecutionStarted"));

    // Act
    const refused = await journal.commit(log).then(
      () => "acknowledged",
      (error: Error) => error.name,
    );
    full = false;
    const later = await journal.commit(log).then(() => "acknowledged");
    await journal.close();

    // Assert
    expect(refused).toBe("JournalWriteError");
    expect(later).toBe("acknowledged");
    expect(readLog(join(executionsDir, LOG_A)).map((e) => e.id)).toEqual([1]);
  });
});

describe("the checkpoint, which reads the logs' lines back from the journal", () => {
  it("writes a record a torn write left whole, and wrote again, into its log once", async () => {
    // Arrange: the second write stops five bytes into its second record, so its first record is
    // whole in the torn segment and written again into the next one.
    let writes = 0;
    const tearSecond = (fd: number, bytes: Uint8Array) => {
      writes++;
      if (writes !== 2) return writeSync(fd, bytes);
      return writeSync(fd, bytes.subarray(0, Buffer.from(bytes).indexOf(0x0a) + 6));
    };
    const journal = openJournal(dir, executionsDir, tearSecond);
    const [a, b, c] = [LOG_A, LOG_B, `${"c".repeat(40)}.jsonl`].map(
      (name) => new ExecutionLog(join(executionsDir, name), journal),
    ) as [ExecutionLog, ExecutionLog, ExecutionLog];
    a.append(event(1, "ExecutionStarted"));
    journal.flush();
    b.append(event(1, "ExecutionStarted"));
    c.append(event(1, "ExecutionStarted"));
    expect(() => journal.flush()).toThrow(/Short write/);
    b.append(event(2));

    // Act
    await journal.checkpoint();
    await journal.close();

    // Assert
    expect(readLog(a.file).map((e) => e.id)).toEqual([1]);
    expect(readLog(b.file).map((e) => e.id)).toEqual([1, 2]);
    expect(readLog(c.file).map((e) => e.id)).toEqual([1]);
  });

  it("keeps the lines of a log it cannot write for the next checkpoint, and writes the others once", async () => {
    // Arrange: B's file cannot be opened (a folder stands in its place) during the first checkpoint.
    const journal = openJournal(dir, executionsDir);
    const a = new ExecutionLog(join(executionsDir, LOG_A), journal);
    const b = new ExecutionLog(join(executionsDir, LOG_B), journal);
    a.append(event(1, "ExecutionStarted"));
    b.append(event(1, "ExecutionStarted"));
    b.append(event(2));
    await mkdir(b.file);

    // Act
    const first = await journal.checkpoint().then(
      () => "written",
      (error: NodeJS.ErrnoException) => error.code,
    );
    const heldAfterFailure = [journal.holds(a.file), journal.holds(b.file)];
    await rm(b.file, { recursive: true });
    a.append(event(2));
    b.append(event(3));
    await journal.checkpoint();
    const segmentsLeft = readdirSync(dir).filter((f) => f.startsWith("journal-")).length;
    await journal.close();

    // Assert
    expect(first).toBe("EISDIR");
    expect(heldAfterFailure).toEqual([false, true]);
    expect(readLog(a.file).map((e) => e.id)).toEqual([1, 2]);
    expect(readLog(b.file).map((e) => e.id)).toEqual([1, 2, 3]);
    expect(segmentsLeft).toBe(1);
  });
});

describe("batched journal writes", () => {
  it("writes the events of 100 executions recorded in one turn with a single write(2)", async () => {
    // Arrange
    let calls = 0;
    const journal = openJournal(dir, executionsDir, (fd, text) => {
      calls++;
      return writeSync(fd, text);
    });
    const logs = Array.from(
      { length: 100 },
      (_, i) => new ExecutionLog(join(executionsDir, `${i.toString(16).padStart(40, "0")}.jsonl`), journal),
    );

    // Act
    for (const log of logs) log.append(event(1, "ExecutionStarted"));
    const waits = logs.map(() => journal.written());
    const callsBeforeTurnEnds = calls;
    await Promise.all(waits);
    const callsAfter = calls;
    await journal.close();

    // Assert
    expect(callsBeforeTurnEnds).toBe(0);
    expect(callsAfter).toBe(1);
    for (const log of logs) expect(readLog(log.file).map((e) => e.id)).toEqual([1]);
  });

  it("writes buffered events on its own by the end of the turn, with no one waiting", async () => {
    // Arrange
    const journal = openJournal(dir, executionsDir);
    const log = new ExecutionLog(join(executionsDir, LOG_A), journal);

    // Act
    log.append(event(1, "ExecutionStarted"));
    await new Promise((resolve) => setImmediate(resolve));
    const segment = readdirSync(dir).find((f) => f.startsWith("journal-")) as string;
    const text = readFileSync(join(dir, segment), "utf8");
    await journal.close();

    // Assert
    expect(text).toContain('"ExecutionStarted"');
  });
});
