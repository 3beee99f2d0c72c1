/**
 * Third-party clients against the local cloud: Debian's AWS CLI drives S3, Step Functions and the
 * A2I runtime through --endpoint-url, exactly as a user would against a deployed stage.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalCloud, startLocalCloud } from "../../src/cloud";
import { eventually, executionFor } from "./support";

const run = promisify(execFile);
/** Debian's awscli (a pyenv shim may shadow it on PATH). */
const AWS = "/usr/bin/aws";

let cloud: LocalCloud;
let dataDir: string;
let workDir: string;

/** Runs the AWS CLI against the local edge with throwaway credentials; returns parsed JSON or text. */
async function aws(...args: string[]) {
  const { stdout } = await run(AWS, ["--endpoint-url", cloud.endpoint, "--region", "us-east-1", ...args], {
    env: {
      PATH: process.env.PATH ?? "",
      HOME: workDir,
      AWS_ACCESS_KEY_ID: "cli",
      AWS_SECRET_ACCESS_KEY: "cli-secret",
      AWS_CONFIG_FILE: join(workDir, "config"),
      AWS_SHARED_CREDENTIALS_FILE: join(workDir, "credentials"),
      AWS_PAGER: "",
    },
  });
  return stdout;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "secondlook-cli-"));
  workDir = await mkdtemp(join(tmpdir(), "secondlook-cli-home-"));
  cloud = await startLocalCloud({ dataDir, timeScale: 0.05 });
}, 60_000);

afterAll(async () => {
  await cloud?.close();
  await rm(dataDir, { recursive: true, force: true });
  await rm(workDir, { recursive: true, force: true });
});

describe("the AWS CLI against the local cloud", () => {
  it("uploads with s3 cp, lists with s3 ls, and the upload starts review-image", async () => {
    // Arrange
    const file = join(workDir, "logo with space.png");
    await writeFile(file, Buffer.from("not really a png"));
    const key = "images_for_detection/logo with space.png";

    // Act
    await aws("s3", "cp", file, `s3://${cloud.bucket}/${key}`);
    const listing = await aws("s3", "ls", `s3://${cloud.bucket}/images_for_detection/`);
    const execution = await executionFor(cloud, key);

    // Assert
    expect(listing).toMatch(/\s16 logo with space\.png/);
    expect(execution.stateMachineArn).toBe(cloud.stateMachineArns.reviewImage);
  });

  it("lists executions and reads their history with the stepfunctions commands", async () => {
    // Arrange: with no model trained yet, the upload waits for a reviewer on its task token.
    const arn = cloud.stateMachineArns.reviewImage;
    const listed = await eventually("an execution waiting for review", async () => {
      const out = JSON.parse(await aws("stepfunctions", "list-executions", "--state-machine-arn", arn)) as {
        executions: { executionArn: string; status: string }[];
      };
      const [execution] = out.executions;
      if (!execution) return undefined;
      const history = JSON.parse(
        await aws("stepfunctions", "get-execution-history", "--execution-arn", execution.executionArn),
      ) as { events: { type: string }[] };
      return history.events.some((event) => event.type === "TaskSubmitted") ? execution : undefined;
    });

    // Act
    const history = JSON.parse(
      await aws("stepfunctions", "get-execution-history", "--execution-arn", listed.executionArn),
    ) as { events: { type: string; id: number; previousEventId: number }[] };
    const described = JSON.parse(
      await aws("stepfunctions", "describe-execution", "--execution-arn", listed.executionArn),
    ) as { status: string; input: string };

    // Assert
    expect(listed.status).toBe("RUNNING");
    expect(described.status).toBe("RUNNING");
    expect(JSON.parse(described.input)).toMatchObject({ "detail-type": "Object Created", source: "aws.s3" });
    expect(history.events[0]?.type).toBe("ExecutionStarted");
    expect(history.events.map((event) => event.id)).toEqual(history.events.map((_, index) => index + 1));
    expect(history.events.at(-1)?.type).toBe("TaskSubmitted");
  });

  it("lists human loops with the sagemaker-a2i-runtime commands", async () => {
    // Act
    const out = JSON.parse(
      await aws(
        "sagemaker-a2i-runtime",
        "list-human-loops",
        "--flow-definition-arn",
        cloud.flowDefinitionArn,
      ),
    ) as { HumanLoopSummaries: unknown[] };
    const missing = await aws(
      "sagemaker-a2i-runtime",
      "describe-human-loop",
      "--human-loop-name",
      "no-such-loop",
    ).catch((error: { stderr: string }) => error.stderr);

    // Assert
    expect(Array.isArray(out.HumanLoopSummaries)).toBe(true);
    expect(missing).toContain("ResourceNotFoundException");
  });
});
