import {
  Env,
  type FunctionKeyOf,
  Functions,
  functionKeysOf,
  OtherSubstitutions,
  Prefixes,
  Rules,
  StackOutputs,
  StateMachines,
} from "@secondlook/core/blueprint";
import { ArnFormat, type Stack } from "aws-cdk-lib";
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
const FunctionAccess: Record<FunctionKeyOf<"review">, (ctx: AccessContext) => iam.PolicyStatement[]> = {
  detect: ({ stack, bucket, projectName }) => [
    // DetectCustomLabels reads the S3 image with the caller's credentials; a batch's images are
    // staged under batch-inputs/ so that uploading them does not also start review-image.
    readObjects(bucket, Prefixes.detection, Prefixes.batchInputs),
    // The last-use record the idle check reads lives under state/.
    writeObjects(bucket, Prefixes.state),
    new iam.PolicyStatement({
      // StartProjectVersion wakes a model the idle check stopped.
      actions: ["rekognition:DetectCustomLabels", "rekognition:StartProjectVersion"],
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
    readObjects(bucket, Prefixes.detection, Prefixes.batchInputs),
    writeObjects(bucket, Prefixes.labeled),
    listObjects(bucket, Prefixes.detection, Prefixes.batchInputs),
  ],
  keepNegativeExample: ({ bucket }) => [
    readObjects(bucket, Prefixes.detection, Prefixes.batchInputs),
    writeObjects(bucket, Prefixes.negatives),
    listObjects(bucket, Prefixes.detection, Prefixes.batchInputs),
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

  const functions = {} as Record<FunctionKeyOf<"review">, SstFunction>;
  for (const key of functionKeysOf("review")) {
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

  // review-batch: a Distributed Map over a manifest, one review-image child per line.
  const reviewBatchName = `${name}-${StateMachines.reviewBatch.name}`;
  const reviewBatch = new sfn.StateMachine(stack, "ReviewBatch", {
    stateMachineName: reviewBatchName,
    // STANDARD: its children wait for reviewers.
    stateMachineType: sfn.StateMachineType.STANDARD,
    definitionBody: sfn.DefinitionBody.fromString(readDefinition(StateMachines.reviewBatch.file)),
    definitionSubstitutions: {
      [OtherSubstitutions.reviewImageStateMachineArn]: stateMachineArn(stack, reviewImageName),
    },
  });
  reviewBatch.addToRolePolicy(readObjects(bucket, Prefixes.manifests));
  reviewBatch.addToRolePolicy(writeObjects(bucket, Prefixes.batchResults));
  reviewBatch.addToRolePolicy(
    new iam.PolicyStatement({
      // The Distributed Map starts its own child executions and stops them when it fails.
      actions: ["states:StartExecution", "states:DescribeExecution", "states:StopExecution"],
      resources: [
        stateMachineArn(stack, reviewBatchName),
        `${stateMachineArn(stack, reviewBatchName)}/*`,
        stateMachineArn(stack, reviewImageName),
        stack.formatArn({
          service: "states",
          resource: "execution",
          resourceName: `${reviewImageName}:*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
        stack.formatArn({
          service: "states",
          resource: "execution",
          resourceName: `${reviewBatchName}/*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
    }),
  );
  reviewBatch.addToRolePolicy(
    new iam.PolicyStatement({
      // .sync:2 learns that a child finished through this managed rule.
      actions: ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
      resources: [
        stack.formatArn({
          service: "events",
          resource: "rule",
          resourceName: "StepFunctionsGetEventsForStepFunctionsExecutionRule",
        }),
      ],
    }),
  );

  const manifestUploaded = Rules.manifestUploaded(bucket.bucketName);
  new events.Rule(stack, "ManifestUploaded", {
    description: "A manifest under manifests/ starts review-batch with the whole event as input",
    eventPattern: {
      source: manifestUploaded.source,
      detailType: manifestUploaded["detail-type"],
      detail: manifestUploaded.detail,
    },
    targets: [new targets.SfnStateMachine(reviewBatch)],
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

  // The CLI finds a stage by these names (blueprint), and the local cloud answers with the same.
  stack.addOutputs({
    [StackOutputs.bucketName]: bucket.bucketName,
    [StackOutputs.reviewImageStateMachineArn]: reviewImage.stateMachineArn,
    [StackOutputs.trainModelStateMachineArn]: trainModel.stateMachineArn,
    [StackOutputs.reviewBatchStateMachineArn]: reviewBatch.stateMachineArn,
    [StackOutputs.flowDefinitionArn]: humanReview.flowDefinitionArn,
    [StackOutputs.workteamArn]: humanReview.workteamArn,
    [StackOutputs.settingsPath]: settingsPath,
    [StackOutputs.projectArn]: project.attrArn,
  });

  return {
    functions,
    reviewImage,
    reviewBatch,
    substitutions,
    flowDefinitionArn: humanReview.flowDefinitionArn,
  };
}
