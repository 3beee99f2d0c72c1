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
    return JSONPath({ path, json: json as object, wrap: true }) as unknown[];
  } catch (error) {
    throw new StatesError("States.Runtime", `Invalid path '${path}': ${(error as Error).message}`);
  }
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

/** Builds a Parameters / ResultSelector / ItemSelector payload: keys ending in `.$` are evaluated. */
export function applyTemplate(template: unknown, data: unknown, context?: ContextObject): unknown {
  if (Array.isArray(template)) return template.map((item) => applyTemplate(item, data, context));
  if (template === null || typeof template !== "object") return template;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(template)) {
    if (key.endsWith(".$")) {
      if (typeof value !== "string") {
        throw new StatesError("States.Runtime", `The value of '${key}' must be a path or intrinsic function`);
      }
      out[key.slice(0, -2)] = evaluateDynamic(value, data, context);
    } else {
      out[key] = applyTemplate(value, data, context);
    }
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
  const root = structuredClone(input) as Record<string, unknown>;
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
    node = node[segment] as Record<string, unknown>;
  });
  return root;
}
