/**
 * The AWS edge: one HTTP listener that every SDK client of the local cloud points at
 * (`AWS_ENDPOINT_URL`). It routes by `X-Amz-Target` for the JSON protocols, by path for the A2I
 * runtime, and sends everything else to S3, answering errors in the caller's protocol.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { sendQueryError } from "../cloudformation/cloudformation";
import type { ServiceHandler } from "../contracts";
import { sendS3Error } from "../s3/xml";
import { ServiceError, sendAwsJsonError, sendJson, sendRestJsonError, toServiceError } from "./protocol";

export interface EdgeServices {
  s3?: ServiceHandler;
  states?: ServiceHandler;
  a2iRuntime?: ServiceHandler;
  sagemaker?: ServiceHandler;
  rekognition?: ServiceHandler;
  ssm?: ServiceHandler;
  cloudformation?: ServiceHandler;
}

export interface EdgeServerOptions {
  host?: string;
  /** 0 picks a free port (tests). */
  port: number;
  services: EdgeServices;
  /** Test-only fault injection; absent (the default) means every request reaches its service. */
  faults?: EdgeFaults;
}

/** The listening edge. */
export interface EdgeServer {
  server: Server;
  /** `http://127.0.0.1:<port>`: the value for AWS_ENDPOINT_URL. */
  url: string;
  port: number;
  /** Stops listening, drops idle keep-alive connections, and resolves once closed. */
  close(): Promise<void>;
}

type Protocol =
  | { kind: "awsJson"; namespace: string; contentType: string }
  | { kind: "restJson" }
  | { kind: "restXml" }
  | { kind: "awsQuery" };

/** The JSON services by X-Amz-Target prefix, with the protocol their SDKs expect errors in. */
const TARGETS: Record<string, { service: keyof EdgeServices; namespace: string; contentType: string }> = {
  "AWSStepFunctions.": {
    service: "states",
    namespace: "com.amazonaws.sfn",
    contentType: "application/x-amz-json-1.0",
  },
  "RekognitionService.": {
    service: "rekognition",
    namespace: "com.amazonaws.rekognition",
    contentType: "application/x-amz-json-1.1",
  },
  "AmazonSSM.": { service: "ssm", namespace: "com.amazonaws.ssm", contentType: "application/x-amz-json-1.1" },
  "SageMaker.": {
    service: "sagemaker",
    namespace: "com.amazonaws.sagemaker",
    contentType: "application/x-amz-json-1.1",
  },
};

function route(
  req: IncomingMessage,
  url: URL,
): { service: keyof EdgeServices | undefined; protocol: Protocol } {
  const target = req.headers["x-amz-target"];
  if (typeof target === "string") {
    const prefix = Object.keys(TARGETS).find((candidate) => target.startsWith(candidate));
    if (!prefix) {
      return {
        service: undefined,
        protocol: {
          kind: "awsJson",
          namespace: "com.amazonaws.local",
          contentType: String(req.headers["content-type"] ?? "application/x-amz-json-1.1"),
        },
      };
    }
    const entry = TARGETS[prefix] as (typeof TARGETS)[string];
    return { service: entry.service, protocol: { kind: "awsJson", ...entry } };
  }
  if (url.pathname === "/human-loops" || url.pathname.startsWith("/human-loops/")) {
    return { service: "a2iRuntime", protocol: { kind: "restJson" } };
  }
  // awsQuery (CloudFormation) POSTs a form to "/"; S3 never does (its POSTs name a bucket or key).
  const contentType = String(req.headers["content-type"] ?? "");
  if (
    req.method === "POST" &&
    url.pathname === "/" &&
    contentType.startsWith("application/x-www-form-urlencoded")
  ) {
    return { service: "cloudformation", protocol: { kind: "awsQuery" } };
  }
  return { service: "s3", protocol: { kind: "restXml" } };
}

function sendError(res: ServerResponse, protocol: Protocol, error: ServiceError, method: string | undefined) {
  if (protocol.kind === "awsJson")
    return sendAwsJsonError(res, error, protocol.namespace, protocol.contentType);
  if (protocol.kind === "restJson") return sendRestJsonError(res, error);
  if (protocol.kind === "awsQuery") return sendQueryError(res, error);
  sendS3Error(res, error, crypto.randomUUID(), method);
}

interface InjectedFault {
  operation: string;
  remaining: number;
  code: string;
  status: number;
  delayMs: number;
}

/**
 * Test-only fault injection, reachable only by passing an instance to the edge (nothing in the CLI
 * does): the next `count` requests for an operation are held `delayMs`, then answered with an AWS
 * error in the caller's protocol before any service sees them, so retries run against the real SDKs.
 * Operations are named as the SDKs name them: `DetectCustomLabels`, `StartExecution`, and for S3
 * `CopyObject`, `PutObject`, `GetObject`, `HeadObject`, `DeleteObject`, `ListObjectsV2`.
 */
export class EdgeFaults {
  private readonly pending: InjectedFault[] = [];
  private readonly answered = new Map<string, number>();

  /** Fails the next `count` requests for `operation` (Infinity: until cleared) with `error.code`. */
  failNext(operation: string, count: number, error: { code: string; status?: number; delayMs?: number }) {
    this.pending.push({
      operation,
      remaining: count,
      code: error.code,
      status: error.status ?? 500,
      delayMs: error.delayMs ?? 0,
    });
  }

  /** Drops every fault still pending. */
  clear() {
    this.pending.length = 0;
  }

  /** How many requests for `operation` were answered with an injected fault so far. */
  injected(operation: string): number {
    return this.answered.get(operation) ?? 0;
  }

  /** The fault to answer this request with, counting it, or undefined to serve it normally. */
  take(operation: string): InjectedFault | undefined {
    const fault = this.pending.find(
      (candidate) => candidate.operation === operation && candidate.remaining > 0,
    );
    if (!fault) return undefined;
    fault.remaining--;
    this.answered.set(operation, this.injected(operation) + 1);
    return fault;
  }
}

/** The SDK's name for a request's operation, as far as fault injection needs to tell them apart. */
function operationOf(req: IncomingMessage, url: URL, protocol: Protocol): string {
  const target = req.headers["x-amz-target"];
  if (protocol.kind === "awsJson" && typeof target === "string") return target.slice(target.indexOf(".") + 1);
  if (protocol.kind === "restXml") {
    const hasKey = url.pathname.split("/").filter(Boolean).length > 1;
    if (req.method === "PUT" && hasKey) return req.headers["x-amz-copy-source"] ? "CopyObject" : "PutObject";
    if (req.method === "GET" && hasKey) return "GetObject";
    if (req.method === "HEAD" && hasKey) return "HeadObject";
    if (req.method === "DELETE" && hasKey) return "DeleteObject";
    if (req.method === "GET" && url.searchParams.get("list-type") === "2") return "ListObjectsV2";
  }
  return `${req.method} ${url.pathname}`;
}

/** Starts the edge on `host:port` (127.0.0.1 by default) and resolves once it listens. */
export async function createEdgeServer(options: EdgeServerOptions): Promise<EdgeServer> {
  const host = options.host ?? "127.0.0.1";
  const { services } = options;

  const server = createServer(async (req, res) => {
    let protocol: Protocol = { kind: "restXml" };
    try {
      const url = new URL(req.url ?? "/", `http://${host}`);
      if (url.pathname === "/_secondlook/health" && req.method === "GET" && !req.headers["x-amz-target"]) {
        sendJson(
          res,
          200,
          {
            status: "ok",
            services: Object.fromEntries(
              Object.keys(emptyServices).map((name) => [name, Boolean(services[name as keyof EdgeServices])]),
            ),
          },
          "application/json",
        );
        return;
      }
      const routed = route(req, url);
      protocol = routed.protocol;
      if (!routed.service) {
        req.resume();
        throw new ServiceError(
          "UnknownOperationException",
          `The local cloud does not serve ${String(req.headers["x-amz-target"])}`,
        );
      }
      const fault = options.faults?.take(operationOf(req, url, protocol));
      if (fault) {
        req.resume();
        if (fault.delayMs > 0) await new Promise((done) => setTimeout(done, fault.delayMs));
        throw new ServiceError(fault.code, `Injected fault: ${fault.code}`, fault.status);
      }
      const handler = services[routed.service];
      if (!handler) {
        req.resume();
        throw new ServiceError(
          "ServiceUnavailable",
          `The local cloud was started without the ${routed.service} service`,
          503,
        );
      }
      await handler(req, res, url);
    } catch (error) {
      // The client gets a generic answer; the operator gets the details.
      if (!(error instanceof ServiceError)) console.error("[edge] internal error", error);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      try {
        sendError(res, protocol, toServiceError(error), req.method);
      } catch (failure) {
        // Never leave the client waiting, even if answering the error failed too.
        console.error("[edge] could not send an error response", failure);
        res.destroy();
      }
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

const emptyServices: Required<Record<keyof EdgeServices, true>> = {
  s3: true,
  states: true,
  a2iRuntime: true,
  sagemaker: true,
  rekognition: true,
  ssm: true,
  cloudformation: true,
};
