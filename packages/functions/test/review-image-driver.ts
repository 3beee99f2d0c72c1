/**
 * Walks statemachines/review-image.asl.json state by state, building each Lambda payload from the
 * definition's own Parameters/ResultSelector/ResultPath/Choice rules and invoking the real handlers.
 * It covers exactly the ASL features review-image uses; Retry is not replayed (first failure is caught).
 */
import { readFileSync } from "node:fs";
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient, TaskTimedOut } from "@aws-sdk/client-sfn";
import { Functions } from "@secondlook/core/blueprint";
import { mockClient } from "aws-sdk-client-mock";

// biome-ignore lint/suspicious/noExplicitAny: ASL documents are untyped JSON walked generically here
type Json = any;

const definition: Json = JSON.parse(
  readFileSync(new URL("../../../statemachines/review-image.asl.json", import.meta.url), "utf8"),
);

class StatesRuntimeError extends Error {
  override name = "States.Runtime";
}

function getPath(path: string, input: Json, context: Json): Json {
  if (path === "$") return input;
  const [root, rest] = path.startsWith("$$.") ? [context, path.slice(3)] : [input, path.slice(2)];
  if (!path.startsWith("$")) throw new StatesRuntimeError(`Not a path: ${path}`);
  let value = root;
  for (const part of rest.split(".")) {
    if (value === null || typeof value !== "object" || !(part in value)) {
      throw new StatesRuntimeError(`The JSONPath ${path} could not be found in the input`);
    }
    value = value[part];
  }
  return value;
}

function fill(template: Json, input: Json, context: Json): Json {
  if (Array.isArray(template)) return template.map((item) => fill(item, input, context));
  if (template === null || typeof template !== "object") return template;
  const out: Json = {};
  for (const [key, value] of Object.entries(template)) {
    if (key.endsWith(".$")) out[key.slice(0, -2)] = getPath(value as string, input, context);
    else out[key] = fill(value, input, context);
  }
  return out;
}

function applyResultPath(input: Json, resultPath: string | null | undefined, result: Json): Json {
  if (resultPath === null) return input;
  if (resultPath === undefined || resultPath === "$") return result;
  const key = resultPath.slice(2);
  if (key.includes(".")) throw new Error(`Driver supports one-level ResultPath only: ${resultPath}`);
  return { ...input, [key]: result };
}

function matches(rule: Json, input: Json): boolean {
  if (rule.And) return rule.And.every((inner: Json) => matches(inner, input));
  if (rule.Or) return rule.Or.some((inner: Json) => matches(inner, input));
  const value = getPath(rule.Variable, input, {});
  if ("BooleanEquals" in rule) return value === rule.BooleanEquals;
  if ("StringEquals" in rule) return value === rule.StringEquals;
  if ("NumericLessThanPath" in rule)
    return typeof value === "number" && value < getPath(rule.NumericLessThanPath, input, {});
  throw new Error(`Driver does not support choice rule ${JSON.stringify(rule)}`);
}

/** The error a Catch sees for a failed Lambda: Error = errorType, Cause = Lambda's JSON error body. */
function caught(error: unknown): { Error: string; Cause: string } {
  const err = error as Error;
  return {
    Error: err.name,
    Cause: JSON.stringify({ errorType: err.name, errorMessage: err.message, trace: [] }),
  };
}

function findCatch(state: Json, errorName: string): Json | undefined {
  return (state.Catch ?? []).find(
    (c: Json) =>
      c.ErrorEquals.includes(errorName) ||
      (c.ErrorEquals.includes("States.ALL") && errorName !== "States.Runtime"),
  );
}

async function loadHandler(functionName: string): Promise<(payload: unknown) => Promise<unknown>> {
  const substitution = functionName.replace(/^\$\{(.+)\}$/, "$1");
  const entry = Object.values(Functions).find((f) => f.substitution === substitution);
  if (!entry) throw new Error(`No handler for ${functionName}`);
  const module = await import(`../src/handlers/${entry.handler}.ts`);
  return module.handler;
}

/** Step Functions' side of the callback: records SendTaskSuccess/Failure; a closed token answers TaskTimedOut. */
export function fakeStepFunctions() {
  const mock = mockClient(SFNClient);
  const results = new Map<string, { output: Json } | { error: string; cause: string }>();
  const closed = (token: string) =>
    new TaskTimedOut({ message: `Task ${token} is already closed`, $metadata: { httpStatusCode: 400 } });
  mock.on(SendTaskSuccessCommand).callsFake((input: { taskToken: string; output: string }) => {
    if (results.has(input.taskToken)) throw closed(input.taskToken);
    results.set(input.taskToken, { output: JSON.parse(input.output) });
    return {};
  });
  mock.on(SendTaskFailureCommand).callsFake((input: { taskToken: string; error: string; cause: string }) => {
    if (results.has(input.taskToken)) throw closed(input.taskToken);
    results.set(input.taskToken, { error: input.error, cause: input.cause });
    return {};
  });
  return { mock, results };
}

export interface Execution {
  status: "SUCCEEDED" | "FAILED";
  /** Every state entered, in order. */
  path: string[];
  output: Json;
  error?: string;
  cause?: string;
  /** Names of train-model executions StartRetraining started. */
  trainings: string[];
}

/**
 * Runs review-image for one input. `whileWaiting(token)` plays A2I and EventBridge while
 * StartHumanReview waits; the callback it causes decides how the task ends.
 */
export async function runReviewImage(
  input: Json,
  options: {
    executionName: string;
    callbacks: ReturnType<typeof fakeStepFunctions>["results"];
    whileWaiting?: (taskToken: string) => Promise<void>;
  },
): Promise<Execution> {
  const context: Json = {
    Execution: {
      Id: `arn:aws:states:us-east-1:111122223333:execution:review-image:${options.executionName}`,
      Name: options.executionName,
      StartTime: "2026-01-01T00:00:00.000Z",
    },
    State: { RetryCount: 0 },
  };
  const path: string[] = [];
  const trainings: string[] = [];
  let current: string = definition.StartAt;
  let data = input;
  for (let steps = 0; steps < 50; steps++) {
    const state = definition.States[current];
    path.push(current);
    const ctx = { ...context, State: { ...context.State, Name: current } };
    if (state.Type === "Succeed") return { status: "SUCCEEDED", path, output: data, trainings };
    if (state.Type === "Fail") {
      return {
        status: "FAILED",
        path,
        output: data,
        error: getPath(state.ErrorPath, data, ctx),
        cause: getPath(state.CausePath, data, ctx),
        trainings,
      };
    }
    if (state.Type === "Choice") {
      const chosen = state.Choices.find((rule: Json) => matches(rule, data));
      current = chosen ? chosen.Next : state.Default;
      continue;
    }
    let result: Json;
    try {
      if (state.Resource === "arn:aws:states:::states:startExecution") {
        const parameters = fill(state.Parameters, data, ctx);
        trainings.push(parameters.Name);
        result = {};
      } else if (state.Resource === "arn:aws:states:::lambda:invoke.waitForTaskToken") {
        const token = `token-${options.executionName}-${current}`;
        const payload = fill(state.Parameters.Payload, data, { ...ctx, Task: { Token: token } });
        await (await loadHandler(state.Parameters.FunctionName))(JSON.parse(JSON.stringify(payload)));
        await options.whileWaiting?.(token);
        const answer = options.callbacks.get(token);
        if (!answer)
          throw new Error(`Nobody completed task ${token}: the execution would wait until States.Timeout`);
        if ("error" in answer) throw Object.assign(new Error(answer.cause), { name: answer.error });
        result = answer.output;
      } else {
        const parameters = state.Parameters;
        const payload = fill(parameters.Payload, data, ctx);
        const returned = await (await loadHandler(parameters.FunctionName))(
          JSON.parse(JSON.stringify(payload)),
        );
        const raw = { Payload: JSON.parse(JSON.stringify(returned ?? null)) };
        result = state.ResultSelector ? fill(state.ResultSelector, raw, ctx) : raw;
      }
    } catch (error) {
      const failure = state.Resource?.endsWith(".waitForTaskToken")
        ? { Error: (error as Error).name, Cause: (error as Error).message }
        : caught(error);
      const handler = findCatch(state, failure.Error);
      if (!handler) return { status: "FAILED", path, output: data, ...lower(failure), trainings };
      data = applyResultPath(data, handler.ResultPath, failure);
      current = handler.Next;
      continue;
    }
    data = applyResultPath(data, state.ResultPath, result);
    if (state.End) return { status: "SUCCEEDED", path, output: data, trainings };
    current = state.Next;
  }
  throw new Error("review-image did not finish within 50 states");
}

function lower(failure: { Error: string; Cause: string }) {
  return { error: failure.Error, cause: failure.Cause };
}
