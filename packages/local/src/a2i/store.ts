/**
 * Durable state of the local A2I under `<dataDir>/a2i/`: one JSON file per human task UI, flow
 * definition and human loop. Writes go to a temporary file that is renamed over the old one, so a
 * crash leaves either the old or the new record, never half of one.
 */
import { randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { FlowDefinitionRecord, HumanLoopRecord, HumanTaskUiRecord } from "./model";

/** A record on disk that is not valid JSON; the file is left untouched for the operator to inspect. */
export class CorruptStateError extends Error {
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(
      `Local A2I state file ${file} is not valid JSON: ${cause instanceof Error ? cause.message : cause}`,
    );
    this.name = "CorruptStateError";
  }
}

type Kind = "task-uis" | "flow-definitions" | "human-loops";

/** A folder of JSON records keyed by resource name. */
class RecordFolder<T> {
  // Writes to one file are chained so an older snapshot can never land after a newer one.
  private readonly pending = new Map<string, Promise<void>>();

  constructor(private readonly dir: string) {}

  async loadAll(): Promise<T[]> {
    await mkdir(this.dir, { recursive: true });
    const records: T[] = [];
    for (const entry of (await readdir(this.dir)).sort()) {
      const file = join(this.dir, entry);
      // A leftover temporary file is a write that never finished; the record it replaced is intact.
      if (entry.endsWith(".tmp")) {
        await rm(file, { force: true });
        continue;
      }
      if (!entry.endsWith(".json")) continue;
      const text = await readFile(file, "utf8");
      try {
        records.push(JSON.parse(text) as T);
      } catch (error) {
        throw new CorruptStateError(file, error);
      }
    }
    return records;
  }

  save(name: string, record: T): Promise<void> {
    const text = JSON.stringify(record);
    return this.enqueue(name, async () => {
      const file = join(this.dir, `${name}.json`);
      const tmp = `${file}.${randomUUID()}.tmp`;
      await writeFile(tmp, text, "utf8");
      await rename(tmp, file);
    });
  }

  remove(name: string): Promise<void> {
    return this.enqueue(name, () => rm(join(this.dir, `${name}.json`), { force: true }));
  }

  private enqueue(name: string, write: () => Promise<void>): Promise<void> {
    const previous = this.pending.get(name) ?? Promise.resolve();
    const next = previous.then(write, write);
    this.pending.set(name, next);
    const cleanup = () => {
      if (this.pending.get(name) === next) this.pending.delete(name);
    };
    next.then(cleanup, cleanup);
    return next;
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.pending.values()]);
  }
}

/** The three record folders of the local A2I. */
export class A2IStore {
  readonly taskUis: RecordFolder<HumanTaskUiRecord>;
  readonly flowDefinitions: RecordFolder<FlowDefinitionRecord>;
  readonly humanLoops: RecordFolder<HumanLoopRecord>;

  constructor(dataDir: string) {
    const root = join(dataDir, "a2i");
    const folder = <T>(kind: Kind) => new RecordFolder<T>(join(root, kind));
    this.taskUis = folder("task-uis");
    this.flowDefinitions = folder("flow-definitions");
    this.humanLoops = folder("human-loops");
  }

  /** Waits for every write already started (used on close). */
  async drain(): Promise<void> {
    await Promise.all([this.taskUis.drain(), this.flowDefinitions.drain(), this.humanLoops.drain()]);
  }
}
