/**
 * The state machines the engine knows, persisted as one JSON file written atomically.
 */
import { existsSync, readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";

export type StateMachineType = "STANDARD" | "EXPRESS";

export interface StateMachineRecord {
  name: string;
  arn: string;
  definition: string;
  roleArn: string;
  type: StateMachineType;
  /** Epoch milliseconds. */
  creationDate: number;
  updateDate?: number;
}

/** In-memory map of state machines backed by `<dir>/state-machines.json`. */
export class StateMachineRegistry {
  private readonly machines = new Map<string, StateMachineRecord>();
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly file: string) {
    if (existsSync(file)) {
      for (const record of JSON.parse(readFileSync(file, "utf8")) as StateMachineRecord[]) {
        this.machines.set(record.arn, record);
      }
    }
  }

  get(arn: string): StateMachineRecord | undefined {
    return this.machines.get(arn);
  }

  /** All machines, ordered by name. */
  list(): StateMachineRecord[] {
    return [...this.machines.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  async put(record: StateMachineRecord): Promise<void> {
    this.machines.set(record.arn, record);
    await this.save();
  }

  async delete(arn: string): Promise<void> {
    this.machines.delete(arn);
    await this.save();
  }

  /** Writes the whole registry through a temp file so a crash never leaves half a file. */
  private save(): Promise<void> {
    const text = JSON.stringify([...this.machines.values()], null, 2);
    this.writing = this.writing.then(async () => {
      await writeFile(`${this.file}.tmp`, text);
      await rename(`${this.file}.tmp`, this.file);
    });
    return this.writing;
  }
}
