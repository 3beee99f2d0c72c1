import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  ExecutionLog,
  eventLine,
  parseEvent,
  readLog,
  readLogEnds,
  type StoredEvent,
  toWireEvent,
} from "../../src/states/history";
import { openJournal } from "../../src/states/journal";
import { after } from "../../src/states/timers";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "secondlook-history-"));
});
afterEach(async () => {
  vi.useRealTimers();
  await rm(dir, { recursive: true, force: true });
});

const event = (id: number, type = "PassStateEntered"): StoredEvent => ({
  id,
  previousEventId: id - 1,
  timestamp: 1_700_000_000_000 + id,
  type,
  scope: "",
  details: { name: "P", input: "{}", inputDetails: { truncated: false } },
});

describe("execution logs", () => {
  it("appends one JSON line per event to its file at the journal's checkpoint and reads them back", async () => {
    // Arrange
    const file = join(dir, "a.jsonl");
    const journal = openJournal(dir, dir);
    const log = new ExecutionLog(file, journal);

    // Act
    log.append(event(1));
    log.append(event(2));
    const heldBefore = journal.holds(file);
    await journal.checkpoint();
    log.close();
    await journal.close();

    // Assert
    expect(heldBefore).toBe(true);
    expect(journal.holds(file)).toBe(false);
    expect((await readFile(file, "utf8")).trim().split("\n")).toHaveLength(2);
    expect(readLog(file).map((e) => e.id)).toEqual([1, 2]);
  });

  it("drops a torn last line left by a crash mid-write", async () => {
    // Arrange
    const file = join(dir, "torn.jsonl");
    await writeFile(file, `${JSON.stringify(event(1))}\n{"id":2,"prev`);

    // Act
    const events = readLog(file);

    // Assert
    expect(events.map((e) => e.id)).toEqual([1]);
  });

  it("cuts a torn last line so events appended after a restart stay readable", async () => {
    // Arrange
    const file = join(dir, "torn-then-appended.jsonl");
    await writeFile(file, `${JSON.stringify(event(1))}\n{"id":2,"prev`);
    readLog(file);
    const journal = openJournal(dir, dir);
    const log = new ExecutionLog(file, journal);

    // Act
    log.append(event(2));
    log.append(event(3));
    log.close();
    await journal.close();

    // Assert
    expect(readLog(file).map((e) => e.id)).toEqual([1, 2, 3]);
  });

  it("refuses a corrupt line in the middle of a log", async () => {
    // Arrange
    const file = join(dir, "corrupt.jsonl");
    await writeFile(file, `${JSON.stringify(event(1))}\ngarbage\n${JSON.stringify(event(3))}\n`);

    // Act / Assert
    expect(() => readLog(file)).toThrow(/Corrupt history line 2/);
  });

  it("keeps each of many logs' lines in order across checkpoints", async () => {
    // Arrange
    const journal = openJournal(dir, dir);
    const logs = Array.from({ length: 100 }, (_, i) => new ExecutionLog(join(dir, `${i}.jsonl`), journal));

    // Act
    for (const log of logs) log.append(event(1));
    await journal.checkpoint();
    for (const log of logs) log.append(event(2));
    for (const log of logs) log.append(event(3));
    await journal.close();

    // Assert
    for (let i = 0; i < 100; i++)
      expect(readLog(join(dir, `${i}.jsonl`)).map((e) => e.id)).toEqual([1, 2, 3]);
  });

  it("refuses to append after close", async () => {
    // Arrange
    const journal = openJournal(dir, dir);
    const log = new ExecutionLog(join(dir, "closed.jsonl"), journal);
    log.close();

    // Act / Assert
    expect(() => log.append(event(1))).toThrow(/closed/);
    await journal.close();
  });
});

describe("history lines", () => {
  it("writes state data into the line as JSON rather than an escaped string, and reads back the same text", () => {
    // Arrange
    const entered: StoredEvent = {
      ...event(2, "TaskStateEntered"),
      details: {
        name: "Detect",
        input: '{"image":{"key":"a \\"b\\".png"}}',
        inputDetails: { truncated: false },
      },
    };

    // Act
    const line = eventLine(entered);

    // Assert
    expect(line).toContain('"input":{"image":{"key":"a \\"b\\".png"}}');
    expect(JSON.parse(line)).toMatchObject({ id: 2, type: "TaskStateEntered", scope: "" });
    expect(parseEvent(line)).toEqual(entered);
  });

  it("keeps ExecutionStarted's input exactly as the caller sent it", () => {
    // Arrange
    const started: StoredEvent = {
      ...event(1, "ExecutionStarted"),
      details: { input: '{ "spaced" : [1, 2] }', inputDetails: { truncated: false } },
    };

    // Act
    const back = parseEvent(eventLine(started));

    // Assert
    expect(back.details?.input).toBe('{ "spaced" : [1, 2] }');
  });

  it("round-trips any state data, meta and names, and reads lines written as plain JSON before", () => {
    fc.assert(
      fc.property(
        fc.jsonValue(),
        fc.jsonValue(),
        // Short names are quoted from a cache, long ones each time (history.ts).
        fc.oneof(fc.string(), fc.string({ minLength: 60, maxLength: 70 })),
        // A state exit's meta (`next` alone) has a line of its own making.
        fc.option(
          fc.oneof(
            fc.dictionary(fc.string(), fc.jsonValue()),
            fc.record({ next: fc.oneof(fc.string(), fc.string({ minLength: 60, maxLength: 70 })) }),
          ),
          { nil: undefined },
        ),
        (output, parameters, name, meta) => {
          // Arrange
          const stored: StoredEvent = {
            ...event(3, "TaskSucceeded"),
            details: { name, output: JSON.stringify(output), parameters: JSON.stringify(parameters) },
            ...(meta === undefined ? {} : { meta }),
          };

          // JSON has no -0: a history line, like any JSON, keeps it as 0.
          const expected = JSON.parse(JSON.stringify(stored)) as StoredEvent;

          // Act
          const line = eventLine(stored);

          // Assert
          expect(parseEvent(line)).toEqual(expected);
          expect(parseEvent(JSON.stringify(stored))).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("event rendering", () => {
  it("renders events in GetExecutionHistory's shape", () => {
    // Act
    const entered = toWireEvent(event(2));
    const started = toWireEvent({ ...event(3, "TaskScheduled"), details: { resource: "invoke" } });
    const bare = toWireEvent({
      id: 4,
      previousEventId: 3,
      timestamp: 1_000,
      type: "ParallelStateStarted",
      scope: "",
    });

    // Assert
    expect(entered).toEqual({
      timestamp: 1_700_000_000.002,
      type: "PassStateEntered",
      id: 2,
      previousEventId: 1,
      stateEnteredEventDetails: { name: "P", input: "{}", inputDetails: { truncated: false } },
    });
    expect(started.taskScheduledEventDetails).toEqual({ resource: "invoke" });
    expect(bare).toEqual({ timestamp: 1, type: "ParallelStateStarted", id: 4, previousEventId: 3 });
  });
});

describe("long timers", () => {
  it("waits past Node's 24.8-day setTimeout limit instead of firing at once", () => {
    // Arrange
    vi.useFakeTimers();
    const fired = vi.fn();
    const thirtyDays = 30 * 24 * 3600 * 1000;

    // Act
    after(thirtyDays, fired);
    vi.advanceTimersByTime(thirtyDays - 1_000);
    const early = fired.mock.calls.length;
    vi.advanceTimersByTime(1_000);

    // Assert
    expect(early).toBe(0);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it("can be cleared before it fires", () => {
    // Arrange
    vi.useFakeTimers();
    const fired = vi.fn();

    // Act
    after(100, fired).clear();
    vi.advanceTimersByTime(200);

    // Assert
    expect(fired).not.toHaveBeenCalled();
  });
});

describe("reading a log's ends", () => {
  it("returns the first and last events of a log", async () => {
    // Arrange
    const file = join(dir, "ends.jsonl");
    await writeFile(
      file,
      [event(1, "ExecutionStarted"), event(2), event(3, "ExecutionSucceeded")]
        .map((e) => `${JSON.stringify(e)}\n`)
        .join(""),
    );

    // Act
    const { first, last } = readLogEnds(file);

    // Assert
    expect([first?.id, first?.type, last?.id, last?.type]).toEqual([
      1,
      "ExecutionStarted",
      3,
      "ExecutionSucceeded",
    ]);
  });

  it("returns the one event of a single-line log as both ends", async () => {
    // Arrange
    const file = join(dir, "one.jsonl");
    await writeFile(file, `${JSON.stringify(event(1, "ExecutionStarted"))}\n`);

    // Act
    const { first, last } = readLogEnds(file);

    // Assert
    expect([first?.id, last?.id]).toEqual([1, 1]);
  });

  it("ends at the last whole event when a crash tore the last line", async () => {
    // Arrange
    const file = join(dir, "torn-ends.jsonl");
    await writeFile(
      file,
      `${JSON.stringify(event(1, "ExecutionStarted"))}\n${JSON.stringify(event(2))}\n{"id":3,"ty`,
    );

    // Act
    const { first, last } = readLogEnds(file);

    // Assert
    expect([first?.id, last?.id]).toEqual([1, 2]);
  });

  it("returns no events for an empty log", async () => {
    // Arrange
    const file = join(dir, "empty.jsonl");
    await writeFile(file, "");

    // Act
    const ends = readLogEnds(file);

    // Assert
    expect(ends).toEqual({ first: undefined, last: undefined });
  });
});
