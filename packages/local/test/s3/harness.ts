/** Starts a local S3 behind the edge on port 0, with a recording bus, in a fresh temp folder. */
import { mkdtemp, rm } from "node:fs/promises";
import type { IncomingHttpHeaders } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import type { BusEvent, Clock } from "../../src/contracts";
import { createEdgeServer, type EdgeServer } from "../../src/edge/server";
import { createLocalS3, type LocalS3 } from "../../src/s3/s3";

export interface S3Harness {
  root: string;
  dataDir: string;
  edge: EdgeServer;
  /** The edge endpoint, http://127.0.0.1:<port>. */
  url: string;
  s3: LocalS3;
  client: S3Client;
  events: BusEvent[];
  /** Headers of every request the S3 handler saw, to check what the SDK put on the wire. */
  requests: IncomingHttpHeaders[];
  close(): Promise<void>;
}

export async function startS3(options: { clock?: Clock; maxObjectBytes?: number } = {}): Promise<S3Harness> {
  const root = await mkdtemp(join(tmpdir(), "secondlook-s3-"));
  const dataDir = join(root, "data");
  const events: BusEvent[] = [];
  const s3 = await createLocalS3({
    dataDir,
    bus: { put: async (event) => void events.push(event) },
    ...options,
  });
  const requests: IncomingHttpHeaders[] = [];
  const edge = await createEdgeServer({
    port: 0,
    services: {
      s3: (req, res, url) => {
        requests.push(req.headers);
        return s3.handler(req, res, url);
      },
    },
  });
  const client = new S3Client({
    endpoint: edge.url,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  return {
    root,
    dataDir,
    edge,
    url: edge.url,
    s3,
    client,
    events,
    requests,
    async close() {
      client.destroy();
      await edge.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Every file below `dir`, relative to it. */
export async function filesUnder(dir: string): Promise<string[]> {
  const { readdir } = await import("node:fs/promises");
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();
}

/** The S3 error a call fails with; fails the test when the call succeeds or fails otherwise. */
export async function errorOf(promise: Promise<unknown>): Promise<S3ServiceException> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof S3ServiceException) return error;
    throw error;
  }
  throw new Error("expected the call to fail");
}
