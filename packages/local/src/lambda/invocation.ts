/**
 * One Lambda invocation as the local Lambda service hands it to a runtime (in-process for tests,
 * or a sandbox thread): the event and the context, and how a handler is called with them.
 */
import type { Context } from "aws-lambda";

export type Handler = (event: unknown, context: Context) => Promise<unknown>;

/** What an invocation carries besides the event: the context, with the deadline in epoch ms. */
export interface Invocation {
  handlerFile: string;
  event: unknown;
  context: Omit<Context, "getRemainingTimeInMillis" | "done" | "fail" | "succeed"> & { deadline: number };
}

/** Calls `handler` as Lambda does and returns its result through JSON (undefined becomes null). */
export async function callHandler(handler: Handler, { event, context }: Invocation): Promise<unknown> {
  const { deadline, ...fields } = context;
  const result = await handler(event, {
    ...fields,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  });
  return result === undefined ? null : JSON.parse(JSON.stringify(result));
}
