/**
 * The A2I runtime wire API (restJson1, `sagemaker-a2i-runtime` 2019-11-07): the five human-loop
 * operations routed by method and path, ISO-8601 timestamps, errors in `X-Amzn-Errortype`.
 */
import type { Clock, ServiceHandler } from "../contracts";
import { readJson, ServiceError, sendJson, sendRestJsonError, toServiceError } from "../edge/protocol";
import type { HumanLoops } from "./loops";
import {
  HumanLoopNameRequest,
  ListHumanLoopsRequest,
  MAX_INPUT_CONTENT_CHARS,
  parseRequest,
  StartHumanLoopRequest,
} from "./schemas";

/** A token bucket: `ratePerSecond` requests per second on average, bursts up to `burst`. */
export class RequestRateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    private readonly clock: Clock,
    private readonly ratePerSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
    this.last = clock.now().getTime();
  }

  /** Takes one token, or throws ThrottlingException (429) when none is left. */
  take(): void {
    if (!Number.isFinite(this.ratePerSecond)) return;
    const now = this.clock.now().getTime();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
    if (this.tokens < 1) {
      throw new ServiceError(
        "ThrottlingException",
        "Rate exceeded: too many requests to the local A2I.",
        429,
      );
    }
    this.tokens -= 1;
  }
}

// InputContent may hold 3 MiB of characters, each up to 6 bytes once JSON-escaped in the body.
const START_BODY_LIMIT = MAX_INPUT_CONTENT_CHARS * 6 + 64 * 1024;

function parseTimestamp(value: string | null, name: string): Date | undefined {
  if (value === null) return undefined;
  // The SDK sends ISO-8601; a bare number is accepted as epoch seconds like other AWS query parsers.
  const date = /^\d+(\.\d+)?$/.test(value) ? new Date(Number(value) * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new ServiceError("ValidationException", `${name} '${value}' is not an ISO-8601 timestamp.`);
  }
  return date;
}

function parseInteger(value: string | null, name: string): number | undefined {
  if (value === null) return undefined;
  if (!/^-?\d+$/.test(value))
    throw new ServiceError("ValidationException", `${name} '${value}' is not an integer.`);
  return Number(value);
}

function listRequest(url: URL) {
  const q = url.searchParams;
  const optional = (key: string) => q.get(key) ?? undefined;
  return parseRequest(ListHumanLoopsRequest, {
    FlowDefinitionArn: optional("FlowDefinitionArn"),
    CreationTimeAfter: parseTimestamp(q.get("CreationTimeAfter"), "CreationTimeAfter"),
    CreationTimeBefore: parseTimestamp(q.get("CreationTimeBefore"), "CreationTimeBefore"),
    SortOrder: optional("SortOrder"),
    NextToken: optional("NextToken"),
    MaxResults: parseInteger(q.get("MaxResults"), "MaxResults"),
  });
}

function loopNameFromPath(path: string): string {
  try {
    return decodeURIComponent(path.slice("/human-loops/".length));
  } catch {
    throw new ServiceError("ValidationException", "HumanLoopName in the path is not valid URL encoding.");
  }
}

const sendOk = (res: Parameters<ServiceHandler>[1], body: unknown) =>
  sendJson(res, 200, body, "application/json");

/** Builds the restJson1 handler the edge calls for every `/human-loops…` request. */
export function createRuntimeHandler(loops: HumanLoops, limiter: RequestRateLimiter): ServiceHandler {
  return async (req, res, url) => {
    try {
      limiter.take();
      const path = url.pathname.replace(/\/+$/, "");
      const method = req.method ?? "GET";
      if (path === "/human-loops" && method === "POST") {
        const request = parseRequest(StartHumanLoopRequest, await readJson(req, START_BODY_LIMIT));
        sendOk(res, { HumanLoopArn: await loops.start(request) });
      } else if (path === "/human-loops/stop" && method === "POST") {
        const { HumanLoopName } = parseRequest(HumanLoopNameRequest, await readJson(req));
        await loops.stop(HumanLoopName);
        sendOk(res, {});
      } else if (path === "/human-loops" && method === "GET") {
        sendOk(res, await loops.list(listRequest(url)));
      } else if (path.startsWith("/human-loops/") && method === "GET") {
        const { HumanLoopName } = parseRequest(HumanLoopNameRequest, {
          HumanLoopName: loopNameFromPath(path),
        });
        sendOk(res, await loops.describe(HumanLoopName));
      } else if (path.startsWith("/human-loops/") && method === "DELETE") {
        const { HumanLoopName } = parseRequest(HumanLoopNameRequest, {
          HumanLoopName: loopNameFromPath(path),
        });
        await loops.delete(HumanLoopName);
        // DeleteHumanLoop answers 200 with an empty body.
        sendJson(res, 200, undefined, "application/json");
      } else {
        throw new ServiceError(
          "UnknownOperationException",
          `No A2I runtime operation for ${method} ${path}`,
          404,
        );
      }
    } catch (error) {
      const serviceError = toServiceError(error);
      // A2I names its 500 InternalServerException.
      const named =
        serviceError.status === 500 && serviceError.code === "InternalServerError"
          ? new ServiceError("InternalServerException", serviceError.message, 500)
          : serviceError;
      sendRestJsonError(res, named);
    }
  };
}
