import { existsSync } from "node:fs";
import { Env, Functions, IDLE_CHECK_MINUTES, Prefixes, settingsPath } from "@secondlook/core/blueprint";
import { Settings } from "@secondlook/core/settings";
import type { CfnElement } from "aws-cdk-lib";
import type { Function as SstFunction } from "sst/constructs";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../shared";
import { DefinitionSubstitutionKeys, TrainModel } from "../substitutions";
import {
  APP_NAME,
  actionsOf,
  onlyResource,
  placeholdersOf,
  readRepoFile,
  STAGE,
  type Synthesized,
  statementsOfRole,
  synthesize,
} from "./synth";

let app: Synthesized;

beforeAll(async () => {
  app = await synthesize();
});

const stateMachine = () =>
  onlyResource(app.training, "AWS::StepFunctions::StateMachine", {
    StateMachineName: `${APP_NAME}-${STAGE}-${TrainModel.name}`,
  });
const buildFunction = () => app.trainingStack.node.findChild("BuildTrainingManifest") as SstFunction;
const buildLogicalId = () => app.trainingStack.getLogicalId(buildFunction().node.defaultChild as CfnElement);

describe("Training stack", () => {
  it("deploys train-model from its ASL file as a STANDARD state machine", () => {
    // Arrange
    const file = readRepoFile(`statemachines/${TrainModel.file}`);

    // Act
    const [, resource] = stateMachine();

    // Assert
    expect(resource.Properties.StateMachineType).toBe("STANDARD");
    expect(resource.Properties.DefinitionString).toBe(file);
  });

  it("substitutes every placeholder of train-model with this deployment's values", () => {
    // Arrange
    const placeholders = placeholdersOf(TrainModel.file);

    // Act
    const substitutions = stateMachine()[1].Properties.DefinitionSubstitutions as Record<string, unknown>;

    // Assert
    expect(Object.keys(substitutions).sort()).toEqual([...placeholders].sort());
    expect(Object.keys(substitutions).sort()).toEqual(
      [...(DefinitionSubstitutionKeys[TrainModel.file] ?? [])].sort(),
    );
    expect(substitutions[TrainModel.buildTrainingManifest.substitution]).toEqual({
      "Fn::GetAtt": [buildLogicalId(), "Arn"],
    });
    expect(substitutions[TrainModel.substitutions.modelOutputPrefix]).toBe(Prefixes.modelOutput);
    expect(substitutions[TrainModel.substitutions.activeModelVersionParameterName]).toBe(
      `${settingsPath(STAGE)}${Settings.parameterName("activeModelVersionArn")}`,
    );
    expect(JSON.stringify(substitutions[TrainModel.substitutions.projectArn])).toContain("ProjectArn");
  });

  it("lets train-model invoke only its manifest builder, train and run only this project, and promote only the active-model setting", () => {
    // Arrange
    const role = (stateMachine()[1].Properties.RoleArn as { "Fn::GetAtt": string[] })[
      "Fn::GetAtt"
    ][0] as string;

    // Act
    const statements = statementsOfRole(app.training, role);

    // Assert
    const invoke = statements.filter((statement) => actionsOf(statement).includes("lambda:InvokeFunction"));
    expect(invoke.map((statement) => (statement.Resource as unknown[])[0])).toEqual([
      { "Fn::GetAtt": [buildLogicalId(), "Arn"] },
    ]);
    const rekognition = statements.filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith("rekognition:")),
    );
    expect(JSON.stringify(rekognition)).toContain(`:project/${APP_NAME}-${STAGE}/version/*`);
    expect(JSON.stringify(rekognition)).toContain("ProjectArn");
    const put = statements.filter((statement) => actionsOf(statement).includes("ssm:PutParameter"));
    expect(put).toHaveLength(1);
    expect(JSON.stringify(put[0]?.Resource)).toContain(
      `parameter${settingsPath(STAGE)}${Settings.parameterName("activeModelVersionArn")}"`,
    );
  });

  it("lets the manifest builder list only the labeled folders and write only training manifests", () => {
    // Arrange
    const resource = app.training.toJSON().Resources[buildLogicalId()];
    const role = resource.Properties.Role["Fn::GetAtt"][0];

    // Act
    const statements = statementsOfRole(app.training, role);

    // Assert
    expect(buildFunction().getConstructMetadata().data.handler).toBe(
      `packages/functions/src/handlers/${TrainModel.buildTrainingManifest.handler}.handler`,
    );
    expect(
      existsSync(
        `${REPO_ROOT}/packages/functions/src/handlers/${TrainModel.buildTrainingManifest.handler}.ts`,
      ),
    ).toBe(true);
    expect(resource.Properties.Environment.Variables[Env.settingsPath]).toBe(settingsPath(STAGE));
    const list = statements.find((statement) => actionsOf(statement).includes("s3:ListBucket"));
    expect(list?.Condition).toEqual({ StringLike: { "s3:prefix": [`${Prefixes.labeled}*`] } });
    const put = statements.find((statement) => actionsOf(statement).includes("s3:PutObject"));
    expect(JSON.stringify(put?.Resource)).toContain(`/${Prefixes.trainingManifests}*`);
  });

  it("lets the manifest builder list train-model's executions for its in-progress check", () => {
    // Arrange
    const role = app.training.toJSON().Resources[buildLogicalId()].Properties.Role["Fn::GetAtt"][0];

    // Act
    const list = statementsOfRole(app.training, role).filter((statement) =>
      actionsOf(statement).includes("states:ListExecutions"),
    );

    // Assert
    expect(list).toHaveLength(1);
    expect(JSON.stringify(list[0]?.Resource)).toContain(
      `stateMachine:${APP_NAME}-${STAGE}-${TrainModel.name}`,
    );
  });

  it("runs the idle check on a schedule and lets it stop only this project's model versions", () => {
    // Arrange
    const fn = app.trainingStack.node.findChild("StopIdleModel") as SstFunction;
    const logicalId = app.trainingStack.getLogicalId(fn.node.defaultChild as CfnElement);
    const role = app.training.toJSON().Resources[logicalId].Properties.Role["Fn::GetAtt"][0];

    // Act
    const [, rule] = onlyResource(app.training, "AWS::Events::Rule", {
      ScheduleExpression: `rate(${IDLE_CHECK_MINUTES} minutes)`,
    });
    const statements = statementsOfRole(app.training, role);

    // Assert
    expect(fn.getConstructMetadata().data.handler).toBe(
      `packages/functions/src/handlers/${Functions.stopIdleModel.handler}.handler`,
    );
    expect(
      existsSync(`${REPO_ROOT}/packages/functions/src/handlers/${Functions.stopIdleModel.handler}.ts`),
    ).toBe(true);
    expect(JSON.stringify(rule.Properties.Targets)).toContain(logicalId);
    const rekognition = statements.filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith("rekognition:")),
    );
    expect(rekognition.flatMap((statement) => actionsOf(statement))).toEqual([
      "rekognition:StopProjectVersion",
    ]);
    expect(JSON.stringify(rekognition[0]?.Resource)).toContain(`:project/${APP_NAME}-${STAGE}/version/*`);
  });
});
