/**
 * Execution histories: the event records the interpreter writes, their AWS wire shape, and the
 * append-only JSON Lines log each execution is persisted in.
 */
import { readFileSync, truncateSync } from "node:fs";
import { basename } from "node:path";

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
 * The `…Details` value of state data the engine never truncates. Shared by every event that carries
 * one, so its line text is made once.
 */
export const DATA_DETAILS: Readonly<{ truncated: false }> = Object.freeze({ truncated: false });
const DATA_DETAILS_TEXT = JSON.stringify(DATA_DETAILS);

/**
 * JSON.stringify of event types, scopes, detail keys and short detail values (state names, resource
 * names, Regions): a handful of strings written over and over, so each is quoted once. Scopes of
 * Map iterations and names of executions are many; the cache stops growing at a bound and quotes
 * the rest each time.
 */
const quotes = new Map<string, string>();
/** Strings longer than this (causes, ARNs with ids in them) are rarely written twice: not cached. */
const QUOTED_LENGTH = 64;
function quoted(text: string): string {
  let cached = quotes.get(text);
  if (cached === undefined) {
    cached = JSON.stringify(text);
    if (quotes.size < 4096) quotes.set(text, cached);
  }
  return cached;
}

/** Fields of an event's details that hold state data as JSON text the engine made. */
const DATA_FIELDS = new Set(["input", "output", "parameters"]);

/**
 * One event as a history line. State data (input, output, parameters) is JSON text the engine made
 * itself with JSON.stringify; an object or array goes into the line as it is instead of escaped as
 * a string, which it is most of, and `parseEvent` turns it back into the very same text.
 * ExecutionStarted's input is the caller's own text and stays a string. Written by hand for one
 * fixed shape: JSON.stringify of the whole event took twice as long (bench/engine.ts).
 */
export function eventLine(event: StoredEvent): string {
  let line = `{"id":${event.id},"previousEventId":${event.previousEventId},"timestamp":${event.timestamp},"type":${quoted(event.type)},"scope":${quoted(event.scope)}`;
  const details = event.details;
  if (details) {
    const verbatim = event.type === "ExecutionStarted";
    let body = "";
    for (const key in details) {
      const value = details[key];
      if (value === undefined) continue;
      const first = typeof value === "string" ? value.charCodeAt(0) : 0;
      const raw = !verbatim && (first === 0x7b || first === 0x5b) && DATA_FIELDS.has(key);
      const text = raw
        ? value
        : value === DATA_DETAILS
          ? DATA_DETAILS_TEXT
          : typeof value === "string" && value.length <= QUOTED_LENGTH
            ? quoted(value)
            : JSON.stringify(value);
      body += `${body ? "," : ""}${quoted(key)}:${text}`;
    }
    line += `,"details":{${body}}`;
  }
  const meta = event.meta;
  if (meta !== undefined) {
    // Most meta is a state exit's next state alone.
    const next = meta.next;
    const onlyNext =
      typeof next === "string" && next.length <= QUOTED_LENGTH && Object.keys(meta).length === 1;
    line += `,"meta":${onlyNext ? `{"next":${quoted(next)}}` : JSON.stringify(meta)}`;
  }
  return `${line}}`;
}

/** Parses a history line back into the event `eventLine` wrote (or one written before it existed). */
export function parseEvent(line: string): StoredEvent {
  const event = JSON.parse(line) as StoredEvent;
  const details = event.details;
  if (details) {
    for (const field of DATA_FIELDS) {
      const value = details[field];
      // JSON.stringify writes a value the same way every time: this is the text the engine made.
      if (value !== undefined && typeof value !== "string") details[field] = JSON.stringify(value);
    }
  }
  return event;
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
      events.push(parseEvent(line));
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
      const first = parseEvent(bytes.subarray(0, firstEnd).toString("utf8"));
      const lastStart = bytes.lastIndexOf(0x0a, lastEnd - 1) + 1;
      const last = lastStart === 0 ? first : parseEvent(bytes.subarray(lastStart, lastEnd).toString("utf8"));
      return { first, last };
    } catch {
      // Falls through to the full read, which knows which damage a crash can leave.
    }
  }
  const events = readLog(file);
  return { first: events[0], last: events.at(-1) };
}

/** Where an execution log's lines go first: the shared write-ahead journal (journal.ts). */
export interface LogSink {
  /**
   * Records the line of event `id` for `log` (ids count up from 1, one line each); the sink writes
   * it before anything outside the engine sees it.
   */
  append(log: ExecutionLog, id: number, line: string): void;
}

/**
 * An execution's append-only log. Each event goes to the shared journal, which writes the events
 * of one event-loop turn together and before any effect that follows them (a killed process loses
 * only steps no one saw, and resuming redoes them); the journal's checkpoint writes the lines
 * behind into this log's own file, which is what histories are read from once written. No
 * descriptor is held per execution: creating a file per execution on the hot path cost more than
 * all of the execution's other work (bench/engine.ts).
 */
export class ExecutionLog {
  private closed = false;
  /** The file's name, which journal records name the log by. */
  readonly name: string;

  constructor(
    readonly file: string,
    private readonly sink: LogSink,
  ) {
    this.name = basename(file);
  }

  append(event: StoredEvent): void {
    if (this.closed) throw new Error(`History ${this.file} is closed`);
    this.sink.append(this, event.id, eventLine(event));
  }

  /** Refuses further appends; what was appended still reaches the file with the next checkpoint. */
  close(): void {
    this.closed = true;
  }
}
