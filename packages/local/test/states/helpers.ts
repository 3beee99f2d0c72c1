/** Fixtures shared by the engine tests: a temp data dir, a scripted Lambda, and waiting helpers. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LambdaInvoker } from "../../src/contracts";
import { createStatesEngine, type StatesEngine, type StatesEngineOptions } from "../../src/states/engine";

export type FunctionBody = (payload: unknown) => unknown | Promise<unknown>;

/** A LambdaInvoker whose functions are test closures, recording every call. */
export function fakeLambda(functions: Record<string, FunctionBody> = {}) {
  const calls: { name: string; payload: unknown }[] = [];
  const invoker: LambdaInvoker = {
    async invoke(functionArnOrName, payload) {
      const name = functionArnOrName.split(":").at(-1) as string;
      calls.push({ name, payload });
      const body = functions[name];
      if (!body) throw Object.assign(new Error(`No function ${name}`), { name: "ResourceNotFoundException" });
      return body(payload);
    },
  };
  return { invoker, calls, functions };
}

/** A named error as a Lambda handler throws it (`name` is Lambda's errorType). */
export function namedError(name: string, message = `${name} happened`): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

export const functionArn = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;

export interface Harness {
  engine: StatesEngine;
  dataDir: string;
  lambda: ReturnType<typeof fakeLambda>;
  cleanup(): Promise<void>;
}

/** Creates an engine over a fresh temp dir (or the given one) with a fast clock scale. */
export async function startEngine(
  functions: Record<string, FunctionBody> = {},
  options: Partial<StatesEngineOptions> = {},
): Promise<Harness> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "secondlook-states-")));
  const lambda = fakeLambda(functions);
  const engine = await createStatesEngine({ invoker: lambda.invoker, timeScale: 0.001, ...options, dataDir });
  return {
    engine,
    dataDir,
    lambda,
    async cleanup() {
      await engine.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Creates a machine from a definition object and starts one execution of it. */
export async function run(
  engine: StatesEngine,
  definition: object,
  input: unknown = {},
  name = "machine",
): Promise<string> {
  const { stateMachineArn } = await engine.createStateMachine({
    name,
    definition: JSON.stringify(definition),
  });
  const { executionArn } = await engine.startExecution({ stateMachineArn, input: JSON.stringify(input) });
  return executionArn;
}

/** Resolves when the predicate holds for the execution's status (checked on every change). */
export function waitFor(
  engine: StatesEngine,
  executionArn: string,
  predicate: (status: string) => boolean = (status) => status !== "RUNNING",
  timeoutMs = 10_000,
): Promise<Awaited<ReturnType<StatesEngine["describeExecution"]>>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`Timed out waiting for ${executionArn}`));
    }, timeoutMs);
    const check = async () => {
      const described = await engine.describeExecution(executionArn);
      if (predicate(described.status)) {
        clearTimeout(timer);
        stop();
        resolve(described);
      }
    };
    const stop = engine.onExecutionChange((arn) => {
      if (arn === executionArn) void check();
    });
    void check();
  });
}

/** Resolves with the first history event of a type once it is recorded. */
export async function waitForEvent(
  engine: StatesEngine,
  executionArn: string,
  type: string,
  timeoutMs = 10_000,
) {
  const find = async () =>
    (await engine.getExecutionHistory({ executionArn, maxResults: 1000 })).events.find(
      (e) => e.type === type,
    );
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const event = await find();
    if (event) return event;
    if (Date.now() > deadline) throw new Error(`No ${type} event in ${executionArn}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The history's event types in order. */
export async function eventTypes(engine: StatesEngine, executionArn: string): Promise<string[]> {
  return (await engine.getExecutionHistory({ executionArn, maxResults: 1000 })).events.map((e) => e.type);
}

/** Runs a definition to completion and returns the description. */
export async function runToEnd(
  engine: StatesEngine,
  definition: object,
  input: unknown = {},
  name = "machine",
) {
  const executionArn = await run(engine, definition, input, name);
  return { executionArn, result: await waitFor(engine, executionArn) };
}

/** The task token a fake function received in its payload (under `key`). */
export function tokenIn(payload: unknown, key = "token"): string {
  const token = (payload as Record<string, unknown> | undefined)?.[key];
  if (typeof token !== "string") throw new Error(`No ${key} in ${JSON.stringify(payload)}`);
  return token;
}
