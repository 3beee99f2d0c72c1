/**
 * The AWS CLI against the edge: what a user types to look at or feed the local cloud. Uses the
 * `aws` on PATH (v1 or v2), isolated from the user's own AWS config and credentials.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BusEvent } from "../../src/contracts";
import { createEdgeServer, type EdgeServer } from "../../src/edge/server";
import { createLocalS3, type LocalS3 } from "../../src/s3/s3";
import { createLocalSsm } from "../../src/ssm/ssm";

const run = promisify(execFile);
let root: string;
let edge: EdgeServer;
let s3: LocalS3;
const events: BusEvent[] = [];

async function aws(...args: string[]): Promise<string> {
  const { stdout } = await run("aws", ["--endpoint-url", edge.url, "--region", "us-east-1", ...args], {
    env: {
      PATH: process.env.PATH,
      HOME: root,
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_CONFIG_FILE: join(root, "no-config"),
      AWS_SHARED_CREDENTIALS_FILE: join(root, "no-credentials"),
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_PAGER: "",
    },
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "secondlook-cli-"));
  s3 = await createLocalS3({
    dataDir: join(root, "data"),
    bus: { put: async (event) => void events.push(event) },
  });
  const ssm = await createLocalSsm({ dataDir: join(root, "data") });
  await s3.createBucket("data");
  await ssm.put("/secondlook/dev/min-confidence", "70");
  edge = await createEdgeServer({ port: 0, services: { s3: s3.handler, ssm: ssm.handler } });
});
afterAll(async () => {
  await edge.close();
  await rm(root, { recursive: true, force: true });
});

describe("the AWS CLI against the local cloud", () => {
  it("uploads a small file with `aws s3 cp` and lists it with `aws s3 ls`", async () => {
    // Arrange
    const file = join(root, "a logo.png");
    await writeFile(file, "small image bytes");
    // Act
    await aws("s3", "cp", file, "s3://data/images_for_detection/a logo.png");
    const listing = await aws("s3", "ls", "s3://data/images_for_detection/");
    const buckets = await aws("s3", "ls");
    // Assert
    expect(listing).toMatch(/\s17 a logo\.png/);
    expect(buckets).toContain(" data");
    expect((await s3.objects.get("data", "images_for_detection/a logo.png")).toString()).toBe(
      "small image bytes",
    );
    expect(events.at(-1)?.detail).toMatchObject({ object: { key: "images_for_detection/a+logo.png" } });
  });

  it("round-trips a file above the CLI's 8 MB multipart threshold", async () => {
    // Arrange
    const original = randomBytes(9 * 1024 * 1024);
    const source = join(root, "big.bin");
    const copy = join(root, "big.copy.bin");
    await writeFile(source, original);
    // Act
    await aws("s3", "cp", source, "s3://data/uploads/big.bin");
    await aws("s3", "cp", "s3://data/uploads/big.bin", copy);
    // Assert
    expect((await readFile(copy)).equals(original)).toBe(true);
    expect(events.at(-1)?.detail).toMatchObject({
      reason: "CompleteMultipartUpload",
      object: { size: original.length },
    });
    expect((await s3.objects.head("data", "uploads/big.bin"))?.etag).toMatch(/^[0-9a-f]{32}-2$/);
  });

  it("reads a parameter with `aws ssm get-parameter`", async () => {
    // Arrange
    const name = "/secondlook/dev/min-confidence";
    // Act
    const output = JSON.parse(await aws("ssm", "get-parameter", "--name", name, "--output", "json")) as {
      Parameter: { Name: string; Value: string; Version: number };
    };
    // Assert
    expect(output.Parameter).toMatchObject({ Name: name, Value: "70", Version: 1 });
  });
});
