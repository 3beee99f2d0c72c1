import { Env, Functions, IDLE_CHECK_MINUTES, Prefixes } from "@secondlook/core/blueprint";
import { Duration } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { Function as SstFunction, type StackContext, use } from "sst/constructs";
import { Storage } from "./Storage";
import {
  handlerPath,
  listObjects,
  parameterArn,
  projectVersionsArn,
  readDefinition,
  readObjects,
  readSettings,
  stateMachineArn,
  writeObjects,
} from "./shared";
import { TrainModel } from "./substitutions";

/**
 * train-model: manifest → Custom Labels training → F1 gate → start → promote → stop the previous
 * version. Its own stack so review-image can name it without a dependency cycle.
 */
export function Training({ stack, app }: StackContext) {
  const { bucket, settingsPath, activeModelParameterName, project, projectName } = use(Storage);

  const buildTrainingManifest = new SstFunction(stack, "BuildTrainingManifest", {
    handler: handlerPath(TrainModel.buildTrainingManifest.handler),
    description:
      "Writes a Ground Truth manifest of images_labeled_by_folder/ when the training criteria hold",
    // Listing a large labeled folder is the slow part.
    timeout: "5 minutes",
    memorySize: "1024 MB",
    environment: { [Env.bucket]: bucket.bucketName, [Env.settingsPath]: settingsPath },
  });
  buildTrainingManifest.addToRolePolicy(listObjects(bucket, Prefixes.labeled));
  buildTrainingManifest.addToRolePolicy(writeObjects(bucket, Prefixes.trainingManifests));
  buildTrainingManifest.addToRolePolicy(readSettings(stack, settingsPath));
  const trainModelName = `${app.name}-${app.stage}-${TrainModel.name}`;
  // The in-progress check lists train-model's running executions; named by ARN, since the state
  // machine already depends on this function.
  buildTrainingManifest.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ["states:ListExecutions"],
      resources: [stateMachineArn(stack, trainModelName)],
    }),
  );

  const substitutions: Record<string, string> = {
    [TrainModel.buildTrainingManifest.substitution]: buildTrainingManifest.functionArn,
    [TrainModel.substitutions.projectArn]: project.attrArn,
    [TrainModel.substitutions.bucketName]: bucket.bucketName,
    [TrainModel.substitutions.modelOutputPrefix]: Prefixes.modelOutput,
    [TrainModel.substitutions.activeModelVersionParameterName]: activeModelParameterName,
  };

  const trainModel = new sfn.StateMachine(stack, "TrainModel", {
    stateMachineName: trainModelName,
    stateMachineType: sfn.StateMachineType.STANDARD,
    definitionBody: sfn.DefinitionBody.fromString(readDefinition(TrainModel.file)),
    definitionSubstitutions: substitutions,
    // Custom Labels training can take a day; the polling loop ends it, this only bounds a stuck run.
    timeout: Duration.days(3),
  });
  buildTrainingManifest.grantInvoke(trainModel);
  trainModel.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ["rekognition:CreateProjectVersion", "rekognition:DescribeProjectVersions"],
      resources: [project.attrArn],
    }),
  );
  trainModel.addToRolePolicy(
    new iam.PolicyStatement({
      actions: [
        "rekognition:CreateProjectVersion",
        "rekognition:StartProjectVersion",
        "rekognition:StopProjectVersion",
        "rekognition:DescribeProjectVersions",
      ],
      resources: [projectVersionsArn(stack, projectName)],
    }),
  );
  // CreateProjectVersion runs with the caller's access to the training data and output location.
  trainModel.addToRolePolicy(readObjects(bucket, Prefixes.labeled, Prefixes.trainingManifests));
  trainModel.addToRolePolicy(writeObjects(bucket, Prefixes.modelOutput));
  trainModel.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ["ssm:PutParameter"],
      resources: [parameterArn(stack, activeModelParameterName)],
    }),
  );

  // A running model bills by the hour: this check stops the active version once it sits idle.
  const stopIdleModel = new SstFunction(stack, "StopIdleModel", {
    handler: handlerPath(Functions.stopIdleModel.handler),
    description: "Stops the active Custom Labels version after model-idle-stop-minutes without use",
    environment: { [Env.bucket]: bucket.bucketName, [Env.settingsPath]: settingsPath },
  });
  stopIdleModel.addToRolePolicy(readSettings(stack, settingsPath));
  stopIdleModel.addToRolePolicy(readObjects(bucket, Prefixes.state));
  stopIdleModel.addToRolePolicy(writeObjects(bucket, Prefixes.state));
  stopIdleModel.addToRolePolicy(listObjects(bucket, Prefixes.state));
  stopIdleModel.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ["rekognition:StopProjectVersion"],
      resources: [projectVersionsArn(stack, projectName)],
    }),
  );
  new events.Rule(stack, "IdleCheckSchedule", {
    description: "Runs the model idle check",
    schedule: events.Schedule.rate(Duration.minutes(IDLE_CHECK_MINUTES)),
    targets: [new targets.LambdaFunction(stopIdleModel)],
  });

  return { trainModel, buildTrainingManifest, stopIdleModel, substitutions };
}
