import {
  CreateFlowDefinitionCommand,
  CreateHumanTaskUiCommand,
  DeleteFlowDefinitionCommand,
  DeleteHumanTaskUiCommand,
  DescribeFlowDefinitionCommand,
  DescribeHumanTaskUiCommand,
  ResourceInUse,
  ResourceNotFound,
  SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { FlowDefinition } from "@secondlook/core/blueprint";
import {
  createHumanReviewResource,
  FlowDefinitionFailedError,
  FlowDefinitionInUseError,
  humanReviewName,
  humanReviewNamePrefix,
  InvalidHumanReviewPropertiesError,
  isHumanReviewName,
  parseHumanReviewProperties,
} from "@secondlook/functions/custom-resources/human-review-resource";
import type { CdkCustomResourceEvent, CdkCustomResourceIsCompleteEvent } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";

const sagemaker = mockClient(SageMakerClient);
const resource = createHumanReviewResource(new SageMakerClient({ region: "us-east-1" }));

const ACCOUNT = "123456789012";
const uiArn = (name: string) => `arn:aws:sagemaker:us-east-1:${ACCOUNT}:human-task-ui/${name}`;
const flowArn = (name: string) => `arn:aws:sagemaker:us-east-1:${ACCOUNT}:flow-definition/${name}`;

/** Properties exactly as CloudFormation delivers them: every scalar a string. */
function cfnProperties(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ServiceToken: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:provider`,
    NamePrefix: "secondlook-test",
    UiTemplate: "<crowd-form><crowd-image-classifier name='category'></crowd-image-classifier></crowd-form>",
    WorkteamArn: `arn:aws:sagemaker:us-east-1:${ACCOUNT}:workteam/private-crowd/reviewers`,
    RoleArn: `arn:aws:iam::${ACCOUNT}:role/a2i-role`,
    OutputPath: "s3://data-bucket/a2i-output",
    TaskTitle: FlowDefinition.taskTitle,
    TaskDescription: FlowDefinition.taskDescription,
    TaskKeywords: [...FlowDefinition.taskKeywords],
    TaskCount: String(FlowDefinition.taskCount),
    TaskTimeLimitInSeconds: String(FlowDefinition.taskTimeLimitInSeconds),
    TaskAvailabilityLifetimeInSeconds: String(FlowDefinition.taskAvailabilityLifetimeInSeconds),
    ...overrides,
  };
}

function createEvent(properties = cfnProperties()): CdkCustomResourceEvent {
  return {
    RequestType: "Create",
    ServiceToken: String(properties.ServiceToken),
    ResponseURL: "https://cloudformation-custom-resource-response.example/",
    StackId: `arn:aws:cloudformation:us-east-1:${ACCOUNT}:stack/review/1`,
    RequestId: "request-1",
    LogicalResourceId: "HumanReview",
    ResourceType: "Custom::HumanReview",
    ResourceProperties: properties as CdkCustomResourceEvent["ResourceProperties"],
  };
}

function updateEvent(oldName: string, properties = cfnProperties()): CdkCustomResourceEvent {
  return {
    ...createEvent(properties),
    RequestType: "Update",
    PhysicalResourceId: oldName,
    OldResourceProperties: cfnProperties(),
  } as CdkCustomResourceEvent;
}

function deleteEvent(physicalResourceId: string): CdkCustomResourceEvent {
  return { ...createEvent(), RequestType: "Delete", PhysicalResourceId: physicalResourceId };
}

function completeEvent(
  event: CdkCustomResourceEvent,
  physicalResourceId: string,
): CdkCustomResourceIsCompleteEvent {
  return { ...event, PhysicalResourceId: physicalResourceId } as CdkCustomResourceIsCompleteEvent;
}

const expectedName = () => humanReviewName(parseHumanReviewProperties(cfnProperties()));

beforeEach(() => {
  sagemaker.reset();
});

describe("human review custom resource onEvent", () => {
  it("creates the human task UI and a flow definition wired to it with the configured human loop", async () => {
    // Arrange
    const name = expectedName();
    sagemaker.on(CreateHumanTaskUiCommand).resolves({ HumanTaskUiArn: uiArn(name) });
    sagemaker.on(CreateFlowDefinitionCommand).resolves({ FlowDefinitionArn: flowArn(name) });

    // Act
    const response = await resource.onEvent(createEvent());

    // Assert
    expect(response).toEqual({
      PhysicalResourceId: name,
      Data: { FlowDefinitionArn: flowArn(name), FlowDefinitionName: name, HumanTaskUiArn: uiArn(name) },
    });
    expect(sagemaker.commandCalls(CreateHumanTaskUiCommand)[0]?.args[0].input).toEqual({
      HumanTaskUiName: name,
      UiTemplate: { Content: cfnProperties().UiTemplate },
    });
    expect(sagemaker.commandCalls(CreateFlowDefinitionCommand)[0]?.args[0].input).toEqual({
      FlowDefinitionName: name,
      RoleArn: cfnProperties().RoleArn,
      OutputConfig: { S3OutputPath: "s3://data-bucket/a2i-output" },
      HumanLoopConfig: {
        WorkteamArn: cfnProperties().WorkteamArn,
        HumanTaskUiArn: uiArn(name),
        TaskTitle: FlowDefinition.taskTitle,
        TaskDescription: FlowDefinition.taskDescription,
        TaskKeywords: [...FlowDefinition.taskKeywords],
        TaskCount: FlowDefinition.taskCount,
        TaskTimeLimitInSeconds: FlowDefinition.taskTimeLimitInSeconds,
        TaskAvailabilityLifetimeInSeconds: FlowDefinition.taskAvailabilityLifetimeInSeconds,
      },
    });
  });

  it("names the pair after the prefix and a hash so any configuration change yields a new name", () => {
    // Arrange
    const base = parseHumanReviewProperties(cfnProperties());
    const newTemplate = parseHumanReviewProperties(
      cfnProperties({ UiTemplate: "<crowd-form></crowd-form>" }),
    );
    const newCount = parseHumanReviewProperties(cfnProperties({ TaskCount: "2" }));

    // Act
    const names = [humanReviewName(base), humanReviewName(newTemplate), humanReviewName(newCount)];

    // Assert
    expect(names[0]).toMatch(/^secondlook-test-[0-9a-f]{12}$/);
    expect(humanReviewName(parseHumanReviewProperties(cfnProperties()))).toBe(names[0]);
    expect(new Set(names).size).toBe(3);
    expect(names.every((name) => isHumanReviewName(name))).toBe(true);
  });

  it("creates a new pair under a new physical id when an update changes the template", async () => {
    // Arrange
    const oldName = expectedName();
    const changed = cfnProperties({ UiTemplate: "<crowd-form>v2</crowd-form>" });
    const newName = humanReviewName(parseHumanReviewProperties(changed));
    sagemaker.on(CreateHumanTaskUiCommand).resolves({ HumanTaskUiArn: uiArn(newName) });
    sagemaker.on(CreateFlowDefinitionCommand).resolves({ FlowDefinitionArn: flowArn(newName) });

    // Act
    const response = await resource.onEvent(updateEvent(oldName, changed));

    // Assert
    expect(response.PhysicalResourceId).toBe(newName);
    expect(newName).not.toBe(oldName);
    expect(sagemaker.commandCalls(DeleteFlowDefinitionCommand)).toHaveLength(0);
  });

  it("reuses the existing pair when a retried request finds the names already taken", async () => {
    // Arrange
    const name = expectedName();
    const inUse = () => new ResourceInUse({ message: "exists", $metadata: {} });
    sagemaker.on(CreateHumanTaskUiCommand).rejects(inUse());
    sagemaker.on(DescribeHumanTaskUiCommand).resolves({ HumanTaskUiArn: uiArn(name) });
    sagemaker.on(CreateFlowDefinitionCommand).rejects(inUse());
    sagemaker.on(DescribeFlowDefinitionCommand).resolves({ FlowDefinitionArn: flowArn(name) });

    // Act
    const response = await resource.onEvent(createEvent());

    // Assert
    expect(response.Data).toEqual({
      FlowDefinitionArn: flowArn(name),
      FlowDefinitionName: name,
      HumanTaskUiArn: uiArn(name),
    });
  });

  it("deletes the just-created UI when the flow definition cannot be created", async () => {
    // Arrange
    const name = expectedName();
    sagemaker.on(CreateHumanTaskUiCommand).resolves({ HumanTaskUiArn: uiArn(name) });
    sagemaker.on(CreateFlowDefinitionCommand).rejects(new Error("AccessDenied on iam:PassRole"));
    sagemaker.on(DeleteHumanTaskUiCommand).resolves({});

    // Act
    const attempt = resource.onEvent(createEvent());

    // Assert
    await expect(attempt).rejects.toThrow("AccessDenied on iam:PassRole");
    expect(sagemaker.commandCalls(DeleteHumanTaskUiCommand)[0]?.args[0].input).toEqual({
      HumanTaskUiName: name,
    });
  });

  it("rejects invalid properties with a named error listing each bad field and calls nothing", async () => {
    // Arrange
    const event = createEvent(
      cfnProperties({ TaskCount: "4", TaskKeywords: ["bad_keyword!"], NamePrefix: "Up" }),
    );

    // Act
    const attempt = resource.onEvent(event);

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(InvalidHumanReviewPropertiesError);
    await expect(attempt).rejects.toThrow(/TaskCount.*TaskKeywords\.0|TaskKeywords\.0.*TaskCount/);
    await expect(attempt).rejects.toThrow(/NamePrefix/);
    expect(sagemaker.calls()).toHaveLength(0);
  });

  it("deletes the flow definition named by the physical id", async () => {
    // Arrange
    const name = expectedName();
    sagemaker.on(DeleteFlowDefinitionCommand).resolves({});

    // Act
    const response = await resource.onEvent(deleteEvent(name));

    // Assert
    expect(response).toEqual({ PhysicalResourceId: name });
    expect(sagemaker.commandCalls(DeleteFlowDefinitionCommand)[0]?.args[0].input).toEqual({
      FlowDefinitionName: name,
    });
  });

  it("treats deleting an already-deleted flow definition as done", async () => {
    // Arrange
    sagemaker
      .on(DeleteFlowDefinitionCommand)
      .rejects(new ResourceNotFound({ message: "gone", $metadata: {} }));

    // Act
    const response = await resource.onEvent(deleteEvent(expectedName()));

    // Assert
    expect(response).toEqual({ PhysicalResourceId: expectedName() });
  });

  it("leaves SageMaker alone when deleting a resource whose create never produced a name", async () => {
    // Arrange
    const physicalId = "2f1c1a3e-request-id-of-a-failed-create";

    // Act
    const response = await resource.onEvent(deleteEvent(physicalId));

    // Assert
    expect(response).toEqual({ PhysicalResourceId: physicalId });
    expect(sagemaker.calls()).toHaveLength(0);
  });

  it("refuses to delete a flow definition with human loops in progress, with a named error", async () => {
    // Arrange
    sagemaker
      .on(DeleteFlowDefinitionCommand)
      .rejects(new ResourceInUse({ message: "in use", $metadata: {} }));

    // Act
    const attempt = resource.onEvent(deleteEvent(expectedName()));

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(FlowDefinitionInUseError);
  });
});

describe("human review custom resource isComplete", () => {
  it("keeps waiting while the flow definition is Initializing and completes once it is Active", async () => {
    // Arrange
    const name = expectedName();
    sagemaker
      .on(DescribeFlowDefinitionCommand)
      .resolvesOnce({ FlowDefinitionStatus: "Initializing" })
      .resolvesOnce({ FlowDefinitionStatus: "Active" });

    // Act
    const first = await resource.isComplete(completeEvent(createEvent(), name));
    const second = await resource.isComplete(completeEvent(createEvent(), name));

    // Assert
    expect(first).toEqual({ IsComplete: false });
    expect(second).toEqual({ IsComplete: true });
  });

  it("fails the deployment with SageMaker's reason when the flow definition fails", async () => {
    // Arrange
    sagemaker
      .on(DescribeFlowDefinitionCommand)
      .resolves({ FlowDefinitionStatus: "Failed", FailureReason: "Workteam not found" });

    // Act
    const attempt = resource.isComplete(completeEvent(createEvent(), expectedName()));

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(FlowDefinitionFailedError);
    await expect(attempt).rejects.toThrow("Workteam not found");
  });

  it("waits for a deleting flow definition to disappear, then deletes its UI", async () => {
    // Arrange
    const name = expectedName();
    sagemaker
      .on(DescribeFlowDefinitionCommand)
      .resolvesOnce({ FlowDefinitionStatus: "Deleting" })
      .rejects(new ResourceNotFound({ message: "gone", $metadata: {} }));
    sagemaker.on(DeleteHumanTaskUiCommand).resolves({});

    // Act
    const first = await resource.isComplete(completeEvent(deleteEvent(name), name));
    const second = await resource.isComplete(completeEvent(deleteEvent(name), name));

    // Assert
    expect(first).toEqual({ IsComplete: false });
    expect(sagemaker.commandCalls(DeleteHumanTaskUiCommand)).toHaveLength(1);
    expect(second).toEqual({ IsComplete: true });
  });
});

describe("humanReviewNamePrefix", () => {
  it("turns an app and stage into a lower-case dashed prefix short enough for the hash", () => {
    // Arrange
    const long = `Second_Look ${"x".repeat(80)}`;

    // Act
    const short = humanReviewNamePrefix("secondlook-My_Stage");
    const trimmed = humanReviewNamePrefix(long);

    // Assert
    expect(short).toBe("secondlook-my-stage");
    expect(trimmed.length).toBeLessThanOrEqual(50);
    expect(trimmed).toMatch(/^[a-z0-9](-*[a-z0-9])*$/);
  });
});
