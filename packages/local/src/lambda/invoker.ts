/**
 * The local Lambda service: runs the handlers of packages/functions in sandboxes (worker threads of
 * this process, sandbox.ts), with the event and context shapes Lambda gives them, so the code that
 * runs on AWS runs here unchanged.
 */
import { randomUUID } from "node:crypto";
import { availableParallelism } from "node:os";
import { type FunctionKey, Functions } from "@secondlook/core/blueprint";
import { type LambdaInvoker, LOCAL_ACCOUNT, LOCAL_REGION } from "../contracts";
import { WorkerPool, WorkerStoppedError } from "../workers";
import { callHandler, type Handler, type Invocation } from "./invocation";

/** Lambda's default timeout for our functions; a handler running longer fails like Lambda's. */
const DEFAULT_TIMEOUT_MS = 60_000;

export class FunctionNotFoundError extends Error {
  override name = "Lambda.ResourceNotFoundException";
}

/** Lambda reports a handler that ran out of time as `Sandbox.Timedout`. */
export class FunctionTimeoutError extends Error {
  override name = "Sandbox.Timedout";
}

/** The local function name of a handler, as it appears in ARNs and in the console. */
export const functionName = (stage: string, key: FunctionKey) =>
  `secondlook-${stage}-${Functions[key].handler}`;

export const functionArn = (stage: string, key: FunctionKey) =>
  `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${functionName(stage, key)}`;

/** Loads a handler module the way Lambda's runtime does: once, then reused for every invocation. */
export type HandlerLoader = (handlerFile: string) => Promise<Handler>;

/** Lambda's error when the runtime process of a sandbox exited in the middle of an invocation. */
export class RuntimeExitError extends Error {
  override name = "Runtime.ExitError";
}

/**
 * Sandboxes: one per spare core, at most two, like the detector's workers (rekognition/pool.ts).
 * The main thread serves every request and runs the engine; the handlers' SDK clients (signing,
 * serialising, their HTTP requests) are a large share of each image's work.
 */
export const LAMBDA_SANDBOXES = Math.max(1, Math.min(2, availableParallelism() - 1));
const SANDBOX_YOUNG_GENERATION_MB = 12;

export interface LocalLambda extends LambdaInvoker {
  /** Every function's ARN by blueprint key, for definition substitutions and rules. */
  arns: Record<FunctionKey, string>;
  /** Stops the sandboxes; an invocation still running fails. */
  close(): Promise<void>;
}

export interface LocalLambdaOptions {
  stage: string;
  /** Runs handlers in this thread, loaded by `load` (tests); by default they run in sandboxes. */
  load?: HandlerLoader;
  /** How many sandboxes (default LAMBDA_SANDBOXES) and their worker module (tests). */
  sandboxes?: { size?: number; entry?: URL };
  timeoutMs?: number;
}

/** The Lambda service of one stage: the handlers of packages/functions, in sandboxes or in-process. */
export function createLocalLambda(options: LocalLambdaOptions): LocalLambda {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const keys = Object.keys(Functions) as FunctionKey[];
  const byName = new Map<string, FunctionKey>();
  for (const key of keys) {
    byName.set(functionName(options.stage, key), key);
    byName.set(functionArn(options.stage, key), key);
  }
  const run = options.load ? inProcess(options.load) : inSandboxes(options.sandboxes);

  const resolve = (nameOrArn: string): FunctionKey => {
    // Lambda accepts a qualified ARN or name (`…:$LATEST`); the local functions have one version.
    const unqualified = nameOrArn.replace(/:(\$LATEST|\d+)$/, "");
    const key = byName.get(unqualified);
    if (!key) throw new FunctionNotFoundError(`Function not found: ${nameOrArn}`);
    return key;
  };

  return {
    arns: Object.fromEntries(keys.map((key) => [key, functionArn(options.stage, key)])) as Record<
      FunctionKey,
      string
    >,
    async invoke(nameOrArn, payload) {
      const key = resolve(nameOrArn);
      const name = functionName(options.stage, key);
      const invocation: Invocation = {
        handlerFile: Functions[key].handler,
        // Lambda passes the event through JSON: the handler never shares objects with its caller.
        event: JSON.parse(JSON.stringify(payload ?? {})),
        context: {
          callbackWaitsForEmptyEventLoop: false,
          functionName: name,
          functionVersion: "$LATEST",
          invokedFunctionArn: functionArn(options.stage, key),
          memoryLimitInMB: "1024",
          awsRequestId: randomUUID(),
          logGroupName: `/aws/lambda/${name}`,
          logStreamName: `local/${randomUUID()}`,
          deadline: Date.now() + timeoutMs,
        },
      };
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new FunctionTimeoutError(`Task timed out after ${timeoutMs / 1000} seconds`)),
          timeoutMs,
        );
      });
      try {
        return await Promise.race([run.invoke(invocation), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => run.close(),
  };
}

interface Runtime {
  /** Runs one invocation; resolves with its result as a JSON copy. */
  invoke(invocation: Invocation): Promise<unknown>;
  close(): Promise<void>;
}

/** Handlers in this thread, each module loaded once. */
function inProcess(load: HandlerLoader): Runtime {
  const loaded = new Map<string, Promise<Handler>>();
  return {
    async invoke(invocation) {
      const { handlerFile } = invocation;
      let handler = loaded.get(handlerFile);
      if (!handler) {
        handler = load(handlerFile);
        loaded.set(handlerFile, handler);
        // A module that failed to load is retried on the next invocation, as a new Lambda sandbox would.
        handler.catch(() => loaded.delete(handlerFile));
      }
      return callHandler(await handler, invocation);
    },
    async close() {},
  };
}

/** Handlers in worker threads (sandbox.ts); a handler's error comes back with its name and stack. */
function inSandboxes(options: { size?: number; entry?: URL } = {}): Runtime {
  const pool = new WorkerPool({
    what: "Lambda service",
    size: options.size ?? LAMBDA_SANDBOXES,
    // Beside this module in the sources (a stand-in that loads sandbox.ts) and in the bundle.
    entry: options.entry ?? new URL("./sandbox-entry.mjs", import.meta.url),
    // Handlers mostly wait on the SDK's requests: a young generation smaller than V8's default
    // (16 MB semi-spaces) costs them a few more collections and saves the local cloud about 30 MB.
    resourceLimits: { maxYoungGenerationSizeMb: SANDBOX_YOUNG_GENERATION_MB },
  });
  return {
    async invoke(invocation) {
      try {
        return await pool.request({ ...invocation });
      } catch (error) {
        if (error instanceof WorkerStoppedError) throw new RuntimeExitError(error.message);
        if ((error as Error).name === "Runtime.HandlerNotFound") {
          throw new FunctionNotFoundError((error as Error).message);
        }
        throw error;
      }
    },
    close: () => pool.close(),
  };
}
