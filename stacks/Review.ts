import {
  Env,
  type FunctionKey,
  Functions,
  OtherSubstitutions,
  Prefixes,
  Rules,
  StateMachines,
} from "@secondlook/core/blueprint";
import type { Stack } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as s3 from "aws-cdk-lib/aws-s3";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { Function as SstFunction, type StackContext, use } from "sst/constructs";
import { configuredWorkteamArn, createHumanReview, readWorkerTemplate } from "./human-review";
import { Storage } from "./Storage";
import {
  handlerPath,
  listObjects,
  projectVersionsArn,
  readDefinition,
  readObjects,
  readSettings,
  stateMachineArn,
  writeObjects,
} from "./shared";
import { reviewImageFunctionSubstitutions } from "./substitutions";
import { Training } from "./Training";

export { DefinitionSubstitutionKeys } from "./substitutions";

/** Resource ARNs a function's policy may name, beyond the settings every one reads. */
interface AccessContext {
  stack: Stack;
  bucket: s3.IBucket;
  projectName: string;
  flowDefinitionArn: string;
  reviewImageArn: string;
}

/**
 * What each handler may touch, matching the calls its service makes. Objects are scoped to
 * prefixes, never the whole bucket; a handler that reads keys which may not exist yet also gets
 * ListBucket on that prefix, because without it S3 answers a missing key with 403 instead of 404.
 */
const FunctionAccess: Record<FunctionKey, (ctx: AccessContext) => iam.PolicyStatement[]> = {
  detect: ({ stack, bucket, projectName }) => [
    // DetectCustomLabels reads the S3 image with the caller's credentials.
    readObjects(bucket, Prefixes.detection),
    new iam.PolicyStatement({
      actions: ["rekognition:DetectCustomLabels"],
      resources: [projectVersionsArn(stack, projectName)],
    }),
  ],
  startHumanLoop: ({ bucket, flowDefinitionArn }) => [
    // The loop's state record (task token, input fingerprint) lives under state/loops/.
    readObjects(bucket, Prefixes.state),
    writeObjects(bucket, Prefixes.state),
    listObjects(bucket, Prefixes.state),
    new iam.PolicyStatement({ actions: ["sagemaker:StartHumanLoop"], resources: [flowDefinitionArn] }),
  ],
  onHumanLoopStatus: ({ bucket, reviewImageArn }) => [
    readObjects(bucket, Prefixes.state, Prefixes.humanLoopOutput),
    listObjects(bucket, Prefixes.state, Prefixes.humanLoopOutput),
    new iam.PolicyStatement({
      actions: ["states:SendTaskSuccess", "states:SendTaskFailure"],
      resources: [reviewImageArn],
    }),
  ],
  copyToLabeledFolder: ({ bucket }) => [
    readObjects(bucket, Prefixes.detection),
    writeObjects(bucket, Prefixes.labeled),
    listObjects(bucket, Prefixes.detection),
  ],
  checkRetrain: ({ bucket }) => [
    readObjects(bucket, Prefixes.state),
    writeObjects(bucket, Prefixes.state),
    listObjects(bucket, Prefixes.state),
  ],
  recordOutcome: ({ bucket }) => [writeObjects(bucket, Prefixes.outcomes)],
};

const pascalCase = (key: string) => key.charAt(0).toUpperCase() + key.slice(1);

/**
 * review-image and everything around it: the handlers, A2I, the S3 and A2I event rules, and the
 * outputs the CLI reads.
 */
export function Review({ stack, app }: StackContext) {
  const { bucket, settingsPath, project, projectName } = use(Storage);
  const { trainModel } = use(Training);
  const name = `${app.name}-${app.stage}`;

  const humanReview = createHumanReview(stack, {
    bucket,
    name,
    workteamArn: configuredWorkteamArn(),
    template: readWorkerTemplate(),
  });

  const reviewImageName = `${name}-${StateMachines.reviewImage.name}`;
  const environment = {
    [Env.bucket]: bucket.bucketName,
    [Env.settingsPath]: settingsPath,
    [Env.flowDefinitionArn]: humanReview.flowDefinitionArn,
    [Env.projectArn]: project.attrArn,
    [Env.trainModelStateMachineArn]: trainModel.stateMachineArn,
  };
  const access: AccessContext = {
    stack,
    bucket,
    projectName,
    flowDefinitionArn: humanReview.flowDefinitionArn,
    // Named by ARN, not granted on the resource: the state machine already depends on the functions.
    reviewImageArn: stateMachineArn(stack, reviewImageName),
  };

  const functions = {} as Record<FunctionKey, SstFunction>;
  for (const key of Object.keys(Functions) as FunctionKey[]) {
    const fn = new SstFunction(stack, pascalCase(key), {
      handler: handlerPath(Functions[key].handler),
      environment,
    });
    fn.addToRolePolicy(readSettings(stack, settingsPath));
    for (const statement of FunctionAccess[key](access)) fn.addToRolePolicy(statement);
    functions[key] = fn;
  }

  const substitutions: Record<string, string> = {
    [OtherSubstitutions.trainModelStateMachineArn]: trainModel.stateMachineArn,
  };
  for (const { key, substitution } of reviewImageFunctionSubstitutions) {
    substitutions[substitution] = functions[key].functionArn;
  }

  const reviewImage = new sfn.StateMachine(stack, "ReviewImage", {
    stateMachineName: reviewImageName,
    // STANDARD: it waits days for a reviewer, which EXPRESS cannot.
    stateMachineType: sfn.StateMachineType.STANDARD,
    definitionBody: sfn.DefinitionBody.fromString(readDefinition(StateMachines.reviewImage.file)),
    definitionSubstitutions: substitutions,
  });
  for (const { key } of reviewImageFunctionSubstitutions) functions[key].grantInvoke(reviewImage);
  trainModel.grantStartExecution(reviewImage);

  const imageUploaded = Rules.imageUploaded(bucket.bucketName);
  new events.Rule(stack, "ImageUploaded", {
    description: "An image under images_for_detection/ starts review-image with the whole event as input",
    eventPattern: {
      source: imageUploaded.source,
      detailType: imageUploaded["detail-type"],
      detail: imageUploaded.detail,
    },
    targets: [new targets.SfnStateMachine(reviewImage)],
  });

  const statusChanged = Rules.humanLoopStatusChanged(humanReview.flowDefinitionArn);
  new events.Rule(stack, "HumanLoopStatusChanged", {
    description: "A finished human loop of this flow definition reports its answer to the waiting execution",
    eventPattern: {
      source: statusChanged.source,
      detailType: statusChanged["detail-type"],
      detail: statusChanged.detail,
    },
    targets: [new targets.LambdaFunction(functions.onHumanLoopStatus)],
  });

  stack.addOutputs({
    BucketName: bucket.bucketName,
    ReviewImageStateMachineArn: reviewImage.stateMachineArn,
    TrainModelStateMachineArn: trainModel.stateMachineArn,
    FlowDefinitionArn: humanReview.flowDefinitionArn,
    WorkteamArn: humanReview.workteamArn,
    SettingsPath: settingsPath,
    ProjectArn: project.attrArn,
  });

  return { functions, reviewImage, substitutions, flowDefinitionArn: humanReview.flowDefinitionArn };
}
