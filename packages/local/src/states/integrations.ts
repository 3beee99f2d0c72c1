/**
 * Task resources: which integration a Resource ARN names, how a call is made through the injected
 * Lambda invoker, child executions and the SDK hook, and how their errors are named.
 */
import { lambdaFailure, StatesError } from "./errors";
import { Interrupted, type RunServices } from "./run-types";

export interface ParsedResource {
  family: "lambda-invoke" | "lambda-function" | "start-execution" | "sdk";
  pattern: "request" | "callback" | "sync" | "sync2";
  resourceType: string;
  resource: string;
  service?: string;
  action?: string;
  functionArn?: string;
}

/** Parsed resources by ARN: a definition names a few, and every task attempt looks one up. */
const parsedResources = new Map<string, ParsedResource>();

/** Splits a Resource ARN into the integration, its pattern and the history's resourceType/resource. */
export function parseResource(arn: string): ParsedResource {
  let parsed = parsedResources.get(arn);
  if (!parsed) {
    parsed = parseResourceArn(arn);
    if (parsedResources.size >= 1_000) parsedResources.clear();
    parsedResources.set(arn, parsed);
  }
  return parsed;
}

function parseResourceArn(arn: string): ParsedResource {
  if (/^arn:aws:lambda:[^:]*:[^:]*:function:/.test(arn)) {
    return {
      family: "lambda-function",
      pattern: "request",
      resourceType: "lambda",
      resource: arn,
      functionArn: arn,
    };
  }
  const match = /^arn:aws:states:[^:]*:[^:]*:(.+)$/.exec(arn);
  if (!match) throw new StatesError("States.Runtime", `Unsupported Task resource ${arn}`);
  const rest = match[1] as string;
  const suffix = /\.(waitForTaskToken|sync:2|sync)$/.exec(rest)?.[1];
  const pattern =
    suffix === "waitForTaskToken" ? "callback" : suffix === "sync:2" ? "sync2" : suffix ? "sync" : "request";
  const base = suffix ? rest.slice(0, -suffix.length - 1) : rest;
  const colon = base.lastIndexOf(":");
  const resourceType = base.slice(0, colon);
  const action = base.slice(colon + 1);
  const resource = suffix ? `${action}.${suffix}` : action;
  if (resourceType === "lambda" && action === "invoke") {
    if (pattern === "sync" || pattern === "sync2") {
      throw new StatesError("States.Runtime", `lambda:invoke has no .sync pattern`);
    }
    return { family: "lambda-invoke", pattern, resourceType, resource };
  }
  if (resourceType === "states" && action === "startExecution") {
    return { family: "start-execution", pattern, resourceType, resource };
  }
  if (pattern === "sync" || pattern === "sync2") {
    throw new StatesError("States.Runtime", `${arn}: .sync is supported for states:startExecution only`);
  }
  const service = resourceType.startsWith("aws-sdk:") ? resourceType.slice("aws-sdk:".length) : resourceType;
  return { family: "sdk", pattern, resourceType, resource, service, action };
}

/** Error-name prefixes Step Functions puts on SDK integration errors. */
const SERVICE_ERROR_PREFIX: Record<string, string> = {
  s3: "S3",
  sagemakera2iruntime: "SageMakerA2IRuntime",
  sagemaker: "SageMaker",
  rekognition: "Rekognition",
  ssm: "Ssm",
  sfn: "Sfn",
  lambda: "Lambda",
  dynamodb: "DynamoDb",
  eventbridge: "EventBridge",
  sqs: "Sqs",
  sns: "Sns",
};

function sdkFailure(service: string, thrown: unknown): StatesError {
  const prefix = SERVICE_ERROR_PREFIX[service] ?? `${service[0]?.toUpperCase()}${service.slice(1)}`;
  const error = thrown instanceof Error ? thrown : new Error(String(thrown));
  const name = error.name && error.name !== "Error" ? error.name : "UnknownError";
  return new StatesError(name.startsWith(`${prefix}.`) ? name : `${prefix}.${name}`, error.message);
}

/** The event names one task family writes (bare Lambda ARNs use the LambdaFunction* events). */
export function taskEvents(family: ParsedResource["family"]) {
  if (family === "lambda-function") {
    return {
      scheduled: "LambdaFunctionScheduled",
      started: "LambdaFunctionStarted",
      succeeded: "LambdaFunctionSucceeded",
      failed: "LambdaFunctionFailed",
      timedOut: "LambdaFunctionTimedOut",
    };
  }
  return {
    scheduled: "TaskScheduled",
    started: "TaskStarted",
    succeeded: "TaskSucceeded",
    failed: "TaskFailed",
    timedOut: "TaskTimedOut",
  };
}

function toJson(value: unknown): unknown {
  return value === undefined ? null : JSON.parse(JSON.stringify(value));
}

/**
 * Performs a task's request (and, for callbacks and `.sync`, its submission) for one attempt. An
 * in-flight call cannot be cancelled: the attempt's race (runtime.ts) stops waiting for it once the
 * execution is stopped or timed out, and its late result is dropped.
 */
export async function callResource(
  resource: ParsedResource,
  params: unknown,
  services: RunServices,
): Promise<unknown> {
  switch (resource.family) {
    case "lambda-function":
      try {
        // The invoker's result is already a JSON copy the execution owns (LambdaInvoker).
        return (await services.invoker.invoke(resource.functionArn as string, params)) ?? null;
      } catch (error) {
        if (error instanceof Interrupted) throw error;
        throw lambdaFailure(error);
      }
    case "lambda-invoke": {
      const p = (params ?? {}) as { FunctionName?: unknown; Payload?: unknown };
      if (typeof p.FunctionName !== "string") {
        throw new StatesError("States.Runtime", "lambda:invoke needs Parameters.FunctionName");
      }
      try {
        const payload = await services.invoker.invoke(p.FunctionName, p.Payload ?? {});
        return { ExecutedVersion: "$LATEST", Payload: payload ?? null, StatusCode: 200 };
      } catch (error) {
        if (error instanceof Interrupted) throw error;
        throw lambdaFailure(error);
      }
    }
    case "start-execution": {
      const p = (params ?? {}) as { StateMachineArn?: unknown; Name?: unknown; Input?: unknown };
      if (typeof p.StateMachineArn !== "string") {
        throw new StatesError("States.Runtime", "states:startExecution needs Parameters.StateMachineArn");
      }
      const input =
        p.Input === undefined ? "{}" : typeof p.Input === "string" ? p.Input : JSON.stringify(p.Input);
      try {
        const child = await services.startChild({
          stateMachineArn: p.StateMachineArn,
          ...(typeof p.Name === "string" ? { name: p.Name } : {}),
          input,
        });
        return { ExecutionArn: child.executionArn, StartDate: child.startDate };
      } catch (error) {
        if (error instanceof Interrupted) throw error;
        const code = (error as { code?: string }).code ?? (error as Error).name;
        throw new StatesError(
          `StepFunctions.${code}Exception`.replace(/ExceptionException$/, "Exception"),
          (error as Error).message,
        );
      }
    }
    case "sdk": {
      if (!services.sdk) {
        throw new StatesError(
          "States.Runtime",
          `No SDK integration is configured for ${resource.resourceType}`,
        );
      }
      try {
        return toJson(await services.sdk(resource.service as string, resource.action as string, params));
      } catch (error) {
        if (error instanceof Interrupted) throw error;
        throw sdkFailure(resource.service as string, error);
      }
    }
  }
}
/** `.sync`/`.sync:2`: waits for the child and shapes its outcome like DescribeExecution. */
export async function childResult(
  resource: ParsedResource,
  response: unknown,
  services: RunServices,
  signal: AbortSignal,
): Promise<unknown> {
  const arn = (response as { ExecutionArn?: string }).ExecutionArn as string;
  const child = await services.waitForChild(arn, signal);
  const parse =
    resource.pattern === "sync2"
      ? (text?: string) => (text === undefined ? null : JSON.parse(text))
      : (text?: string) => text ?? null;
  const described = {
    ExecutionArn: child.executionArn,
    Input: parse(child.input),
    InputDetails: { Included: true },
    Name: child.name,
    Output: parse(child.output),
    OutputDetails: { Included: true },
    StartDate: child.startDate,
    StateMachineArn: child.stateMachineArn,
    Status: child.status,
    StopDate: child.stopDate,
  };
  if (child.status !== "SUCCEEDED") {
    throw new StatesError("States.TaskFailed", JSON.stringify(described));
  }
  return described;
}
