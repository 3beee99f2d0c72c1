/**
 * A Lambda sandbox: a worker thread that loads the handlers of packages/functions and runs their
 * invocations, with their AWS SDK clients and settings cache, off the local cloud's main thread.
 * Like a Lambda execution environment it keeps a handler's module (and so its clients) loaded
 * between invocations. Started by invoker.ts through sandbox-entry.mjs (or the bundle of that name).
 */
import type { Context } from "aws-lambda";
import { type Request, serveRequests } from "../workers";
import { HANDLER_MODULES } from "./handlers";

type Handler = (event: unknown, context: Context) => Promise<unknown>;

/** What an invocation carries besides the event: the context, with the deadline in epoch ms. */
export interface Invocation {
  handlerFile: string;
  event: unknown;
  context: Omit<Context, "getRemainingTimeInMillis" | "done" | "fail" | "succeed"> & { deadline: number };
}

const handlers = new Map<string, Promise<Handler>>();

async function handlerOf(file: string): Promise<Handler> {
  let handler = handlers.get(file);
  if (!handler) {
    const load = HANDLER_MODULES[file];
    if (!load)
      throw Object.assign(new Error(`No handler module ${file}`), { name: "Runtime.HandlerNotFound" });
    handler = load().then((module) => {
      if (typeof module.handler !== "function") {
        throw Object.assign(new Error(`${file} exports no handler`), { name: "Runtime.HandlerNotFound" });
      }
      return module.handler as Handler;
    });
    handlers.set(file, handler);
    // A module that failed to load is loaded again by the next invocation, as a new sandbox would.
    handler.catch(() => handlers.delete(file));
  }
  return handler;
}

serveRequests<Invocation>(async ({ handlerFile, event, context }) => {
  const handler = await handlerOf(handlerFile);
  const { deadline, ...fields } = context;
  const result = await handler(event, {
    ...fields,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  });
  // Lambda returns the result through JSON: undefined becomes null, dates become strings.
  return result === undefined ? null : JSON.parse(JSON.stringify(result));
});
