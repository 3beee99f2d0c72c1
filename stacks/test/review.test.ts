import { existsSync } from "node:fs";
import {
  Env,
  FlowDefinition,
  Functions,
  functionKeysOf,
  OtherSubstitutions,
  Prefixes,
  Rules,
  StateMachines,
  settingsPath,
} from "@secondlook/core/blueprint";
import type { CfnElement } from "aws-cdk-lib";
import type { Function as SstFunction } from "sst/constructs";
import { beforeAll, describe, expect, it } from "vitest";
import { DefinitionSubstitutionKeys } from "../Review";
import { REPO_ROOT } from "../shared";
import {
  APP_NAME,
  actionsOf,
  onlyResource,
  placeholdersOf,
  policyStatements,
  readRepoFile,
  resourcesOf,
  STAGE,
  type Synthesized,
  statementsOfRole,
  synthesize,
} from "./synth";

let app: Synthesized;

beforeAll(async () => {
  app = await synthesize();
});

const pascalCase = (key: string) => key.charAt(0).toUpperCase() + key.slice(1);
const functionConstruct = (key: string) => app.reviewStack.node.findChild(pascalCase(key)) as SstFunction;
const logicalIdOf = (construct: { node: { defaultChild?: unknown } }) =>
  app.reviewStack.getLogicalId(construct.node.defaultChild as CfnElement);
const functionLogicalId = (key: string) => logicalIdOf(functionConstruct(key));
const roleLogicalIdOfFunction = (key: string) => {
  const resource = app.review.toJSON().Resources[functionLogicalId(key)];
  return resource.Properties.Role["Fn::GetAtt"][0] as string;
};
const reviewImageLogicalId = () => {
  const [id] = onlyResource(app.review, "AWS::StepFunctions::StateMachine", {
    StateMachineName: `${APP_NAME}-${STAGE}-${StateMachines.reviewImage.name}`,
  });
  return id;
};
const importsOf = (value: unknown) => JSON.stringify(value);

describe("Review stack: functions", () => {
  it("creates one function per blueprint handler, each with every deployment value in its environment", () => {
    // Arrange
    const keys = functionKeysOf("review");

    // Act
    const handlers = keys.map((key) => functionConstruct(key).getConstructMetadata().data.handler);

    // Assert
    expect(handlers).toEqual(
      keys.map((key) => `packages/functions/src/handlers/${Functions[key].handler}.handler`),
    );
    expect(keys.map((key) => functionConstruct(key).getConstructMetadata().data.runtime)).toEqual(
      keys.map(() => "nodejs22.x"),
    );
    for (const key of keys) {
      const resource = app.review.toJSON().Resources[functionLogicalId(key)];
      expect(Object.keys(resource.Properties.Environment.Variables)).toEqual(
        expect.arrayContaining(Object.values(Env)),
      );
      expect(resource.Properties.Environment.Variables[Env.settingsPath]).toBe(settingsPath(STAGE));
    }
  });

  it("lets every handler read its stage's settings by path and nothing else in SSM", () => {
    // Arrange
    const keys = functionKeysOf("review");

    // Act
    const ssmStatements = keys.map((key) =>
      statementsOfRole(app.review, roleLogicalIdOfFunction(key)).filter((statement) =>
        actionsOf(statement).some((action) => action.startsWith("ssm:")),
      ),
    );

    // Assert
    for (const statements of ssmStatements) {
      expect(statements).toHaveLength(1);
      const [statement] = statements;
      expect(actionsOf(statement as never)).toContain("ssm:GetParametersByPath");
      expect(JSON.stringify(statement?.Resource)).toContain(
        `parameter${settingsPath(STAGE).replace(/\/$/, "")}"`,
      );
      expect(JSON.stringify(statement?.Resource)).toContain(`parameter${settingsPath(STAGE)}*`);
    }
  });

  it("lets detect run and start only this project's model versions, read only uploaded images and write only its use record", () => {
    // Arrange
    const statements = statementsOfRole(app.review, roleLogicalIdOfFunction("detect"));

    // Act
    const detect = statements.find((statement) =>
      actionsOf(statement).includes("rekognition:DetectCustomLabels"),
    );
    const s3 = statements.filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith("s3:")),
    );

    // Assert
    expect(JSON.stringify(detect?.Resource)).toContain(`:project/${APP_NAME}-${STAGE}/version/*`);
    expect(actionsOf(detect as never)).toEqual([
      "rekognition:DetectCustomLabels",
      "rekognition:StartProjectVersion",
    ]);
    expect(s3).toHaveLength(2);
    expect(actionsOf(s3[0] as never)).toEqual(["s3:GetObject"]);
    expect(JSON.stringify(s3[0]?.Resource)).toContain(`/${Prefixes.detection}*`);
    // A batch's staged images (secondlook run <manifest>) are read from batch-inputs/.
    expect(JSON.stringify(s3[0]?.Resource)).toContain(`/${Prefixes.batchInputs}*`);
    expect(resourcesOf(s3[0] as never)).toHaveLength(2);
    expect(actionsOf(s3[1] as never)).toEqual(["s3:PutObject"]);
    expect(JSON.stringify(s3[1]?.Resource)).toContain(`/${Prefixes.state}*`);
  });

  it("lets start-human-loop start loops only on this deployment's flow definition", () => {
    // Arrange
    const statements = statementsOfRole(app.review, roleLogicalIdOfFunction("startHumanLoop"));

    // Act
    const start = statements.filter((statement) => actionsOf(statement).includes("sagemaker:StartHumanLoop"));

    // Assert
    expect(start).toHaveLength(1);
    expect(start[0]?.Resource).toEqual({ "Fn::GetAtt": ["HumanReview", "FlowDefinitionArn"] });
  });

  it("lets on-human-loop-status answer task tokens of review-image only, and read only loop state and A2I output", () => {
    // Arrange
    const statements = statementsOfRole(app.review, roleLogicalIdOfFunction("onHumanLoopStatus"));

    // Act
    const callbacks = statements.filter((statement) =>
      actionsOf(statement).some((a) => a.startsWith("states:")),
    );
    const reads = statements.filter((statement) => actionsOf(statement).includes("s3:GetObject"));

    // Assert
    expect(callbacks).toHaveLength(1);
    expect(actionsOf(callbacks[0] as never).sort()).toEqual([
      "states:SendTaskFailure",
      "states:SendTaskSuccess",
    ]);
    expect(JSON.stringify(callbacks[0]?.Resource)).toContain(
      `:stateMachine:${APP_NAME}-${STAGE}-${StateMachines.reviewImage.name}"`,
    );
    expect(JSON.stringify(reads.map((statement) => statement.Resource))).toContain(
      `/${Prefixes.humanLoopOutput}*`,
    );
    expect(reads).toHaveLength(1);
  });

  it("lets copy-to-labeled-folder read uploaded images and a batch's staged images, nothing else", () => {
    // Arrange
    const statements = statementsOfRole(app.review, roleLogicalIdOfFunction("copyToLabeledFolder"));

    // Act
    const reads = statements.filter((statement) => actionsOf(statement).includes("s3:GetObject"));

    // Assert
    expect(reads).toHaveLength(1);
    expect(resourcesOf(reads[0] as never)).toHaveLength(2);
    expect(JSON.stringify(reads[0]?.Resource)).toContain(`/${Prefixes.detection}*`);
    expect(JSON.stringify(reads[0]?.Resource)).toContain(`/${Prefixes.batchInputs}*`);
  });

  it("lets copy-to-labeled-folder write only into the labeled folders", () => {
    // Arrange
    const statements = statementsOfRole(app.review, roleLogicalIdOfFunction("copyToLabeledFolder"));

    // Act
    const writes = statements.filter((statement) => actionsOf(statement).includes("s3:PutObject"));

    // Assert
    expect(writes).toHaveLength(1);
    expect(resourcesOf(writes[0] as never)).toHaveLength(1);
    expect(JSON.stringify(writes[0]?.Resource)).toContain(`/${Prefixes.labeled}*`);
  });

  it("lets keep-negative-example write only under negative_examples/, never into the labeled folders", () => {
    // Arrange
    const statements = statementsOfRole(app.review, roleLogicalIdOfFunction("keepNegativeExample"));

    // Act
    const writes = statements.filter((statement) => actionsOf(statement).includes("s3:PutObject"));

    // Assert
    expect(writes).toHaveLength(1);
    expect(resourcesOf(writes[0] as never)).toHaveLength(1);
    expect(JSON.stringify(writes[0]?.Resource)).toContain(`/${Prefixes.negatives}*`);
    expect(JSON.stringify(writes[0]?.Resource)).not.toContain(Prefixes.labeled);
  });

  it("scopes every S3 object permission of the handlers to a prefix, never the whole bucket", () => {
    // Arrange
    const keys = functionKeysOf("review");
    const prefixes = Object.values(Prefixes);

    // Act
    const objectResources = keys.flatMap((key) =>
      statementsOfRole(app.review, roleLogicalIdOfFunction(key))
        .filter((statement) => actionsOf(statement).some((a) => a === "s3:GetObject" || a === "s3:PutObject"))
        .flatMap((statement) => resourcesOf(statement)),
    );

    // Assert
    expect(objectResources.length).toBeGreaterThan(0);
    for (const resource of objectResources) {
      const text = JSON.stringify(resource);
      expect(prefixes.some((prefix) => text.includes(`/${prefix}*`))).toBe(true);
    }
  });
});

describe("Review stack: review-image state machine", () => {
  it("deploys review-image from its ASL file as a STANDARD state machine", () => {
    // Arrange
    const file = readRepoFile(`statemachines/${StateMachines.reviewImage.file}`);

    // Act
    const resource = app.review.toJSON().Resources[reviewImageLogicalId()];

    // Assert
    expect(resource.Properties.StateMachineType).toBe("STANDARD");
    expect(resource.Properties.DefinitionString).toBe(file);
  });

  it("substitutes every placeholder of the file, function ARNs by the blueprint's names", () => {
    // Arrange
    const placeholders = placeholdersOf(StateMachines.reviewImage.file);

    // Act
    const substitutions =
      app.review.toJSON().Resources[reviewImageLogicalId()].Properties.DefinitionSubstitutions;

    // Assert
    expect(Object.keys(substitutions).sort()).toEqual([...placeholders].sort());
    expect(Object.keys(substitutions).sort()).toEqual(
      [...(DefinitionSubstitutionKeys[StateMachines.reviewImage.file] ?? [])].sort(),
    );
    for (const key of functionKeysOf("review")) {
      const name = Functions[key].substitution;
      if (name === null) continue;
      expect(substitutions[name]).toEqual({ "Fn::GetAtt": [functionLogicalId(key), "Arn"] });
    }
    expect(importsOf(substitutions[OtherSubstitutions.trainModelStateMachineArn])).toContain("Training");
  });

  it("lets review-image invoke exactly its functions and start train-model, nothing else", () => {
    // Arrange
    const role = app.review.toJSON().Resources[reviewImageLogicalId()].Properties.RoleArn["Fn::GetAtt"][0];

    // Act
    const statements = statementsOfRole(app.review, role);

    // Assert
    const invoked = statements
      .filter((statement) => actionsOf(statement).includes("lambda:InvokeFunction"))
      .map((statement) => resourcesOf(statement)[0]);
    const substituted = functionKeysOf("review").filter((key) => Functions[key].substitution);
    expect(invoked).toEqual(substituted.map((key) => ({ "Fn::GetAtt": [functionLogicalId(key), "Arn"] })));
    const others = statements.filter((statement) => !actionsOf(statement).includes("lambda:InvokeFunction"));
    expect(others).toHaveLength(1);
    expect(actionsOf(others[0] as never)).toEqual(["states:StartExecution"]);
    expect(importsOf(others[0]?.Resource)).toContain("Training");
  });
});

describe("Review stack: event rules", () => {
  it("starts review-image with the whole event for each image uploaded under images_for_detection/", () => {
    // Arrange
    const expected = Rules.imageUploaded("BUCKET");

    // Act
    const [, rule] = onlyResource(app.review, "AWS::Events::Rule", {
      EventPattern: { source: expected.source, detail: { object: expected.detail.object } },
    });

    // Assert
    const pattern = rule.Properties.EventPattern as typeof expected & {
      detail: { bucket: { name: unknown[] } };
    };
    expect(pattern["detail-type"]).toEqual(expected["detail-type"]);
    expect(pattern.detail.object).toEqual(expected.detail.object);
    expect(importsOf(pattern.detail.bucket.name)).toContain("Storage");
    const targets = rule.Properties.Targets as Record<string, unknown>[];
    expect(targets).toHaveLength(1);
    expect(targets[0]?.Arn).toEqual({ Ref: reviewImageLogicalId() });
    expect(targets[0]).not.toHaveProperty("Input");
    expect(targets[0]).not.toHaveProperty("InputPath");
  });

  it("sends A2I status changes of this flow definition only to on-human-loop-status", () => {
    // Arrange
    const expected = Rules.humanLoopStatusChanged("FLOW");

    // Act
    const [, rule] = onlyResource(app.review, "AWS::Events::Rule", {
      EventPattern: { source: expected.source },
    });

    // Assert
    expect(rule.Properties.EventPattern).toEqual({
      source: expected.source,
      "detail-type": expected["detail-type"],
      detail: { flowDefinitionArn: [{ "Fn::GetAtt": ["HumanReview", "FlowDefinitionArn"] }] },
    });
    const targets = rule.Properties.Targets as Record<string, unknown>[];
    expect(targets).toEqual([
      expect.objectContaining({ Arn: { "Fn::GetAtt": [functionLogicalId("onHumanLoopStatus"), "Arn"] } }),
    ]);
  });
});

describe("Review stack: A2I", () => {
  it("passes the blueprint's human loop settings and the worker template to the flow definition resource", () => {
    // Arrange
    const template = readRepoFile(FlowDefinition.templateFile);

    // Act
    const [, resource] = onlyResource(app.review, "Custom::HumanReview");

    // Assert
    expect(resource.Properties).toEqual(
      expect.objectContaining({
        NamePrefix: `${APP_NAME}-${STAGE}`,
        UiTemplate: template,
        TaskTitle: FlowDefinition.taskTitle,
        TaskDescription: FlowDefinition.taskDescription,
        TaskKeywords: [...FlowDefinition.taskKeywords],
        TaskCount: FlowDefinition.taskCount,
        TaskTimeLimitInSeconds: FlowDefinition.taskTimeLimitInSeconds,
        TaskAvailabilityLifetimeInSeconds: FlowDefinition.taskAvailabilityLifetimeInSeconds,
      }),
    );
    expect(importsOf(resource.Properties.OutputPath)).toContain(
      `/${Prefixes.humanLoopOutput.replace(/\/$/, "")}`,
    );
    expect(resource.Properties.WorkteamArn).toEqual({ Ref: "Workteam" });
  });

  it("points every function at a handler file that exists", () => {
    // Arrange
    const handlers = [
      ...functionKeysOf("review").map((key) => functionConstruct(key)),
      app.reviewStack.node.findChild("HumanReviewOnEvent") as SstFunction,
      app.reviewStack.node.findChild("HumanReviewIsComplete") as SstFunction,
    ].map((fn) => fn.getConstructMetadata().data.handler ?? "");

    // Act
    const missing = handlers.filter(
      (handler) => !existsSync(`${REPO_ROOT}/${handler.replace(/\.[^.]+$/, ".ts")}`),
    );

    // Assert
    expect(handlers).toHaveLength(functionKeysOf("review").length + 2);
    expect(missing).toEqual([]);
  });

  it("waits for the flow definition to become Active through the provider's isComplete handler", () => {
    // Arrange
    const stack = app.reviewStack;

    // Act
    const onEvent = stack.node.findChild("HumanReviewOnEvent") as SstFunction;
    const isComplete = stack.node.findChild("HumanReviewIsComplete") as SstFunction;

    // Assert
    expect(onEvent.getConstructMetadata().data.handler).toBe(
      "packages/functions/src/custom-resources/human-review.onEvent",
    );
    expect(isComplete.getConstructMetadata().data.handler).toBe(
      "packages/functions/src/custom-resources/human-review.isComplete",
    );
    const waiters = Object.keys(app.review.findResources("AWS::StepFunctions::StateMachine")).filter((id) =>
      id.startsWith("HumanReviewProviderwaiter"),
    );
    expect(waiters).toHaveLength(1);
  });

  it("lets the custom resource manage only this deployment's UIs and flow definitions and pass only the A2I role", () => {
    // Arrange
    const role =
      app.review.toJSON().Resources[logicalIdOf(app.reviewStack.node.findChild("HumanReviewOnEvent"))]
        .Properties.Role["Fn::GetAtt"][0];

    // Act
    const statements = statementsOfRole(app.review, role).filter(
      (statement) => !actionsOf(statement).every((action) => action.startsWith("xray:")),
    );

    // Assert
    const text = JSON.stringify(statements);
    expect(text).toContain(`:human-task-ui/${APP_NAME}-${STAGE}-*`);
    expect(text).toContain(`:flow-definition/${APP_NAME}-${STAGE}-*`);
    const passRole = statements.find((statement) => actionsOf(statement).includes("iam:PassRole"));
    expect(passRole?.Resource).toEqual({ "Fn::GetAtt": [expect.stringMatching(/^A2IRole/), "Arn"] });
    expect(passRole?.Condition).toEqual({
      StringEquals: { "iam:PassedToService": "sagemaker.amazonaws.com" },
    });
  });

  it("lets A2I read the images and write only its output prefix", () => {
    // Arrange
    const [roleId] = onlyResource(app.review, "AWS::IAM::Role", {
      AssumeRolePolicyDocument: {
        Statement: [
          { Action: "sts:AssumeRole", Effect: "Allow", Principal: { Service: "sagemaker.amazonaws.com" } },
        ],
        Version: "2012-10-17",
      },
    });

    // Act
    const statements = statementsOfRole(app.review, roleId);

    // Assert
    expect(statements.map((statement) => actionsOf(statement))).toEqual([["s3:GetObject"], ["s3:PutObject"]]);
    expect(JSON.stringify(statements[1]?.Resource)).toContain(`/${Prefixes.humanLoopOutput}*`);
  });

  it("creates a private work team backed by its own Cognito user pool when none is configured", () => {
    // Arrange
    const { review } = app;

    // Act
    const [, workteam] = onlyResource(review, "AWS::SageMaker::Workteam");

    // Assert
    const [member] = workteam.Properties.MemberDefinitions as {
      CognitoMemberDefinition: Record<string, unknown>;
    }[];
    expect(Object.keys(member?.CognitoMemberDefinition ?? {}).sort()).toEqual([
      "CognitoClientId",
      "CognitoUserGroup",
      "CognitoUserPool",
    ]);
    expect(JSON.stringify(member)).toContain("Reviewers");
    review.resourceCountIs("AWS::Cognito::UserPoolDomain", 1);
    review.hasResourceProperties("AWS::Cognito::UserPoolClient", { GenerateSecret: true });
  });
});

describe("all stacks", () => {
  it("grants no identity statement that allows every action, and '*' resources only for X-Ray tracing", () => {
    // Arrange
    const statements = [app.storage, app.training, app.review].flatMap((template) =>
      policyStatements(template),
    );

    // Act
    const wildcardActions = statements.filter(({ statement }) =>
      actionsOf(statement).some((action) => action === "*" || action.endsWith(":*")),
    );
    const anyResource = statements.filter(({ statement }) => resourcesOf(statement).includes("*"));

    // Assert
    expect(statements.length).toBeGreaterThan(20);
    expect(wildcardActions).toEqual([]);
    for (const { statement } of anyResource) {
      // X-Ray has no resource-level permissions; SST turns tracing on for every function.
      expect(actionsOf(statement).every((action) => action.startsWith("xray:"))).toBe(true);
    }
  });

  it("exports the names and ARNs the CLI reads", () => {
    // Arrange
    const { review } = app;

    // Act
    const outputs = Object.keys(review.toJSON().Outputs ?? {});

    // Assert
    expect(outputs).toEqual(
      expect.arrayContaining([
        "BucketName",
        "ReviewImageStateMachineArn",
        "TrainModelStateMachineArn",
        "ReviewBatchStateMachineArn",
        "FlowDefinitionArn",
        "SettingsPath",
        "ProjectArn",
      ]),
    );
    const batchId = Object.keys(review.findResources("AWS::StepFunctions::StateMachine")).find((id) =>
      id.startsWith("ReviewBatch"),
    );
    review.hasOutput("ReviewBatchStateMachineArn", { Value: { Ref: batchId } });
    review.hasOutput("SettingsPath", { Value: settingsPath(STAGE) });
    review.hasOutput("FlowDefinitionArn", { Value: { "Fn::GetAtt": ["HumanReview", "FlowDefinitionArn"] } });
  });
});
