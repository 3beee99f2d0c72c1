/**
 * Input and output processing: JSONPath reads (jsonpath-plus), `.$` payload templates with the
 * context object and intrinsics, and ResultPath writes.
 */
import { JSONPath } from "jsonpath-plus";
import { StatesError } from "./errors";
import { evaluateIntrinsic, isIntrinsic, parseIntrinsic } from "./intrinsics";

/** The context object (`$$`) as Step Functions exposes it to a state. */
export interface ContextObject {
  Execution: { Id: string; Input: unknown; Name: string; RoleArn: string; StartTime: string };
  State: { EnteredTime: string; Name: string; RetryCount: number };
  StateMachine: { Id: string; Name: string };
  Task?: { Token: string };
  Map?: { Item: { Index: number; Value: unknown } };
}

/** A path selects one node unless it has wildcards, slices, unions, filters or recursion. */
function isDefinite(path: string): boolean {
  return !/\*|\.\.|\[\?|\[[^\]'"]*[,:]|\[\(/.test(path);
}

function query(json: unknown, path: string): unknown[] {
  try {
    // jsonpath-plus answers undefined rather than [] for a null or absent document.
    return (JSONPath({ path, json: json as object, wrap: true }) as unknown[] | undefined) ?? [];
  } catch (error) {
    throw new StatesError("States.Runtime", `Invalid path '${path}': ${(error as Error).message}`);
  }
}

/** Field names and indexes of a definite path with nothing but those, parsed once; else null. */
const plainPaths = new Map<string, readonly string[] | null>();
const PLAIN_PATHS_KEPT = 10_000;

function plainSegments(path: string): readonly string[] | null {
  let segments = plainPaths.get(path);
  if (segments !== undefined) return segments;
  segments = null;
  if (isDefinite(path)) {
    try {
      const parsed = JSONPath.toPathArray(path).slice(1);
      // Script, filter and wildcard segments are jsonpath-plus's to evaluate.
      if (parsed.every((segment) => !/[@*()?^~]/.test(segment))) segments = parsed;
    } catch {
      // An invalid path: query() reports it.
    }
  }
  if (plainPaths.size >= PLAIN_PATHS_KEPT) plainPaths.clear();
  plainPaths.set(path, segments);
  return segments;
}

const MISSING = Symbol("missing");

/**
 * Walks a plain path through objects and arrays, as jsonpath-plus would, without building its
 * query: most paths in a workflow are `$.a.b`, read at every state. Anything unusual (a missing
 * field, an index out of range, a field of a string) is MISSING and goes to jsonpath-plus.
 */
function walk(target: unknown, segments: readonly string[]): unknown {
  let node = target;
  for (const segment of segments) {
    if (Array.isArray(node)) {
      if (!/^\d+$/.test(segment) || Number(segment) >= node.length) return MISSING;
      node = node[Number(segment)];
    } else if (node !== null && typeof node === "object" && Object.hasOwn(node, segment)) {
      node = (node as Record<string, unknown>)[segment];
    } else {
      return MISSING;
    }
  }
  return node;
}

/** Reads a path (`$…` on data, `$$…` on the context); a definite path that matches nothing is an error. */
export function readPath(data: unknown, path: string, context?: ContextObject): unknown {
  const onContext = path.startsWith("$$");
  const target = onContext ? context : data;
  const jsonPath = onContext ? path.slice(1) : path;
  if (jsonPath === "$") return target;
  if (!jsonPath.startsWith("$")) {
    throw new StatesError("States.Runtime", `Invalid path '${path}': a path starts with '$'`);
  }
  const segments = plainSegments(jsonPath);
  if (segments) {
    const found = walk(target, segments);
    if (found !== MISSING) return found;
  }
  const matches = query(target, jsonPath);
  if (!isDefinite(jsonPath)) return matches;
  if (matches.length === 0) {
    throw new StatesError(
      "States.Runtime",
      `The JSONPath '${path}' could not be found in the ${onContext ? "context object" : "input"} '${JSON.stringify(target)}'`,
    );
  }
  return matches[0];
}

/** Whether a path matches something (for IsPresent); never throws for a missing node. */
export function hasPath(data: unknown, path: string): boolean {
  if (path === "$") return true;
  return query(data, path).length > 0;
}

/** Evaluates a `.$` value: an intrinsic call or a path. */
function evaluateDynamic(text: string, data: unknown, context: ContextObject | undefined): unknown {
  if (isIntrinsic(text)) {
    return evaluateIntrinsic(parseIntrinsic(text), (path) => readPath(data, path, context));
  }
  return readPath(data, text, context);
}

/** One field of a template object: its output name, and whether its value is a path to evaluate. */
interface TemplateField {
  name: string;
  dynamic: boolean;
  value: unknown;
}

/**
 * Template objects' fields, worked out once per object: a definition's templates are evaluated at
 * every state entry, and listing their keys and cutting `.$` off each time was most of the cost.
 */
const templateFields = new WeakMap<object, TemplateField[]>();

function fieldsOf(template: object): TemplateField[] {
  let fields = templateFields.get(template);
  if (!fields) {
    fields = Object.entries(template).map(([key, value]) => {
      const dynamic = key.endsWith(".$");
      if (dynamic && typeof value !== "string") {
        throw new StatesError("States.Runtime", `The value of '${key}' must be a path or intrinsic function`);
      }
      return { name: dynamic ? key.slice(0, -2) : key, dynamic, value };
    });
    templateFields.set(template, fields);
  }
  return fields;
}

/** Builds a Parameters / ResultSelector / ItemSelector payload: keys ending in `.$` are evaluated. */
export function applyTemplate(template: unknown, data: unknown, context?: ContextObject): unknown {
  if (Array.isArray(template)) return template.map((item) => applyTemplate(item, data, context));
  if (template === null || typeof template !== "object") return template;
  const out: Record<string, unknown> = {};
  for (const field of fieldsOf(template)) {
    out[field.name] = field.dynamic
      ? evaluateDynamic(field.value as string, data, context)
      : applyTemplate(field.value, data, context);
  }
  return out;
}

/** InputPath / OutputPath: null means `{}`, absent means the whole value. */
export function selectPath(data: unknown, path: string | null | undefined): unknown {
  if (path === null) return {};
  if (path === undefined) return data;
  return readPath(data, path);
}

/**
 * ResultPath: null keeps the input, `$` replaces it, anything else writes the result into a copy
 * of the input, creating missing objects on the way.
 */
export function applyResultPath(input: unknown, path: string | null | undefined, result: unknown): unknown {
  if (path === null) return input;
  if (path === undefined || path === "$") return result;
  if (!isDefinite(path) || !path.startsWith("$")) {
    throw new StatesError("States.ResultPathMatchFailure", `ResultPath '${path}' is not a reference path`);
  }
  const segments = [...JSONPath.toPathArray(path)].slice(1);
  const fail = () => {
    throw new StatesError(
      "States.ResultPathMatchFailure",
      `Unable to apply ResultPath '${path}' to input '${JSON.stringify(input)}'`,
    );
  };
  if (input === null || typeof input !== "object") fail();
  // Only the objects on the path are copied: the engine never changes a value in place, so the
  // rest of the input can be shared with the output (a deep copy per state was most of its cost).
  const root = shallowCopy(input as Record<string, unknown>);
  let node: Record<string, unknown> = root;
  segments.forEach((segment, i) => {
    // A named field cannot be written into an array: JSON would silently drop it, AWS refuses it.
    if (Array.isArray(node) && !/^\d+$/.test(segment)) fail();
    if (i === segments.length - 1) {
      node[segment] = result;
      return;
    }
    const child = node[segment];
    if (child === undefined) node[segment] = {};
    else if (child === null || typeof child !== "object") fail();
    else node[segment] = shallowCopy(child as Record<string, unknown>);
    node = node[segment] as Record<string, unknown>;
  });
  return root;
}

function shallowCopy(value: Record<string, unknown>): Record<string, unknown> {
  return (Array.isArray(value) ? value.slice() : { ...value }) as Record<string, unknown>;
}
