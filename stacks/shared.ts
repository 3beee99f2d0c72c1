/** Small helpers every stack uses to name things the same way. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Prefixes } from "@secondlook/core/blueprint";
import { Arn, ArnFormat, type Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as s3 from "aws-cdk-lib/aws-s3";

/** The repository root: SST resolves handler paths from it and the stacks read files relative to it. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** SST handler path of a file under packages/functions/src/handlers (exporting `handler`). */
export const handlerPath = (file: string) => `packages/functions/src/handlers/${file}.handler`;

/** The text of a workflow file, which the stack substitutes and inlines into the template. */
export const readDefinition = (file: string) =>
  readFileSync(path.join(REPO_ROOT, "statemachines", file), "utf8");

export type Prefix = (typeof Prefixes)[keyof typeof Prefixes];

/** Object ARNs under one prefix of the data bucket. */
export const objectsUnder = (bucket: s3.IBucket, prefix: Prefix) => bucket.arnForObjects(`${prefix}*`);

/** s3:GetObject limited to the given prefixes. */
export const readObjects = (bucket: s3.IBucket, ...prefixes: Prefix[]) =>
  new iam.PolicyStatement({
    actions: ["s3:GetObject"],
    resources: prefixes.map((prefix) => objectsUnder(bucket, prefix)),
  });

/** s3:PutObject limited to the given prefixes. */
export const writeObjects = (bucket: s3.IBucket, ...prefixes: Prefix[]) =>
  new iam.PolicyStatement({
    actions: ["s3:PutObject"],
    resources: prefixes.map((prefix) => objectsUnder(bucket, prefix)),
  });

/** s3:ListBucket allowed only for listings inside the given prefixes. */
export const listObjects = (bucket: s3.IBucket, ...prefixes: Prefix[]) =>
  new iam.PolicyStatement({
    actions: ["s3:ListBucket"],
    resources: [bucket.bucketArn],
    conditions: { StringLike: { "s3:prefix": prefixes.map((prefix) => `${prefix}*`) } },
  });

/** The ARN of an SSM parameter name (which starts with "/"). */
export const parameterArn = (stack: Stack, name: string) =>
  stack.formatArn({ service: "ssm", resource: "parameter", resourceName: name.replace(/^\//, "") });

/** Reading the stage's settings: the path itself (GetParametersByPath) and every parameter below it. */
export const readSettings = (stack: Stack, settingsPath: string) =>
  new iam.PolicyStatement({
    actions: ["ssm:GetParametersByPath", "ssm:GetParameter", "ssm:GetParameters"],
    resources: [
      parameterArn(stack, settingsPath.replace(/\/$/, "")),
      parameterArn(stack, `${settingsPath}*`),
    ],
  });

/** Every version of one Custom Labels project (version ARNs are not prefixed by the project ARN). */
export const projectVersionsArn = (stack: Stack, projectName: string) =>
  stack.formatArn({
    service: "rekognition",
    resource: "project",
    resourceName: `${projectName}/version/*`,
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });

/** A state machine's ARN from its name, for policies that must not depend on the resource itself. */
export const stateMachineArn = (stack: Stack, name: string) =>
  Arn.format(
    {
      service: "states",
      resource: "stateMachine",
      resourceName: name,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    },
    stack,
  );
