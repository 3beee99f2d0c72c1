/**
 * Choice rules: every comparison operator (and its `…Path` form), And/Or/Not and the type tests.
 */
import { StatesError } from "./errors";
import { hasPath, readPath } from "./paths";

type Rule = Record<string, unknown>;

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function timestamp(value: unknown): number | undefined {
  if (typeof value !== "string" || !RFC3339.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** StringMatches: `*` is any run of characters, `\*` a literal star, `\\` a literal backslash. */
function wildcardMatch(text: string, pattern: string): boolean {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char === "\\" && i + 1 < pattern.length) {
      source += (pattern[++i] as string).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    } else if (char === "*") source += "[\\s\\S]*";
    else source += char.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`).test(text);
}

type Compare = (a: number | string, b: number | string) => boolean;
const ORDER: Record<string, Compare> = {
  Equals: (a, b) => a === b,
  LessThan: (a, b) => a < b,
  GreaterThan: (a, b) => a > b,
  LessThanEquals: (a, b) => a <= b,
  GreaterThanEquals: (a, b) => a >= b,
};

function compare(operator: string, value: unknown, expected: unknown): boolean {
  if (operator === "StringMatches") {
    return typeof value === "string" && typeof expected === "string" && wildcardMatch(value, expected);
  }
  if (operator === "BooleanEquals") {
    return typeof value === "boolean" && value === expected;
  }
  const kind = /^(String|Numeric|Timestamp)(.+)$/.exec(operator);
  const test = kind ? ORDER[kind[2] as string] : undefined;
  if (!kind || !test) throw new StatesError("States.Runtime", `Unknown Choice operator ${operator}`);
  if (kind[1] === "String") {
    return typeof value === "string" && typeof expected === "string" && test(value, expected);
  }
  if (kind[1] === "Numeric") {
    return typeof value === "number" && typeof expected === "number" && test(value, expected);
  }
  const [a, b] = [timestamp(value), timestamp(expected)];
  return a !== undefined && b !== undefined && test(a, b);
}

const TYPE_TESTS: Record<string, (value: unknown) => boolean> = {
  IsNull: (v) => v === null,
  IsNumeric: (v) => typeof v === "number",
  IsString: (v) => typeof v === "string",
  IsBoolean: (v) => typeof v === "boolean",
  IsTimestamp: (v) => timestamp(v) !== undefined,
};

/** Evaluates one Choice rule against the state's effective input. */
export function evaluateRule(rule: Rule, input: unknown): boolean {
  if (Array.isArray(rule.And)) return (rule.And as Rule[]).every((r) => evaluateRule(r, input));
  if (Array.isArray(rule.Or)) return (rule.Or as Rule[]).some((r) => evaluateRule(r, input));
  if (rule.Not !== undefined) return !evaluateRule(rule.Not as Rule, input);
  const variable = rule.Variable;
  if (typeof variable !== "string") throw new StatesError("States.Runtime", "A Choice rule has no Variable");
  const operator = Object.keys(rule).find((key) => key !== "Variable" && key !== "Next" && key !== "Comment");
  if (!operator) throw new StatesError("States.Runtime", `Choice rule on ${variable} has no operator`);
  const expected = rule[operator];
  if (operator === "IsPresent") return hasPath(input, variable) === expected;
  const value = readPath(input, variable);
  const typeTest = TYPE_TESTS[operator];
  if (typeTest) return typeTest(value) === expected;
  if (operator.endsWith("Path")) {
    return compare(operator.slice(0, -4), value, readPath(input, expected as string));
  }
  return compare(operator, value, expected);
}

/** The Next of the first matching choice, the Default, or States.NoChoiceMatched. */
export function chooseNext(choices: Rule[], defaultNext: string | undefined, input: unknown): string {
  for (const choice of choices) {
    if (evaluateRule(choice, input)) return choice.Next as string;
  }
  if (defaultNext !== undefined) return defaultNext;
  throw new StatesError("States.NoChoiceMatched", `No Choice rule matched and no Default is set`);
}
