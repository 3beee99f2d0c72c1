/**
 * Intrinsic functions (`States.Format(...)` and friends) for `.$` fields: a small tokenizer and
 * recursive-descent parser (nested calls, quoted strings with escapes, paths with brackets), then
 * evaluation against the state input and the context object.
 */
import { createHash, randomInt, randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { StatesError } from "./errors";

export type IntrinsicArg =
  | { kind: "string"; value: string; escapedBraces: number[] }
  | { kind: "literal"; value: number | boolean | null }
  | { kind: "path"; path: string }
  | IntrinsicCall;

export interface IntrinsicCall {
  kind: "call";
  name: string;
  args: IntrinsicArg[];
}

function fail(message: string): never {
  throw new StatesError("States.IntrinsicFailure", message);
}

/** Whether a `.$` value is an intrinsic call rather than a path. */
export function isIntrinsic(text: string): boolean {
  return /^States\.[A-Za-z0-9]+\s*\(/.test(text);
}

class Parser {
  private pos = 0;
  constructor(private readonly text: string) {}

  parse(): IntrinsicCall {
    const call = this.call();
    this.skipSpace();
    if (this.pos !== this.text.length) fail(`Unexpected text after the call at ${this.pos}: ${this.text}`);
    return call;
  }

  private skipSpace() {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos] ?? "")) this.pos++;
  }

  private call(): IntrinsicCall {
    this.skipSpace();
    const match = /^States\.[A-Za-z0-9]+/.exec(this.text.slice(this.pos));
    if (!match) fail(`Expected an intrinsic function at ${this.pos}: ${this.text}`);
    const name = match[0];
    this.pos += name.length;
    this.skipSpace();
    this.expect("(");
    const args: IntrinsicArg[] = [];
    this.skipSpace();
    if (this.text[this.pos] === ")") {
      this.pos++;
      return { kind: "call", name, args };
    }
    for (;;) {
      args.push(this.arg());
      this.skipSpace();
      const next = this.text[this.pos];
      this.pos++;
      if (next === ")") return { kind: "call", name, args };
      if (next !== ",") fail(`Expected ',' or ')' at ${this.pos - 1}: ${this.text}`);
    }
  }

  private expect(char: string) {
    if (this.text[this.pos] !== char) fail(`Expected '${char}' at ${this.pos}: ${this.text}`);
    this.pos++;
  }

  private arg(): IntrinsicArg {
    this.skipSpace();
    const char = this.text[this.pos];
    if (char === "'") return this.string();
    if (char === "$") return this.path();
    if (this.text.startsWith("States.", this.pos)) return this.call();
    const match = /^(-?\d+(\.\d+)?([eE][-+]?\d+)?|true|false|null)/.exec(this.text.slice(this.pos));
    if (!match) fail(`Unexpected argument at ${this.pos}: ${this.text}`);
    this.pos += match[0].length;
    return { kind: "literal", value: JSON.parse(match[0]) as number | boolean | null };
  }

  private string(): IntrinsicArg {
    this.pos++;
    let value = "";
    const escapedBraces: number[] = [];
    for (;;) {
      const char = this.text[this.pos];
      if (char === undefined) fail(`Unterminated string in ${this.text}`);
      this.pos++;
      if (char === "'") return { kind: "string", value, escapedBraces };
      if (char === "\\") {
        const escaped = this.text[this.pos];
        if (escaped === undefined) fail(`Dangling escape in ${this.text}`);
        this.pos++;
        if (escaped === "{" || escaped === "}") escapedBraces.push(value.length);
        value += escaped;
      } else {
        value += char;
      }
    }
  }

  private path(): IntrinsicArg {
    const start = this.pos;
    let depth = 0;
    let quote: string | undefined;
    while (this.pos < this.text.length) {
      const char = this.text[this.pos] as string;
      if (quote) {
        if (char === "\\") this.pos++;
        else if (char === quote) quote = undefined;
      } else if (char === "'" || char === '"') quote = char;
      else if (char === "[" || char === "(") depth++;
      else if (char === "]" || char === ")") {
        if (depth === 0) break;
        depth--;
      } else if (char === "," && depth === 0) break;
      this.pos++;
    }
    return { kind: "path", path: this.text.slice(start, this.pos).trim() };
  }
}

/** Parses an intrinsic call; throws States.IntrinsicFailure on a syntax error. */
export function parseIntrinsic(text: string): IntrinsicCall {
  return new Parser(text).parse();
}

/** Deterministic PRNG for the seeded form of States.MathRandom (mulberry32). */
function seededRandom(seed: number): number {
  let t = (seed + 0x6d2b79f5) | 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

function arity(name: string, args: unknown[], min: number, max = min) {
  if (args.length < min || args.length > max) {
    fail(`${name} takes ${min === max ? min : `${min} to ${max}`} arguments, got ${args.length}`);
  }
}

function asArray(name: string, value: unknown): unknown[] {
  if (!Array.isArray(value)) fail(`${name} expects an array, got ${JSON.stringify(value)}`);
  return value;
}

function asString(name: string, value: unknown): string {
  if (typeof value !== "string") fail(`${name} expects a string, got ${JSON.stringify(value)}`);
  return value;
}

function asInteger(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    fail(`${name} expects an integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

const HASHES: Record<string, string> = {
  MD5: "md5",
  "SHA-1": "sha1",
  "SHA-256": "sha256",
  "SHA-384": "sha384",
  "SHA-512": "sha512",
};

function format(template: Extract<IntrinsicArg, { kind: "string" }>, values: unknown[]): string {
  let out = "";
  let next = 0;
  const escaped = new Set(template.escapedBraces);
  const text = template.value;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "{" && text[i + 1] === "}" && !escaped.has(i) && !escaped.has(i + 1)) {
      if (next >= values.length) fail("States.Format has more {} placeholders than arguments");
      const value = values[next++];
      if (value !== null && typeof value === "object") {
        fail("States.Format arguments must be strings, numbers, booleans or null");
      }
      out += String(value);
      i++;
    } else {
      out += text[i];
    }
  }
  if (next !== values.length) fail("States.Format has fewer {} placeholders than arguments");
  return out;
}

/** Evaluates a parsed call; `resolve` reads a `$…`/`$$…` path. */
export function evaluateIntrinsic(call: IntrinsicCall, resolve: (path: string) => unknown): unknown {
  const evaluate = (arg: IntrinsicArg): unknown => {
    switch (arg.kind) {
      case "string":
      case "literal":
        return arg.value;
      case "path":
        return resolve(arg.path);
      case "call":
        return evaluateIntrinsic(arg, resolve);
    }
  };
  const { name } = call;
  if (name === "States.Format") {
    const [template, ...rest] = call.args;
    if (template?.kind !== "string") fail("States.Format needs a quoted template as its first argument");
    return format(template, rest.map(evaluate));
  }
  const args = call.args.map(evaluate);
  switch (name) {
    case "States.StringToJson": {
      arity(name, args, 1);
      const text = asString(name, args[0]);
      try {
        return JSON.parse(text);
      } catch {
        fail(`States.StringToJson could not parse ${JSON.stringify(text)}`);
      }
      break;
    }
    case "States.JsonToString":
      arity(name, args, 1);
      return JSON.stringify(args[0]);
    case "States.Array":
      return args;
    case "States.ArrayPartition": {
      arity(name, args, 2);
      const items = asArray(name, args[0]);
      const size = asInteger(name, args[1]);
      if (size <= 0) fail("States.ArrayPartition chunk size must be positive");
      const chunks: unknown[][] = [];
      for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
      return chunks;
    }
    case "States.ArrayContains":
      arity(name, args, 2);
      return asArray(name, args[0]).some((item) => isDeepStrictEqual(item, args[1]));
    case "States.ArrayRange": {
      arity(name, args, 3);
      const [start, end, step] = [
        asInteger(name, args[0]),
        asInteger(name, args[1]),
        asInteger(name, args[2]),
      ];
      if (step === 0) fail("States.ArrayRange step must not be 0");
      const out: number[] = [];
      for (let n = start; step > 0 ? n <= end : n >= end; n += step) {
        out.push(n);
        if (out.length > 1000) fail("States.ArrayRange may return at most 1000 items");
      }
      return out;
    }
    case "States.ArrayGetItem": {
      arity(name, args, 2);
      const items = asArray(name, args[0]);
      const index = asInteger(name, args[1]);
      if (index < 0 || index >= items.length) fail(`States.ArrayGetItem index ${index} is out of bounds`);
      return items[index];
    }
    case "States.ArrayLength":
      arity(name, args, 1);
      return asArray(name, args[0]).length;
    case "States.ArrayUnique": {
      arity(name, args, 1);
      const out: unknown[] = [];
      for (const item of asArray(name, args[0])) {
        if (!out.some((seen) => isDeepStrictEqual(seen, item))) out.push(item);
      }
      return out;
    }
    case "States.Base64Encode":
      arity(name, args, 1);
      return Buffer.from(asString(name, args[0]), "utf8").toString("base64");
    case "States.Base64Decode": {
      arity(name, args, 1);
      const text = asString(name, args[0]);
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
        fail("States.Base64Decode input is not base64");
      }
      return Buffer.from(text, "base64").toString("utf8");
    }
    case "States.Hash": {
      arity(name, args, 2);
      const algorithm = HASHES[asString(name, args[1])];
      if (!algorithm) fail(`States.Hash algorithm must be one of ${Object.keys(HASHES).join(", ")}`);
      const data = typeof args[0] === "string" ? args[0] : JSON.stringify(args[0]);
      return createHash(algorithm).update(data, "utf8").digest("hex");
    }
    case "States.JsonMerge": {
      arity(name, args, 3);
      const [left, right, deep] = args;
      if (deep !== false) fail("States.JsonMerge supports only shallow merges (third argument false)");
      const isObject = (v: unknown) => v !== null && typeof v === "object" && !Array.isArray(v);
      if (!isObject(left) || !isObject(right)) fail("States.JsonMerge merges two JSON objects");
      return { ...(left as object), ...(right as object) };
    }
    case "States.MathRandom": {
      arity(name, args, 2, 3);
      const start = asInteger(name, args[0]);
      const end = asInteger(name, args[1]);
      if (end <= start) fail("States.MathRandom end must be greater than start");
      if (args.length === 3)
        return start + Math.floor(seededRandom(asInteger(name, args[2])) * (end - start));
      return randomInt(start, end);
    }
    case "States.MathAdd": {
      arity(name, args, 2);
      return asInteger(name, args[0]) + asInteger(name, args[1]);
    }
    case "States.StringSplit": {
      arity(name, args, 2);
      const text = asString(name, args[0]);
      const delimiters = new Set(asString(name, args[1]));
      const parts: string[] = [];
      let current = "";
      for (const char of text) {
        if (delimiters.has(char)) {
          if (current) parts.push(current);
          current = "";
        } else current += char;
      }
      if (current) parts.push(current);
      return parts;
    }
    case "States.UUID":
      arity(name, args, 0);
      return randomUUID();
  }
  return fail(`Unknown intrinsic function ${name}`);
}
