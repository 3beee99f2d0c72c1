import { A2I_CORS_RULE, Prefixes, settingsPath } from "@secondlook/core/blueprint";
import { Settings } from "@secondlook/core/settings";
import { RemovalPolicy } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import { CfnProject } from "aws-cdk-lib/aws-rekognition";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as ssm from "aws-cdk-lib/aws-ssm";
import type { StackContext } from "sst/constructs";
import { objectsUnder } from "./shared";

/** What an empty setting (no active model yet) is stored as, since SSM needs at least one character. */
export const EMPTY_SETTING_VALUE = " ";

/** The SSM parameter that holds each setting, keyed by its name suffix (`min-confidence`). */
export type SettingParameters = Record<string, ssm.StringParameter>;

/**
 * The data bucket, the settings parameters and the Custom Labels project: everything that holds
 * state, kept apart from the workflow stacks so redeploying a workflow never touches data.
 */
export function Storage({ stack, app }: StackContext) {
  const bucket = new s3.Bucket(stack, "Data", {
    // Object Created events reach the EventBridge rules without a notification Lambda.
    eventBridgeEnabled: true,
    // A2I's worker page fetches input images from the browser, so the bucket must answer CORS GETs.
    cors: [
      {
        allowedHeaders: A2I_CORS_RULE.allowedHeaders,
        allowedMethods: A2I_CORS_RULE.allowedMethods.map((method) => method as s3.HttpMethods),
        allowedOrigins: A2I_CORS_RULE.allowedOrigins,
        exposedHeaders: A2I_CORS_RULE.exposedHeaders,
      },
    ],
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    // Labeled images are the product of human work; never lose them with a stack.
    removalPolicy: RemovalPolicy.RETAIN,
  });

  const path = settingsPath(app.stage);
  const parameters: SettingParameters = {};
  for (const [suffix, value] of Object.entries(Settings.toParameters(Settings.defaults()))) {
    parameters[suffix] = new ssm.StringParameter(stack, `Setting-${suffix}`, {
      parameterName: `${path}${suffix}`,
      // SSM refuses empty values; core trims string settings, so a blank reads back as "".
      stringValue: value === "" ? EMPTY_SETTING_VALUE : value,
      description: `secondlook setting ${suffix}: read by the handlers at run time; edit it to change behaviour.`,
    });
  }

  // Custom Labels reads the training data and writes evaluation output as its own service principal.
  const sameAccount = { StringEquals: { "aws:SourceAccount": stack.account } };
  bucket.addToResourcePolicy(
    new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal("rekognition.amazonaws.com")],
      actions: ["s3:GetBucketAcl", "s3:GetBucketLocation"],
      resources: [bucket.bucketArn],
      conditions: sameAccount,
    }),
  );
  bucket.addToResourcePolicy(
    new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal("rekognition.amazonaws.com")],
      actions: ["s3:GetObject", "s3:GetObjectAcl", "s3:GetObjectVersion", "s3:GetObjectTagging"],
      resources: [objectsUnder(bucket, Prefixes.labeled), objectsUnder(bucket, Prefixes.trainingManifests)],
      conditions: sameAccount,
    }),
  );
  bucket.addToResourcePolicy(
    new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal("rekognition.amazonaws.com")],
      actions: ["s3:PutObject"],
      resources: [objectsUnder(bucket, Prefixes.modelOutput)],
      conditions: sameAccount,
    }),
  );

  const projectName = `${app.name}-${app.stage}`;
  const project = new CfnProject(stack, "Project", { projectName });

  return {
    bucket,
    settingsPath: path,
    parameters,
    activeModelParameterName: `${path}${Settings.parameterName("activeModelVersionArn")}`,
    project,
    projectName,
  };
}
