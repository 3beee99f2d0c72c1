/**
 * The executions console, mounted on the reviewer portal's port under `/console` so it shares the
 * portal's sign-in, sessions, CSRF check and security headers. It reads the running local cloud
 * (see data.ts) and pushes changes to open pages with Server-Sent Events.
 */
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { StateMachines } from "@secondlook/core/blueprint";
import { InvalidSettingsError } from "@secondlook/core/errors";
import { Settings } from "@secondlook/core/settings";
import { z } from "zod";
import { ServiceError } from "../edge/protocol";
import { localSource } from "../paths";
import { CSP_FILE, readForm, redirect, send, sendHtml } from "../portal/http";
import type { MountContext, MountedHandler } from "../portal/portal";
import { isSafeKey } from "../portal/signed-urls";
import type { ExecutionStatus } from "../states/engine";
import { type ConsoleSources, createConsoleData, EXECUTION_STATUSES, type MachineKey } from "./data";
import { renderGraph, stateStatuses, transitions } from "./graph";
import { computeHealth, type LoopInput } from "./health";
import {
  BASE,
  consoleMessage,
  executionPage,
  executionsPage,
  healthPage,
  loopPage,
  loopsPage,
  modelsPage,
  outcomePage,
  settingsPage,
} from "./pages";

export interface ConsoleOptions extends ConsoleSources {
  clock?: { now(): Date };
}

export interface Console {
  /** Mount this on the portal under `/console`. */
  handler: MountedHandler;
  /** Ends the open live-update streams (the portal's close would otherwise wait for them). */
  close(): void;
}

const STATIC_FILES: Record<string, string> = {
  "console.css": "text/css; charset=utf-8",
  "console.js": "application/javascript; charset=utf-8",
};

const LOOP_NAME = /^[a-z0-9](-*[a-z0-9]){0,62}$/;
const MAX_STREAMS = 100;
const DEFAULT_PAGE_SIZE = 25;
const MAX_PAGE_SIZE = 100;
const KEEPALIVE_MS = 20_000;
const LoopInputSchema = z.object({ reason: z.string(), detectedLabel: z.string().nullable() });

/** A request the console cannot answer as asked (bad filter, bad name); shown as 400. */
export class ConsoleRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConsoleRequestError";
  }
}

const NOT_FOUND = new Set([
  "ExecutionDoesNotExist",
  "InvalidArn",
  "ResourceNotFound",
  "ResourceNotFoundException",
]);

function imageType(key: string): string {
  const ext = key.toLowerCase().split(".").pop() ?? "";
  const types: Record<string, string> = {
    png: "image/png",
    jpg: "image/jpeg",
    jpeg: "image/jpeg",
    gif: "image/gif",
    webp: "image/webp",
  };
  return types[ext] ?? "application/octet-stream";
}

/** Builds the console over a running local cloud's services. */
export async function createConsole(options: ConsoleOptions): Promise<Console> {
  const data = createConsoleData(options);
  const clock = options.clock ?? { now: () => new Date() };
  const statics = new Map<string, { body: Buffer; type: string }>();
  for (const [name, type] of Object.entries(STATIC_FILES)) {
    statics.set(name, { body: await readFile(localSource("console", "static", name)), type });
  }
  const streams = new Set<ServerResponse>();

  const machineOf = (value: string | null): MachineKey => {
    if (value === null || value === "") return "reviewImage";
    if (value in StateMachines) return value as MachineKey;
    throw new ConsoleRequestError(`There is no state machine called ${JSON.stringify(value)}.`);
  };
  const statusOf = (value: string | null): ExecutionStatus | undefined => {
    if (value === null || value === "") return undefined;
    if ((EXECUTION_STATUSES as readonly string[]).includes(value)) return value as ExecutionStatus;
    throw new ConsoleRequestError(`Status must be one of ${EXECUTION_STATUSES.join(", ")}.`);
  };

  const sizeOf = (value: string | null): number => {
    if (value === null || value === "") return DEFAULT_PAGE_SIZE;
    const size = Number(value);
    if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
      throw new ConsoleRequestError(`Page size must be a whole number from 1 to ${MAX_PAGE_SIZE}.`);
    }
    return size;
  };

  async function executions(res: ServerResponse, ctx: MountContext) {
    const machine = machineOf(ctx.url.searchParams.get("machine"));
    const status = statusOf(ctx.url.searchParams.get("status"));
    const pageSize = sizeOf(ctx.url.searchParams.get("size"));
    const mapRunArn = ctx.url.searchParams.get("mapRun") || undefined;
    const page = await data.listExecutions({
      machine,
      mapRunArn,
      status,
      pageSize,
      nextToken: ctx.url.searchParams.get("next") ?? undefined,
    });
    sendHtml(
      res,
      200,
      executionsPage(ctx.session, {
        machine,
        mapRunArn,
        status,
        pageSize,
        executions: page.executions,
        nextToken: page.nextToken,
        now: clock.now(),
      }),
    );
  }

  async function execution(res: ServerResponse, ctx: MountContext, arn: string) {
    const view = await data.execution(arn);
    const { states } = transitions(view.definition);
    const statuses = stateStatuses(states, view.events, view.description.status);
    const graph = await renderGraph(view.definition, statuses);
    sendHtml(res, 200, executionPage(ctx.session, view, graph, statuses, clock.now()));
  }

  /** Server-Sent Events: one "change" per engine change (of one execution, or of any). */
  function stream(req: IncomingMessage, res: ServerResponse, ctx: MountContext) {
    if (streams.size >= MAX_STREAMS) throw new ServiceError("TooManyStreams", "Too many open pages.", 503);
    const only = ctx.url.searchParams.get("execution") ?? undefined;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      connection: "keep-alive",
    });
    res.write("retry: 2000\n\n");
    streams.add(res);
    const unsubscribe = options.states.onExecutionChange((arn, status) => {
      if (only && arn !== only) return;
      res.write(`event: change\ndata: ${JSON.stringify({ executionArn: arn, status })}\n\n`);
    });
    const keepalive = setInterval(() => res.write(": keepalive\n\n"), KEEPALIVE_MS);
    const end = () => {
      clearInterval(keepalive);
      unsubscribe();
      streams.delete(res);
    };
    req.on("close", end);
    res.on("close", end);
  }

  async function image(res: ServerResponse, ctx: MountContext) {
    const key = ctx.url.searchParams.get("key") ?? "";
    if (!isSafeKey(key)) throw new ConsoleRequestError("That is not a valid object key.");
    if (!(await options.objects.head(options.bucket, key))) {
      return send(res, 404, "No such object.", "text/plain; charset=utf-8", { csp: CSP_FILE });
    }
    const bytes = await options.objects.get(options.bucket, key);
    send(res, 200, bytes, imageType(key), {
      csp: CSP_FILE,
      headers: { "cache-control": "private, max-age=300" },
    });
  }

  /** What a reviewed image's loop was asked: the reason (sampling = audit) and the model's label. */
  async function loopInput(loopName: string): Promise<LoopInput | undefined> {
    try {
      const loop = await data.loop(loopName);
      const parsed = LoopInputSchema.safeParse(loop.output?.inputContent);
      return parsed.success ? parsed.data : undefined;
    } catch (error) {
      if (NOT_FOUND.has((error as Error).name)) return undefined;
      throw error;
    }
  }

  async function settings(req: IncomingMessage, res: ServerResponse, ctx: MountContext) {
    if (req.method !== "POST") {
      const notice = ctx.url.searchParams.get("saved");
      return sendHtml(
        res,
        200,
        settingsPage(ctx.session, await data.settingsParameters(), {
          notice: notice === null ? undefined : notice === "" ? "Nothing changed." : `Saved: ${notice}.`,
        }),
      );
    }
    const form = await readForm(req);
    if (!ctx.csrfOk(form)) {
      return sendHtml(
        res,
        403,
        consoleMessage(
          ctx.session,
          "Request refused",
          "This request did not come from a console page you have open. Reload the page and try again.",
        ),
      );
    }
    const submitted: Record<string, string> = {};
    for (const key of Settings.keys) {
      const name = Settings.parameterName(key);
      submitted[name] = form.get(name) ?? "";
    }
    try {
      const changed = await data.saveSettings(submitted);
      redirect(res, `${BASE}/settings?saved=${encodeURIComponent(changed.join(", "))}`);
    } catch (error) {
      if (!(error instanceof InvalidSettingsError)) throw error;
      sendHtml(res, 400, settingsPage(ctx.session, submitted, { error: error.message }));
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse, ctx: MountContext) {
    const path = ctx.path.slice(BASE.length) || "/";
    const isGet = req.method === "GET" || req.method === "HEAD";
    const segment = (prefix: string) => {
      if (!path.startsWith(prefix)) return undefined;
      const rest = path.slice(prefix.length);
      if (rest === "" || rest.includes("/")) return undefined;
      try {
        return decodeURIComponent(rest);
      } catch {
        throw new ConsoleRequestError("That address is not valid.");
      }
    };
    if (path === "/static/console.css" || path === "/static/console.js") {
      const found = statics.get(path.slice("/static/".length));
      if (found && isGet)
        return send(res, 200, found.body, found.type, { headers: { "cache-control": "no-cache" } });
    }
    if (path === "/settings" && (isGet || req.method === "POST")) return settings(req, res, ctx);
    if (!isGet) return notFound(res, ctx);
    if (path === "/" || path === "") return redirect(res, `${BASE}/executions`);
    if (path === "/executions") return executions(res, ctx);
    if (path === "/stream") return stream(req, res, ctx);
    if (path === "/image") return image(res, ctx);
    if (path === "/loops") {
      const page = await data.loops(ctx.url.searchParams.get("next") ?? undefined, 20);
      return sendHtml(res, 200, loopsPage(ctx.session, page.loops, page.nextToken));
    }
    if (path === "/models") return sendHtml(res, 200, modelsPage(ctx.session, await data.models()));
    if (path === "/health") {
      const health = await computeHealth(options.objects, options.bucket, loopInput, clock.now());
      return sendHtml(res, 200, healthPage(ctx.session, health));
    }
    const arn = segment("/executions/");
    if (arn !== undefined) return execution(res, ctx, arn);
    const loop = segment("/loops/");
    if (loop !== undefined) {
      if (!LOOP_NAME.test(loop)) return notFound(res, ctx);
      return sendHtml(res, 200, loopPage(ctx.session, await data.loop(loop)));
    }
    const outcome = segment("/outcomes/");
    if (outcome !== undefined) {
      const record = await data.outcome(outcome);
      if (!record) return notFound(res, ctx);
      return sendHtml(res, 200, outcomePage(ctx.session, outcome, record));
    }
    return notFound(res, ctx);
  }

  function notFound(res: ServerResponse, ctx: MountContext) {
    sendHtml(res, 404, consoleMessage(ctx.session, "Not found", "There is nothing here."));
  }

  const handler: MountedHandler = async (req, res, ctx) => {
    try {
      await route(req, res, ctx);
    } catch (error) {
      const name = error instanceof ServiceError ? error.code : (error as Error).name;
      if (NOT_FOUND.has(name)) return notFound(res, ctx);
      if (error instanceof ConsoleRequestError) {
        return sendHtml(res, 400, consoleMessage(ctx.session, "Bad request", error.message));
      }
      // Anything else is ours: the portal logs it and answers a generic 500.
      throw error;
    }
  };

  return {
    handler,
    close() {
      for (const res of streams) res.end();
      streams.clear();
    },
  };
}
