import { existsSync, readdirSync, writeSync } from "node:fs";
import { mkdir, mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
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
  it("restores acknowledged events that a power cut took from an execution log", async () => {
    // Arrange
    const journal = openJournal(dir, executionsDir);
    const file = join(executionsDir, LOG_A);
    const log = new ExecutionLog(file, journal);
    log.append(event(1, "ExecutionStarted"));
    log.append(event(2));
    await journal.commit(log);
    await log.close();
    // A power cut: the log was never flushed, so its contents may be gone; the journal was.
    await truncate(file, 0);

    // Act
    openJournal(dir, executionsDir);

    // Assert
    expect(readLog(file).map((e) => [e.id, e.type])).toEqual([
      [1, "ExecutionStarted"],
      [2, "PassStateEntered"],
    ]);
  });

  it("deletes a segment once a checkpoint has flushed the logs it covers", async () => {
    // Arrange
    const journal = openJournal(dir, executionsDir);
    const log = new ExecutionLog(join(executionsDir, LOG_A), journal);
    log.append(event(1));
    await journal.commit(log);
    const segmentsBefore = readdirSync(dir).filter((f) => f.startsWith("journal-"));

    // Act
    await journal.checkpoint();
    const segmentsAfter = readdirSync(dir).filter((f) => f.startsWith("journal-"));
    await journal.close();

    // Assert
    expect(segmentsBefore).toEqual(["journal-00000001.log"]);
    expect(segmentsAfter).toEqual(["journal-00000002.log"]);
    expect(log.unsynced()).toEqual([]);
    expect(readdirSync(dir).filter((f) => f.startsWith("journal-"))).toEqual([]);
  });

  it("writes nothing to the journal for a log whose lines are already flushed", async () => {
    // Arrange
    const journal = openJournal(dir, executionsDir);
    const log = new ExecutionLog(join(executionsDir, LOG_A), journal);
    log.append(event(1));
    await log.sync();

    // Act
    await journal.commit(log);
    await log.close();
    await journal.close();

    // Assert
    expect(readdirSync(dir).filter((f) => f.startsWith("journal-"))).toEqual([]);
    expect(readLog(join(executionsDir, LOG_A)).map((e) => e.id)).toEqual([1]);
  });
});

describe("a journal write that fails", () => {
  it("rejects the acknowledgement of a torn write and keeps later records replayable in a new segment", async () => {
    // Arrange: the second record is cut short, as a full disk would.
    let writes = 0;
    const tearSecond = (fd: number, text: string) => {
      writes++;
      return writeSync(fd, writes === 2 ? text.slice(0, 10) : text);
    };
    const journal = openJournal(dir, executionsDir, tearSecond);
    const logs = [LOG_A, LOG_B, `${"c".repeat(40)}.jsonl`].map(
      (name) => new ExecutionLog(join(executionsDir, name), journal),
    );
    for (const log of logs) log.append(event(1, "ExecutionStarted"));

    // Act
    const outcomes = await Promise.allSettled(logs.map((log) => journal.commit(log)));
    for (const log of logs) await log.close();
    const segments = readdirSync(dir).filter((f) => f.startsWith("journal-"));
    // A power cut: none of the logs was flushed.
    for (const name of [LOG_A, LOG_B, `${"c".repeat(40)}.jsonl`])
      await truncate(join(executionsDir, name), 0);
    openJournal(dir, executionsDir);

    // Assert
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(outcomes[1]).toMatchObject({ reason: { message: expect.stringMatching(/Short write/) } });
    expect(segments).toHaveLength(2);
    expect(readLog(join(executionsDir, LOG_A)).map((e) => e.id)).toEqual([1]);
    expect(readLog(join(executionsDir, `${"c".repeat(40)}.jsonl`)).map((e) => e.id)).toEqual([1]);
  });
});
