/**
 * The local read-only CloudFormation, through the edge and the real SDK client: the CLI finds a
 * stage's resources with DescribeStacks exactly as it does on AWS.
 */
import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import { StackOutputs, stackName } from "@secondlook/core/blueprint";
import { afterEach, describe, expect, it } from "vitest";
import {
  createLocalCloudFormation,
  type LocalStack,
  sstStacks,
} from "../../src/cloudformation/cloudformation";
import { createEdgeServer, type EdgeServer } from "../../src/edge/server";

const RESOURCES = {
  bucket: "secondlook-dev-data",
  settingsPath: "/secondlook/dev/",
  flowDefinitionArn: "arn:aws:sagemaker:us-east-1:000000000000:flow-definition/secondlook-dev-review-1",
  projectArn: "arn:aws:rekognition:us-east-1:000000000000:project/secondlook-dev/1",
  reviewImageStateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:review-image",
  trainModelStateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:train-model",
  reviewBatchStateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:review-batch",
};

let edge: EdgeServer | undefined;
let client: CloudFormationClient | undefined;

afterEach(async () => {
  client?.destroy();
  await edge?.close();
  edge = undefined;
});

async function serve(stacks: () => LocalStack[]) {
  const cloudformation = createLocalCloudFormation({ stacks });
  edge = await createEdgeServer({ port: 0, services: { cloudformation: cloudformation.handler } });
  client = new CloudFormationClient({
    endpoint: edge.url,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
  });
  return client;
}

describe("local CloudFormation DescribeStacks", () => {
  it("returns the Review stack's outputs under the names the stack declares", async () => {
    // Arrange
    const cfn = await serve(() => sstStacks("dev", new Date("2026-01-02T03:04:05Z"), RESOURCES));

    // Act
    const described = await cfn.send(new DescribeStacksCommand({ StackName: stackName("dev", "Review") }));

    // Assert
    const stack = described.Stacks?.[0];
    expect(stack?.StackName).toBe("dev-secondlook-Review");
    expect(stack?.StackStatus).toBe("CREATE_COMPLETE");
    expect(stack?.CreationTime?.toISOString()).toBe("2026-01-02T03:04:05.000Z");
    const outputs = Object.fromEntries((stack?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
    expect(outputs).toEqual({
      [StackOutputs.bucketName]: RESOURCES.bucket,
      [StackOutputs.settingsPath]: RESOURCES.settingsPath,
      [StackOutputs.flowDefinitionArn]: RESOURCES.flowDefinitionArn,
      [StackOutputs.projectArn]: RESOURCES.projectArn,
      [StackOutputs.reviewImageStateMachineArn]: RESOURCES.reviewImageStateMachineArn,
      [StackOutputs.trainModelStateMachineArn]: RESOURCES.trainModelStateMachineArn,
      [StackOutputs.reviewBatchStateMachineArn]: RESOURCES.reviewBatchStateMachineArn,
    });
  });

  it("finds a stack by its id as well as by its name", async () => {
    // Arrange
    const stacks = sstStacks("dev", new Date(), RESOURCES);
    const cfn = await serve(() => stacks);
    const review = stacks.find((stack) => stack.name === stackName("dev", "Review"));

    // Act
    const described = await cfn.send(new DescribeStacksCommand({ StackName: review?.id }));

    // Assert
    expect(described.Stacks?.map((stack) => stack.StackName)).toEqual(["dev-secondlook-Review"]);
  });

  it("lists every stack of the stage when no name is given", async () => {
    // Arrange
    const cfn = await serve(() => sstStacks("dev", new Date(), RESOURCES));

    // Act
    const described = await cfn.send(new DescribeStacksCommand({}));

    // Assert
    expect(described.Stacks?.map((stack) => stack.StackName)).toEqual([
      "dev-secondlook-Storage",
      "dev-secondlook-Training",
      "dev-secondlook-Review",
    ]);
    expect(described.Stacks?.[0]?.Outputs ?? []).toEqual([]);
  });

  it("answers an unknown stack with CloudFormation's ValidationError", async () => {
    // Arrange
    const cfn = await serve(() => sstStacks("dev", new Date(), RESOURCES));

    // Act
    const error = await cfn
      .send(new DescribeStacksCommand({ StackName: "prod-secondlook-Review" }))
      .catch((caught: Error) => caught);

    // Assert
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe("ValidationError");
    expect((error as Error).message).toBe("Stack with id prod-secondlook-Review does not exist");
    expect((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(400);
  });

  it("knows no stack while the cloud is still provisioning", async () => {
    // Arrange
    const cfn = await serve(() => []);

    // Act
    const error = await cfn
      .send(new DescribeStacksCommand({ StackName: "local-secondlook-Review" }))
      .catch((caught: Error) => caught);

    // Assert
    expect((error as Error).name).toBe("ValidationError");
  });

  it("refuses every action but DescribeStacks, naming it", async () => {
    // Arrange
    await serve(() => sstStacks("dev", new Date(), RESOURCES));

    // Act
    const response = await fetch(`${edge?.url}/`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
      body: "Action=DeleteStack&Version=2010-05-15&StackName=dev-secondlook-Review",
    });

    // Assert
    expect(response.status).toBe(400);
    const text = await response.text();
    expect(text).toContain("<Code>InvalidAction</Code>");
    expect(text).toContain("not DeleteStack");
  });

  it("escapes output values in the XML", async () => {
    // Arrange
    const cfn = await serve(() => [
      { name: "x", id: "arn:x", createdAt: new Date(), outputs: { Odd: 'a<b>&"c"' } },
    ]);

    // Act
    const described = await cfn.send(new DescribeStacksCommand({ StackName: "x" }));

    // Assert
    expect(described.Stacks?.[0]?.Outputs?.[0]?.OutputValue).toBe('a<b>&"c"');
  });
});
