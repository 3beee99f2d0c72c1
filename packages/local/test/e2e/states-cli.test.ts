/**
 * The Step Functions commands of Debian's AWS CLI against the local cloud's engine: a user
 * registers their own machine, starts it, reads it, answers its callback with send-task-success,
 * and lists its Distributed Map's runs.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalCloud, startLocalCloud } from "../../src/cloud";
import { eventually } from "./support";

let cloud: LocalCloud;
let dataDir: string;
let home: string;

/** Runs `/usr/bin/aws` against the local edge; returns stdout parsed as JSON (or raw text). */
async function aws(...args: string[]): Promise<Record<string, unknown> & { raw: string }> {
  const { stdout } = await promisify(execFile)(
    "/usr/bin/aws",
    ["--endpoint-url", cloud.endpoint, "--region", "us-east-1", "--output", "json", ...args],
    {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: home,
        AWS_ACCESS_KEY_ID: "cli",
        AWS_SECRET_ACCESS_KEY: "cli-secret",
        AWS_CONFIG_FILE: join(home, "config"),
        AWS_SHARED_CREDENTIALS_FILE: join(home, "credentials"),
        AWS_PAGER: "",
      },
    },
  );
  // `s3 cp … -` prints the object itself; only the stepfunctions commands print JSON.
  const parsed =
    args[0] === "stepfunctions" && stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : {};
  return Object.assign(parsed, { raw: stdout });
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "secondlook-states-cli-"));
  home = await mkdtemp(join(tmpdir(), "secondlook-states-cli-home-"));
  cloud = await startLocalCloud({ dataDir, timeScale: 0.05 });
}, 60_000);

afterAll(async () => {
  await cloud?.close();
  await rm(dataDir, { recursive: true, force: true });
  await rm(home, { recursive: true, force: true });
});

describe("aws stepfunctions against the local cloud", () => {
  it("starts, describes, reads the history of, answers and lists the map runs of a user's machine", async () => {
    // Arrange: the callback's token is written to S3 by the aws-sdk integration, as a queue would carry it.
    const definition = {
      StartAt: "WaitForApproval",
      States: {
        WaitForApproval: {
          Type: "Task",
          Resource: "arn:aws:states:::aws-sdk:s3:putObject.waitForTaskToken",
          Parameters: { Bucket: cloud.bucket, Key: "cli-test/token.txt", "Body.$": "$$.Task.Token" },
          ResultPath: "$.approval",
          Next: "Fan",
        },
        Fan: {
          Type: "Map",
          ItemsPath: "$.items",
          ItemProcessor: {
            ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
            StartAt: "Echo",
            States: { Echo: { Type: "Pass", End: true } },
          },
          End: true,
        },
      },
    };
    const created = await aws(
      "stepfunctions",
      "create-state-machine",
      "--name",
      "cli-machine",
      "--role-arn",
      "arn:aws:iam::000000000000:role/cli",
      "--definition",
      JSON.stringify(definition),
    );

    // Act
    const started = await aws(
      "stepfunctions",
      "start-execution",
      "--state-machine-arn",
      created.stateMachineArn as string,
      "--name",
      "cli-run",
      "--input",
      '{"items":[1,2,3]}',
    );
    const executionArn = started.executionArn as string;
    const token = await eventually("the task token in S3", async () => {
      try {
        return (
          (await aws("s3", "cp", `s3://${cloud.bucket}/cli-test/token.txt`, "-")).raw.trim() || undefined
        );
      } catch {
        return undefined;
      }
    });
    await aws(
      "stepfunctions",
      "send-task-success",
      "--task-token",
      token,
      "--task-output",
      '{"approved":true}',
    );
    const described = await eventually("the execution to finish", async () => {
      const d = await aws("stepfunctions", "describe-execution", "--execution-arn", executionArn);
      return d.status === "RUNNING" ? undefined : d;
    });
    const history = await aws("stepfunctions", "get-execution-history", "--execution-arn", executionArn);
    const mapRuns = await aws("stepfunctions", "list-map-runs", "--execution-arn", executionArn);

    // Assert
    expect(executionArn).toBe("arn:aws:states:us-east-1:000000000000:execution:cli-machine:cli-run");
    expect(described.status).toBe("SUCCEEDED");
    expect(JSON.parse(described.output as string)).toEqual([1, 2, 3]);
    const types = (history.events as { type: string }[]).map((e) => e.type);
    expect(types).toEqual([
      "ExecutionStarted",
      "TaskStateEntered",
      "TaskScheduled",
      "TaskStarted",
      "TaskSubmitted",
      "TaskSucceeded",
      "TaskStateExited",
      "MapStateEntered",
      "MapStateStarted",
      "MapRunStarted",
      "MapRunSucceeded",
      "MapStateSucceeded",
      "MapStateExited",
      "ExecutionSucceeded",
    ]);
    const runs = mapRuns.mapRuns as { mapRunArn: string; executionArn: string }[];
    expect(runs).toHaveLength(1);
    expect(runs[0]?.executionArn).toBe(executionArn);
    expect(runs[0]?.mapRunArn).toMatch(/:mapRun:cli-machine\/Fan:/);
  }, 120_000);
});
