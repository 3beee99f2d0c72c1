/**
 * `aws cloudformation describe-stacks` (Debian's AWS CLI v2, botocore's awsQuery parser) against
 * the local edge: what an operator types to find a stage's outputs reads the local cloud the same way.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { StackOutputs } from "@secondlook/core/blueprint";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalCloudFormation, sstStacks } from "../../src/cloudformation/cloudformation";
import { createEdgeServer, type EdgeServer } from "../../src/edge/server";

const run = promisify(execFile);
/** Debian's AWS CLI v2; a pyenv v1 shim may come first on PATH. */
const AWS = "/usr/bin/aws";

let root: string;
let edge: EdgeServer;

async function aws(...args: string[]) {
  return run(AWS, ["--endpoint-url", edge.url, "--region", "us-east-1", ...args], {
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
  });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "secondlook-cfn-cli-"));
  const cloudformation = createLocalCloudFormation({
    stacks: () =>
      sstStacks("dev", new Date("2026-01-02T03:04:05Z"), {
        bucket: "secondlook-dev-data",
        settingsPath: "/secondlook/dev/",
        flowDefinitionArn: "arn:aws:sagemaker:us-east-1:000000000000:flow-definition/f",
        projectArn: "arn:aws:rekognition:us-east-1:000000000000:project/p/1",
        reviewImageStateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:review-image",
        trainModelStateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:train-model",
        reviewBatchStateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:review-batch",
      }),
  });
  edge = await createEdgeServer({ port: 0, services: { cloudformation: cloudformation.handler } });
});

afterAll(async () => {
  await edge.close();
  await rm(root, { recursive: true, force: true });
});

describe("the AWS CLI's cloudformation commands against the local cloud", () => {
  it("reads a stage's outputs with describe-stacks", async () => {
    // Act
    const { stdout } = await aws(
      "cloudformation",
      "describe-stacks",
      "--stack-name",
      "dev-secondlook-Review",
      "--output",
      "json",
    );

    // Assert
    const stack = (
      JSON.parse(stdout) as {
        Stacks: { StackName: string; Outputs: { OutputKey: string; OutputValue: string }[] }[];
      }
    ).Stacks[0];
    expect(stack?.StackName).toBe("dev-secondlook-Review");
    expect(stack?.Outputs).toContainEqual({
      OutputKey: StackOutputs.bucketName,
      OutputValue: "secondlook-dev-data",
    });
  });

  it("reports an unknown stack as CloudFormation does", async () => {
    // Act
    const error = await aws(
      "cloudformation",
      "describe-stacks",
      "--stack-name",
      "prod-secondlook-Review",
    ).catch((caught: { code: number; stderr: string }) => caught);

    // Assert
    expect(error).toMatchObject({ code: 254 });
    expect((error as { stderr: string }).stderr).toContain(
      "(ValidationError) when calling the DescribeStacks operation: Stack with id prod-secondlook-Review does not exist",
    );
  });
});
