/**
 * The local Lambda service: runs the handlers of packages/functions in this process, with the
 * event and context shapes Lambda gives them, so the code that runs on AWS runs here unchanged.
 */
import { randomUUID } from "node:crypto";
import { type FunctionKey, Functions } from "@secondlook/core/blueprint";
import type { Context } from "aws-lambda";
import { type LambdaInvoker, LOCAL_ACCOUNT, LOCAL_REGION } from "../contracts";

type Handler = (event: unknown, context: Context) => Promise<unknown>;

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

const importHandler: HandlerLoader = async (handlerFile) => {
  const module = (await import(`@secondlook/functions/handlers/${handlerFile}`)) as { handler?: Handler };
  if (typeof module.handler !== "function") {
    throw new FunctionNotFoundError(`packages/functions/src/handlers/${handlerFile}.ts exports no handler`);
  }
  return module.handler;
};

export interface LocalLambda extends LambdaInvoker {
  /** Every function's ARN by blueprint key, for definition substitutions and rules. */
  arns: Record<FunctionKey, string>;
}

/** Creates the in-process Lambda service for one stage; `load` is replaceable for tests. */
export function createLocalLambda(options: {
  stage: string;
  load?: HandlerLoader;
  timeoutMs?: number;
}): LocalLambda {
  const load = options.load ?? importHandler;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const keys = Object.keys(Functions) as FunctionKey[];
  const byName = new Map<string, FunctionKey>();
  for (const key of keys) {
    byName.set(functionName(options.stage, key), key);
    byName.set(functionArn(options.stage, key), key);
  }
  const loaded = new Map<FunctionKey, Promise<Handler>>();

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
      let handler = loaded.get(key);
      if (!handler) {
        handler = load(Functions[key].handler);
        loaded.set(key, handler);
        // A module that failed to load is retried on the next invocation, as a new Lambda sandbox would.
        handler.catch(() => loaded.delete(key));
      }
      const run = await handler;
      const deadline = Date.now() + timeoutMs;
      const name = functionName(options.stage, key);
      const context: Context = {
        callbackWaitsForEmptyEventLoop: false,
        functionName: name,
        functionVersion: "$LATEST",
        invokedFunctionArn: functionArn(options.stage, key),
        memoryLimitInMB: "1024",
        awsRequestId: randomUUID(),
        logGroupName: `/aws/lambda/${name}`,
        logStreamName: `local/${randomUUID()}`,
        getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
        done: () => undefined,
        fail: () => undefined,
        succeed: () => undefined,
      };
      // Lambda passes the event through JSON: the handler never shares objects with its caller.
      const event = JSON.parse(JSON.stringify(payload ?? {}));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new FunctionTimeoutError(`Task timed out after ${timeoutMs / 1000} seconds`)),
          timeoutMs,
        );
      });
      try {
        const result = await Promise.race([run(event, context), timeout]);
        return result === undefined ? null : JSON.parse(JSON.stringify(result));
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
