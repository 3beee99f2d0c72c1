/**
 * The A2I pieces CloudFormation cannot declare: the work team (imported or created with Cognito)
 * and the human task UI + flow definition custom resource.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { FlowDefinition, Prefixes } from "@secondlook/core/blueprint";
import { humanReviewNamePrefix } from "@secondlook/functions/custom-resources/human-review-resource";
import { CustomResource, Duration, type Stack } from "aws-cdk-lib";
import * as cognito from "aws-cdk-lib/aws-cognito";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as s3 from "aws-cdk-lib/aws-s3";
import * as sagemaker from "aws-cdk-lib/aws-sagemaker";
import * as cr from "aws-cdk-lib/custom-resources";
import { Function as SstFunction } from "sst/constructs";
import { REPO_ROOT, writeObjects } from "./shared";

/** Only one private workforce may exist per account and Region, so an existing team is imported by ARN. */
export const WORKTEAM_ARN_ENV = "SECONDLOOK_WORKTEAM_ARN";

const WORKTEAM_ARN = /^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:workteam\/.+/;
const MAX_TEMPLATE_LENGTH = 128_000;

export class InvalidWorkteamArnError extends Error {
  override name = "InvalidWorkteamArnError";
}

export class WorkerTemplateError extends Error {
  override name = "WorkerTemplateError";
}

/** The work team ARN the operator configured, or undefined to create a Cognito-backed team. */
export function configuredWorkteamArn(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[WORKTEAM_ARN_ENV]?.trim();
  if (value === undefined || value === "") return undefined;
  if (!WORKTEAM_ARN.test(value)) {
    throw new InvalidWorkteamArnError(
      `${WORKTEAM_ARN_ENV} must be a SageMaker work team ARN (arn:aws:sagemaker:<region>:<account>:workteam/private-crowd/<name>), got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** Reads the worker task template at synth time; A2I takes its content, not a location. */
export function readWorkerTemplate(file: string = path.join(REPO_ROOT, FlowDefinition.templateFile)): string {
  let content: string;
  try {
    content = readFileSync(file, "utf8");
  } catch (error) {
    throw new WorkerTemplateError(
      `Cannot read the worker task template ${file}: ${(error as Error).message}`,
    );
  }
  if (content.trim() === "") throw new WorkerTemplateError(`The worker task template ${file} is empty`);
  if (content.length > MAX_TEMPLATE_LENGTH) {
    throw new WorkerTemplateError(
      `The worker task template ${file} has ${content.length} characters; A2I accepts at most ${MAX_TEMPLATE_LENGTH}`,
    );
  }
  return content;
}

/** A private work team with its own Cognito user pool; reviewers are added to the pool's group. */
function createWorkteam(stack: Stack, name: string): string {
  const userPool = new cognito.UserPool(stack, "Reviewers", {
    userPoolName: `${name}-reviewers`,
    selfSignUpEnabled: false,
    signInAliases: { email: true },
  });
  const domain = userPool.addDomain("ReviewersDomain", {
    cognitoDomain: { domainPrefix: `${name}-${stack.account}` },
  });
  // SageMaker points the client's callback URLs at the worker portal when it builds the workforce.
  const client = userPool.addClient("ReviewersClient", {
    generateSecret: true,
    oAuth: {
      flows: { authorizationCodeGrant: true, implicitCodeGrant: true },
      scopes: [cognito.OAuthScope.EMAIL, cognito.OAuthScope.OPENID, cognito.OAuthScope.PROFILE],
    },
    supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
  });
  const group = new cognito.CfnUserPoolGroup(stack, "ReviewersGroup", {
    userPoolId: userPool.userPoolId,
    groupName: "reviewers",
    description: "People who answer secondlook human reviews",
  });
  const workteam = new sagemaker.CfnWorkteam(stack, "Workteam", {
    workteamName: name,
    description: "secondlook reviewers",
    memberDefinitions: [
      {
        cognitoMemberDefinition: {
          cognitoUserPool: userPool.userPoolId,
          cognitoUserGroup: group.ref,
          cognitoClientId: client.userPoolClientId,
        },
      },
    ],
  });
  workteam.node.addDependency(domain);
  // Ref of AWS::SageMaker::Workteam is the work team's ARN.
  return workteam.ref;
}

export interface HumanReviewProps {
  bucket: s3.IBucket;
  /** `<app>-<stage>`: prefixes the work team, the A2I role's use and the flow definition names. */
  name: string;
  workteamArn: string | undefined;
  template: string;
}

/** Creates the A2I role, the work team when none is imported, and the flow definition resource. */
export function createHumanReview(stack: Stack, props: HumanReviewProps) {
  const { bucket } = props;
  const namePrefix = humanReviewNamePrefix(props.name);
  const workteamArn = props.workteamArn ?? createWorkteam(stack, namePrefix);

  const a2iRole = new iam.Role(stack, "A2IRole", {
    assumedBy: new iam.ServicePrincipal("sagemaker.amazonaws.com"),
    description: "A2I reads the images reviewers see and writes the human loop output",
  });
  // grant_read_access presigns any image the template shows, wherever the upload put it.
  a2iRole.addToPolicy(
    new iam.PolicyStatement({ actions: ["s3:GetObject"], resources: [bucket.arnForObjects("*")] }),
  );
  a2iRole.addToPolicy(writeObjects(bucket, Prefixes.humanLoopOutput));

  const sageMakerArn = (resource: string) =>
    stack.formatArn({ service: "sagemaker", resource, resourceName: `${namePrefix}-*` });
  const flowDefinitions = sageMakerArn("flow-definition");
  const humanTaskUis = sageMakerArn("human-task-ui");

  const onEvent = new SstFunction(stack, "HumanReviewOnEvent", {
    handler: "packages/functions/src/custom-resources/human-review.onEvent",
    description: "Creates, replaces and deletes the A2I human task UI and flow definition",
    timeout: "2 minutes",
  });
  onEvent.addToRolePolicy(
    new iam.PolicyStatement({
      actions: [
        "sagemaker:CreateHumanTaskUi",
        "sagemaker:DescribeHumanTaskUi",
        "sagemaker:DeleteHumanTaskUi",
      ],
      resources: [humanTaskUis],
    }),
  );
  onEvent.addToRolePolicy(
    new iam.PolicyStatement({
      actions: [
        "sagemaker:CreateFlowDefinition",
        "sagemaker:DescribeFlowDefinition",
        "sagemaker:DeleteFlowDefinition",
      ],
      resources: [flowDefinitions],
    }),
  );
  onEvent.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ["iam:PassRole"],
      resources: [a2iRole.roleArn],
      conditions: { StringEquals: { "iam:PassedToService": "sagemaker.amazonaws.com" } },
    }),
  );

  const isComplete = new SstFunction(stack, "HumanReviewIsComplete", {
    handler: "packages/functions/src/custom-resources/human-review.isComplete",
    description: "Waits for the A2I flow definition to be Active (or gone)",
    timeout: "1 minute",
  });
  isComplete.addToRolePolicy(
    new iam.PolicyStatement({ actions: ["sagemaker:DescribeFlowDefinition"], resources: [flowDefinitions] }),
  );
  isComplete.addToRolePolicy(
    new iam.PolicyStatement({ actions: ["sagemaker:DeleteHumanTaskUi"], resources: [humanTaskUis] }),
  );

  const provider = new cr.Provider(stack, "HumanReviewProvider", {
    onEventHandler: onEvent,
    isCompleteHandler: isComplete,
    // New flow definitions turn Active within seconds (the AWS sample polls every 2 s).
    queryInterval: Duration.seconds(5),
    totalTimeout: Duration.minutes(15),
  });

  const resource = new CustomResource(stack, "HumanReview", {
    serviceToken: provider.serviceToken,
    resourceType: "Custom::HumanReview",
    properties: {
      NamePrefix: namePrefix,
      UiTemplate: props.template,
      WorkteamArn: workteamArn,
      RoleArn: a2iRole.roleArn,
      OutputPath: `s3://${bucket.bucketName}/${Prefixes.humanLoopOutput.replace(/\/$/, "")}`,
      TaskTitle: FlowDefinition.taskTitle,
      TaskDescription: FlowDefinition.taskDescription,
      TaskKeywords: [...FlowDefinition.taskKeywords],
      TaskCount: FlowDefinition.taskCount,
      TaskTimeLimitInSeconds: FlowDefinition.taskTimeLimitInSeconds,
      TaskAvailabilityLifetimeInSeconds: FlowDefinition.taskAvailabilityLifetimeInSeconds,
    },
  });
  // The flow definition is validated against the role, so its policy must exist first.
  resource.node.addDependency(a2iRole);

  return {
    flowDefinitionArn: resource.getAttString("FlowDefinitionArn"),
    flowDefinitionName: resource.getAttString("FlowDefinitionName"),
    workteamArn,
    a2iRole,
  };
}
