/**
 * EventBridge content filtering: whether an event matches a rule's event pattern. No maintained
 * npm library implements it (AWS's own matcher, event-ruler, is Java), so this follows the
 * EventBridge User Guide's "Content filtering in event patterns" page operator by operator.
 */

/** A pattern that EventBridge would refuse (PutRule answers InvalidEventPatternException). */
export class InvalidEventPatternError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidEventPatternError";
  }
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Pattern = { [key: string]: unknown };

const OPERATORS = new Set([
  "prefix",
  "suffix",
  "anything-but",
  "numeric",
  "exists",
  "equals-ignore-case",
  "wildcard",
  "cidr",
]);

/** Throws InvalidEventPatternError unless `pattern` is a well-formed EventBridge pattern. */
export function validatePattern(pattern: unknown, path = "pattern"): void {
  if (pattern === null || typeof pattern !== "object" || Array.isArray(pattern)) {
    throw new InvalidEventPatternError(`${path} must be a JSON object`);
  }
  for (const [field, value] of Object.entries(pattern)) {
    const at = `${path}.${field}`;
    if (field === "$or") {
      if (!Array.isArray(value) || value.length < 2) {
        throw new InvalidEventPatternError(`${at} must be an array of at least two patterns`);
      }
      for (const [index, branch] of value.entries()) validatePattern(branch, `${at}[${index}]`);
    } else if (Array.isArray(value)) {
      if (value.length === 0) throw new InvalidEventPatternError(`${at} must not be an empty array`);
      for (const matcher of value) validateMatcher(matcher, at);
    } else if (value !== null && typeof value === "object") {
      validatePattern(value, at);
    } else {
      throw new InvalidEventPatternError(`${at} must be an array of values or a nested object`);
    }
  }
}

function validateMatcher(matcher: unknown, at: string): void {
  if (matcher === null || typeof matcher !== "object") return; // exact value
  if (Array.isArray(matcher)) throw new InvalidEventPatternError(`${at} must not contain nested arrays`);
  const entries = Object.entries(matcher);
  const [operator, argument] = entries[0] ?? [];
  if (entries.length !== 1 || operator === undefined || !OPERATORS.has(operator)) {
    throw new InvalidEventPatternError(`${at} has an unknown matcher ${JSON.stringify(matcher)}`);
  }
  const fail = (why: string) => {
    throw new InvalidEventPatternError(`${at}: "${operator}" ${why}`);
  };
  switch (operator) {
    case "prefix":
    case "suffix":
      if (typeof argument !== "string" && !isIgnoreCase(argument))
        fail("needs a string or equals-ignore-case");
      break;
    case "equals-ignore-case":
    case "wildcard":
    case "cidr":
      if (typeof argument !== "string") fail("needs a string");
      if (operator === "wildcard" && /\*\*/.test(String(argument))) fail("must not contain consecutive *");
      if (operator === "cidr") parseCidr(String(argument));
      break;
    case "exists":
      if (typeof argument !== "boolean") fail("needs true or false");
      break;
    case "numeric":
      parseNumeric(argument, at);
      break;
    case "anything-but": {
      if (Array.isArray(argument)) {
        if (argument.length === 0 || argument.some((item) => item !== null && typeof item === "object")) {
          fail("needs a non-empty list of plain values");
        }
      } else if (argument !== null && typeof argument === "object") {
        const [inner, innerArg] = Object.entries(argument)[0] ?? [];
        const allowed = ["prefix", "suffix", "equals-ignore-case", "wildcard"];
        if (Object.keys(argument).length !== 1 || inner === undefined || !allowed.includes(inner)) {
          fail("accepts values, prefix, suffix, equals-ignore-case or wildcard");
        }
        const ok =
          typeof innerArg === "string" ||
          (Array.isArray(innerArg) && innerArg.every((x) => typeof x === "string"));
        if (!ok) fail(`${inner} needs a string`);
      }
      break;
    }
  }
}

function isIgnoreCase(value: unknown): value is { "equals-ignore-case": string } {
  return (
    value !== null &&
    typeof value === "object" &&
    typeof (value as Record<string, unknown>)["equals-ignore-case"] === "string"
  );
}

function parseNumeric(argument: unknown, at: string): [string, number][] {
  if (!Array.isArray(argument) || argument.length === 0 || argument.length % 2 !== 0) {
    throw new InvalidEventPatternError(`${at}: "numeric" needs operator/number pairs`);
  }
  const pairs: [string, number][] = [];
  for (let i = 0; i < argument.length; i += 2) {
    const op = argument[i];
    const value = argument[i + 1];
    if (!["<", "<=", "=", ">", ">="].includes(String(op)) || typeof value !== "number") {
      throw new InvalidEventPatternError(
        `${at}: "numeric" has a bad comparison ${JSON.stringify([op, value])}`,
      );
    }
    pairs.push([String(op), value]);
  }
  return pairs;
}

function parseCidr(text: string): { base: number; bits: number } {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  const octets = match?.slice(1, 5).map(Number) ?? [];
  const bits = Number(match?.[5]);
  if (!match || octets.some((octet) => octet > 255) || bits > 32) {
    throw new InvalidEventPatternError(`"cidr" needs an IPv4 CIDR block, got ${JSON.stringify(text)}`);
  }
  return { base: ipv4(octets), bits };
}

function ipv4(octets: number[]): number {
  return octets.reduce((acc, octet) => acc * 256 + octet, 0);
}

function wildcardMatches(pattern: string, value: string): boolean {
  // `\*` is a literal star; every other `*` matches any run of characters.
  const source = pattern
    .split(/(\\\*|\*)/)
    .map((part) =>
      part === "*" ? ".*" : part === "\\*" ? "\\*" : part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"),
    )
    .join("");
  return new RegExp(`^${source}$`, "s").test(value);
}

function stringMatch(kind: "prefix" | "suffix", argument: unknown, value: Json): boolean {
  if (typeof value !== "string") return false;
  if (isIgnoreCase(argument)) {
    const target = argument["equals-ignore-case"].toLowerCase();
    return kind === "prefix" ? value.toLowerCase().startsWith(target) : value.toLowerCase().endsWith(target);
  }
  const target = String(argument);
  return kind === "prefix" ? value.startsWith(target) : value.endsWith(target);
}

function equalValues(a: unknown, b: Json): boolean {
  if (typeof a === "number" && typeof b === "number") return a === b;
  return a === b;
}

/** Whether one matcher accepts one (scalar) event value. */
function matchOne(matcher: unknown, value: Json): boolean {
  if (matcher === null || typeof matcher !== "object") return equalValues(matcher, value);
  const [operator, argument] = Object.entries(matcher)[0] as [string, unknown];
  switch (operator) {
    case "prefix":
    case "suffix":
      return stringMatch(operator, argument, value);
    case "equals-ignore-case":
      return typeof value === "string" && value.toLowerCase() === String(argument).toLowerCase();
    case "wildcard":
      return typeof value === "string" && wildcardMatches(String(argument), value);
    case "numeric": {
      if (typeof value !== "number") return false;
      return parseNumeric(argument, "numeric").every(([op, bound]) => {
        if (op === "<") return value < bound;
        if (op === "<=") return value <= bound;
        if (op === "=") return value === bound;
        if (op === ">") return value > bound;
        return value >= bound;
      });
    }
    case "cidr": {
      if (typeof value !== "string") return false;
      const address = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(value);
      if (!address) return false;
      const { base, bits } = parseCidr(String(argument));
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      return (ipv4(address.slice(1).map(Number)) & mask) >>> 0 === (base & mask) >>> 0;
    }
    case "anything-but": {
      if (Array.isArray(argument)) return !argument.some((excluded) => equalValues(excluded, value));
      if (argument !== null && typeof argument === "object") {
        const [inner, innerArg] = Object.entries(argument)[0] as [string, unknown];
        const options = Array.isArray(innerArg) ? innerArg : [innerArg];
        return typeof value === "string" && !options.some((option) => matchOne({ [inner]: option }, value));
      }
      return !equalValues(argument, value);
    }
    default:
      return false;
  }
}

/** Whether the matchers of one field accept the field's value (absent = undefined). */
function matchField(matchers: unknown[], value: Json | undefined): boolean {
  return matchers.some((matcher) => {
    if (matcher !== null && typeof matcher === "object" && "exists" in matcher) {
      const exists =
        value !== undefined && !(value !== null && typeof value === "object" && !Array.isArray(value));
      return (matcher as { exists: boolean }).exists === exists;
    }
    if (value === undefined) return false;
    // An array in the event matches when any of its elements does.
    if (Array.isArray(value)) return value.some((item) => matchOne(matcher, item));
    if (value !== null && typeof value === "object") return false;
    return matchOne(matcher, value);
  });
}

function matchObject(pattern: Pattern, event: Json | undefined): boolean {
  // EventBridge flattens arrays of objects: the pattern matches when one element does.
  if (Array.isArray(event)) return event.some((element) => matchObject(pattern, element));
  const object = event !== null && typeof event === "object" && !Array.isArray(event) ? event : {};
  return Object.entries(pattern).every(([field, rule]) => {
    if (field === "$or") return (rule as Pattern[]).some((branch) => matchObject(branch, event));
    const value = object[field];
    if (Array.isArray(rule)) return matchField(rule, value);
    return matchObject(rule as Pattern, value);
  });
}

/** Whether `event` matches the EventBridge `pattern` (validated first; throws InvalidEventPatternError). */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  validatePattern(pattern);
  return matchObject(pattern as Pattern, eventJson(event));
}

/** An event as a pattern sees it: its JSON form (undefined members dropped, Dates as strings). */
export function eventJson(event: unknown): Json {
  return JSON.parse(JSON.stringify(event)) as Json;
}

/**
 * Matches an event already in JSON form (eventJson) against a pattern validatePattern accepted:
 * the bus checks every event against every rule, so each is validated and converted only once.
 */
export function matchesValidatedPattern(pattern: unknown, event: Json): boolean {
  return matchObject(pattern as Pattern, event);
}
