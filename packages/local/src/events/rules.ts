/**
 * The local EventBridge: rules (pattern → target) over a durable outbox. `put` matches the event
 * against the rules and persists one outbox entry per matching rule before it resolves, so an
 * acknowledged event survives a crash; targets run afterwards, asynchronously, and an entry is
 * deleted only once its target succeeded (at-least-once, like EventBridge). Failed deliveries are
 * retried with exponential backoff; after `maxAttempts` the entry moves to a dead-letter folder.
 */
import { mkdir, readdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { BusEvent, EventBus } from "../contracts";
import { eventJson, matchesValidatedPattern, validatePattern } from "./pattern";

export interface EventRule {
  name: string;
  pattern: unknown;
  target: (event: BusEvent) => Promise<void>;
}

export interface EventRulesOptions {
  dataDir: string;
  /** Delay before the first retry; doubles per attempt up to `maxDelayMs`. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** EventBridge gives up after 185 attempts by default. */
  maxAttempts?: number;
  /** Deliveries running at once; the rest wait their turn (default 32). */
  concurrency?: number;
  /** Where delivery failures are reported (they are retried, so they are not thrown). */
  onDeliveryError?: (rule: string, event: BusEvent, error: unknown) => void;
}

export interface EventRules {
  bus: EventBus;
  addRule(rule: EventRule): void;
  /** Resolves once every outbox entry of a registered rule has been delivered (or dead-lettered). */
  drain(): Promise<void>;
  /** Stops delivering; pending entries stay on disk and are redelivered by the next instance. */
  close(): Promise<void>;
}

/** A rule name EventBridge would refuse, or one registered twice. */
export class InvalidRuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidRuleError";
  }
}

/** Raised by `put` after `close()`: the event was not accepted. */
export class EventBusClosedError extends Error {
  constructor() {
    super("The event bus is closed; the event was not accepted");
    this.name = "EventBusClosedError";
  }
}

interface StoredEntry {
  rule: string;
  event: BusEvent;
  attempts: number;
}

interface Entry extends StoredEntry {
  file: string;
  timer?: NodeJS.Timeout;
  /** Waiting for its timer, queued for a delivery slot, or being delivered. */
  busy: boolean;
}

/** Creates the rules and their outbox under `<dataDir>/events/`; pending entries are redelivered. */
export function createEventRules(options: EventRulesOptions): EventRules {
  const outbox = join(options.dataDir, "events", "outbox");
  const deadLetters = join(options.dataDir, "events", "dead-letter");
  const baseDelay = options.baseDelayMs ?? 500;
  const maxDelay = options.maxDelayMs ?? 60_000;
  const maxAttempts = options.maxAttempts ?? 185;
  const concurrency = options.concurrency ?? 32;
  const report =
    options.onDeliveryError ??
    ((rule: string, event: BusEvent, error: unknown) =>
      console.warn(`[events] rule ${rule} failed to deliver event ${event.id}: ${String(error)}`));

  const rules = new Map<string, EventRule>();
  const entries = new Map<string, Entry>();
  const inFlight = new Set<Promise<void>>();
  const due: Entry[] = [];
  let drainWaiters: (() => void)[] = [];
  let closed = false;
  let sequence = 0;

  const ready = (async () => {
    await mkdir(outbox, { recursive: true });
    await mkdir(deadLetters, { recursive: true });
    for (const file of (await readdir(outbox)).sort()) {
      if (file.endsWith(".tmp")) {
        await unlink(join(outbox, file)); // never acknowledged: its put() did not resolve
        continue;
      }
      const stored = JSON.parse(await readFile(join(outbox, file), "utf8")) as StoredEntry;
      entries.set(file, { ...stored, file, busy: false });
    }
    for (const entry of entries.values()) schedule(entry, 0);
  })();

  function pendingForRegisteredRules(): number {
    let count = 0;
    for (const entry of entries.values()) if (rules.has(entry.rule)) count++;
    return count;
  }

  function notifyDrain(): void {
    if (pendingForRegisteredRules() > 0) return;
    const waiters = drainWaiters;
    drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  function schedule(entry: Entry, delayMs: number): void {
    if (closed || entry.busy || !rules.has(entry.rule)) return;
    entry.busy = true;
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      due.push(entry);
      pump();
    }, delayMs);
  }

  /** Starts queued deliveries while there are free slots. */
  function pump(): void {
    while (!closed && inFlight.size < concurrency && due.length > 0) {
      const entry = due.shift() as Entry;
      const delivery = deliver(entry).catch((error: unknown) => {
        // The outbox file could not be updated; the entry stays pending and is retried later.
        report(entry.rule, entry.event, error);
        entry.busy = false;
        schedule(entry, maxDelay);
      });
      inFlight.add(delivery);
      void delivery.finally(() => {
        inFlight.delete(delivery);
        pump();
      });
    }
  }

  async function persist(path: string, entry: Entry): Promise<void> {
    const stored: StoredEntry = { rule: entry.rule, event: entry.event, attempts: entry.attempts };
    const temp = `${path}.${crypto.randomUUID()}.tmp`;
    await writeFile(temp, JSON.stringify(stored));
    await rename(temp, path);
  }

  async function settle(entry: Entry): Promise<void> {
    await unlink(join(outbox, entry.file));
    entries.delete(entry.file);
    notifyDrain();
  }

  async function deliver(entry: Entry): Promise<void> {
    const rule = rules.get(entry.rule);
    if (!rule || closed) {
      entry.busy = false;
      return;
    }
    try {
      await rule.target(structuredClone(entry.event));
      await settle(entry);
      return;
    } catch (error) {
      entry.attempts += 1;
      report(entry.rule, entry.event, error);
    }
    if (entry.attempts >= maxAttempts) {
      await persist(join(deadLetters, entry.file), entry);
      await settle(entry);
      return;
    }
    // The attempt count is kept on disk so backoff and the give-up point survive a restart.
    await persist(join(outbox, entry.file), entry);
    entry.busy = false;
    schedule(entry, Math.min(maxDelay, baseDelay * 2 ** (entry.attempts - 1)));
  }

  const bus: EventBus = {
    async put(event) {
      await ready;
      if (closed) throw new EventBusClosedError();
      // Patterns were validated when their rules were added; the event is converted once for all.
      const json = eventJson(event);
      const matched = [...rules.values()].filter((rule) => matchesValidatedPattern(rule.pattern, json));
      const created: Entry[] = [];
      for (const rule of matched) {
        sequence += 1;
        // Time-ordered names so a restart redelivers in the order events were put.
        const file = `${Date.now().toString().padStart(15, "0")}-${String(sequence).padStart(9, "0")}-${crypto.randomUUID()}.json`;
        const entry: Entry = {
          rule: rule.name,
          event: structuredClone(event),
          attempts: 0,
          file,
          busy: false,
        };
        await persist(join(outbox, file), entry);
        created.push(entry);
      }
      for (const entry of created) {
        entries.set(entry.file, entry);
        schedule(entry, 0);
      }
    },
  };

  return {
    bus,
    addRule(rule) {
      if (!/^[.\-_A-Za-z0-9]{1,64}$/.test(rule.name)) {
        throw new InvalidRuleError(`Rule name ${JSON.stringify(rule.name)} must be 1-64 of [.-_A-Za-z0-9]`);
      }
      if (rules.has(rule.name)) throw new InvalidRuleError(`A rule named ${rule.name} is already registered`);
      validatePattern(rule.pattern);
      rules.set(rule.name, rule);
      void ready.then(() => {
        for (const entry of entries.values()) if (entry.rule === rule.name) schedule(entry, 0);
      });
    },
    async drain() {
      await ready;
      if (pendingForRegisteredRules() === 0) return;
      await new Promise<void>((resolve) => drainWaiters.push(resolve));
    },
    async close() {
      closed = true;
      await ready.catch(() => {});
      for (const entry of entries.values()) {
        clearTimeout(entry.timer);
        entry.timer = undefined;
      }
      due.length = 0;
      await Promise.allSettled([...inFlight]);
      const waiters = drainWaiters;
      drainWaiters = [];
      for (const resolve of waiters) resolve();
    },
  };
}
