/**
 * State machine definitions by content hash, under `<dataDir>/states/definitions/`. An execution's
 * ExecutionStarted names its definition's hash instead of repeating the text (often 10+ KB) in
 * every history and journal record; each distinct text is written, and flushed, once.
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";

/** An execution log names a definition that is not in the store. */
export class MissingDefinitionError extends Error {
  constructor(readonly hash: string) {
    super(`State machine definition ${hash} is missing from the definitions folder`);
    this.name = "MissingDefinitionError";
  }
}

const HASH = /^[0-9a-f]{64}$/;

function flushed(path: string, flags: string, write?: (fd: number) => void) {
  const fd = openSync(path, flags);
  try {
    write?.(fd);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Durable content-addressed definition texts; lookups share one string per text. */
export class DefinitionStore {
  private readonly byText = new Map<string, string>();
  private readonly byHash = new Map<string, string>();

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /**
   * The text's hash, after the text is on disk: written to a temporary file, flushed, renamed and
   * the folder flushed, so a log naming the hash never outlives the text. Once per text per process.
   */
  put(text: string): string {
    const known = this.byText.get(text);
    if (known) return known;
    const hash = createHash("sha256").update(text).digest("hex");
    const file = join(this.dir, `${hash}.json`);
    if (!existsSync(file)) {
      flushed(`${file}.tmp`, "w", (fd) => writeSync(fd, text));
      renameSync(`${file}.tmp`, file);
      flushed(this.dir, "r");
    }
    this.byText.set(text, hash);
    this.byHash.set(hash, text);
    return hash;
  }

  /** The text stored under a hash; throws MissingDefinitionError if there is none. */
  get(hash: string): string {
    const known = this.byHash.get(hash);
    if (known !== undefined) return known;
    const file = join(this.dir, `${hash}.json`);
    if (!HASH.test(hash) || !existsSync(file)) throw new MissingDefinitionError(hash);
    const text = readFileSync(file, "utf8");
    this.byText.set(text, hash);
    this.byHash.set(hash, text);
    return text;
  }
}
