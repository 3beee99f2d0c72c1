/**
 * A Lambda sandbox: a worker thread that loads the handlers of packages/functions and runs their
 * invocations, with their AWS SDK clients and settings cache, off the local cloud's main thread.
 * Like a Lambda execution environment it keeps a handler's module (and so its clients) loaded
 * between invocations. Started by invoker.ts through sandbox-entry.mjs (or the bundle of that name).
 */
import { serveRequests } from "../workers";
import { HANDLER_MODULES } from "./handlers";
import { callHandler, type Handler, type Invocation } from "./invocation";

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

serveRequests<Invocation>(async (invocation) =>
  callHandler(await handlerOf(invocation.handlerFile), invocation),
);
