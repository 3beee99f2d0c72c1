/**
 * The A2I human task UI and flow definition as one CloudFormation custom resource. CloudFormation
 * has no type for either and SageMaker has no Update API for them, so every property change makes a
 * new pair under a new content-derived name; CloudFormation then deletes the old pair.
 */
import { createHash } from "node:crypto";
import {
  CreateFlowDefinitionCommand,
  CreateHumanTaskUiCommand,
  DeleteFlowDefinitionCommand,
  DeleteHumanTaskUiCommand,
  DescribeFlowDefinitionCommand,
  DescribeHumanTaskUiCommand,
  type SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import type {
  CdkCustomResourceEvent,
  CdkCustomResourceIsCompleteEvent,
  CdkCustomResourceIsCompleteResponse,
  CdkCustomResourceResponse,
} from "aws-lambda";
import { z } from "zod";

const NAME_PATTERN = /^[a-z0-9](-*[a-z0-9])*$/;
const HASH_LENGTH = 12;
const MAX_NAME_LENGTH = 63;
/** Room left for the prefix once "-<hash>" is appended. */
export const MAX_NAME_PREFIX_LENGTH = MAX_NAME_LENGTH - HASH_LENGTH - 1;

/** CloudFormation passes every scalar as a string, so numbers are coerced. */
export const HumanReviewProperties = z.object({
  NamePrefix: z.string().max(MAX_NAME_PREFIX_LENGTH).regex(NAME_PATTERN),
  UiTemplate: z.string().min(1).max(128_000),
  WorkteamArn: z.string().regex(/^arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:[0-9]{12}:workteam\/.+/),
  RoleArn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/),
  OutputPath: z
    .string()
    .max(1024)
    .regex(/^s3:\/\/[^/]+\/?.*$/),
  TaskTitle: z.string().min(1).max(128),
  TaskDescription: z.string().min(1).max(255),
  TaskKeywords: z
    .array(
      z
        .string()
        .min(1)
        .max(30)
        .regex(/^[A-Za-z0-9]+( [A-Za-z0-9]+)*$/),
    )
    .min(1)
    .max(5),
  TaskCount: z.coerce.number().int().min(1).max(3),
  TaskTimeLimitInSeconds: z.coerce.number().int().min(30).max(28_800),
  TaskAvailabilityLifetimeInSeconds: z.coerce.number().int().min(1).max(864_000),
});
export type HumanReviewProperties = z.infer<typeof HumanReviewProperties>;

/** What `Fn::GetAtt` can read from the resource. */
export interface HumanReviewData {
  FlowDefinitionArn: string;
  FlowDefinitionName: string;
  HumanTaskUiArn: string;
}

export class InvalidHumanReviewPropertiesError extends Error {
  override name = "InvalidHumanReviewPropertiesError";
}

export class FlowDefinitionFailedError extends Error {
  override name = "FlowDefinitionFailedError";
}

export class FlowDefinitionInUseError extends Error {
  override name = "FlowDefinitionInUseError";
}

/** Turns any app/stage text into a valid name prefix (lower-case, dashes, short enough for a hash). */
export function humanReviewNamePrefix(text: string): string {
  const cleaned = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .slice(0, MAX_NAME_PREFIX_LENGTH)
    .replace(/^-+|-+$/g, "");
  return cleaned === "" ? "secondlook" : cleaned;
}

/** Parses the resource properties CloudFormation sent, naming every invalid field. */
export function parseHumanReviewProperties(raw: unknown): HumanReviewProperties {
  const parsed = HumanReviewProperties.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new InvalidHumanReviewPropertiesError(`Invalid human review properties: ${problems.join("; ")}`);
  }
  return parsed.data;
}

/** The name both SageMaker resources get: the prefix plus a hash of everything that configures them. */
export function humanReviewName(props: HumanReviewProperties): string {
  const canonical = JSON.stringify(Object.entries(props).sort(([a], [b]) => a.localeCompare(b)));
  const hash = createHash("sha256").update(canonical).digest("hex").slice(0, HASH_LENGTH);
  return `${props.NamePrefix}-${hash}`;
}

/** True for physical ids this resource minted; anything else (a failed create's request id) owns nothing. */
export function isHumanReviewName(name: string | undefined): name is string {
  return (
    name !== undefined &&
    name.length <= MAX_NAME_LENGTH &&
    NAME_PATTERN.test(name) &&
    new RegExp(`-[0-9a-f]{${HASH_LENGTH}}$`).test(name)
  );
}

const isAwsError = (error: unknown, name: string) => error instanceof Error && error.name === name;

/** Builds the provider's two handlers around a SageMaker client. */
export function createHumanReviewResource(sagemaker: SageMakerClient) {
  async function ensureHumanTaskUi(name: string, template: string): Promise<string> {
    try {
      const created = await sagemaker.send(
        new CreateHumanTaskUiCommand({ HumanTaskUiName: name, UiTemplate: { Content: template } }),
      );
      return required(created.HumanTaskUiArn, "CreateHumanTaskUi returned no HumanTaskUiArn");
    } catch (error) {
      // The name is content-derived, so an existing UI of that name is this one from a retried request.
      if (!isAwsError(error, "ResourceInUse")) throw error;
      const existing = await sagemaker.send(new DescribeHumanTaskUiCommand({ HumanTaskUiName: name }));
      return required(existing.HumanTaskUiArn, "DescribeHumanTaskUi returned no HumanTaskUiArn");
    }
  }

  async function ensureFlowDefinition(
    name: string,
    props: HumanReviewProperties,
    humanTaskUiArn: string,
  ): Promise<string> {
    try {
      const created = await sagemaker.send(
        new CreateFlowDefinitionCommand({
          FlowDefinitionName: name,
          RoleArn: props.RoleArn,
          OutputConfig: { S3OutputPath: props.OutputPath },
          HumanLoopConfig: {
            WorkteamArn: props.WorkteamArn,
            HumanTaskUiArn: humanTaskUiArn,
            TaskTitle: props.TaskTitle,
            TaskDescription: props.TaskDescription,
            TaskKeywords: props.TaskKeywords,
            TaskCount: props.TaskCount,
            TaskTimeLimitInSeconds: props.TaskTimeLimitInSeconds,
            TaskAvailabilityLifetimeInSeconds: props.TaskAvailabilityLifetimeInSeconds,
          },
        }),
      );
      return required(created.FlowDefinitionArn, "CreateFlowDefinition returned no FlowDefinitionArn");
    } catch (error) {
      if (!isAwsError(error, "ResourceInUse")) throw error;
      const existing = await sagemaker.send(new DescribeFlowDefinitionCommand({ FlowDefinitionName: name }));
      return required(existing.FlowDefinitionArn, "DescribeFlowDefinition returned no FlowDefinitionArn");
    }
  }

  async function create(props: HumanReviewProperties): Promise<CdkCustomResourceResponse<HumanReviewData>> {
    const name = humanReviewName(props);
    const humanTaskUiArn = await ensureHumanTaskUi(name, props.UiTemplate);
    let flowDefinitionArn: string;
    try {
      flowDefinitionArn = await ensureFlowDefinition(name, props, humanTaskUiArn);
    } catch (error) {
      // A failed create's physical id is not ours, so the later Delete could not find this UI.
      await deleteHumanTaskUi(name);
      throw error;
    }
    return {
      PhysicalResourceId: name,
      Data: {
        FlowDefinitionArn: flowDefinitionArn,
        FlowDefinitionName: name,
        HumanTaskUiArn: humanTaskUiArn,
      },
    };
  }

  async function deleteHumanTaskUi(name: string): Promise<void> {
    try {
      await sagemaker.send(new DeleteHumanTaskUiCommand({ HumanTaskUiName: name }));
    } catch (error) {
      if (!isAwsError(error, "ResourceNotFound")) throw error;
    }
  }

  async function describeStatus(
    name: string,
  ): Promise<{ status?: string; failureReason?: string } | undefined> {
    try {
      const described = await sagemaker.send(new DescribeFlowDefinitionCommand({ FlowDefinitionName: name }));
      return { status: described.FlowDefinitionStatus, failureReason: described.FailureReason };
    } catch (error) {
      if (isAwsError(error, "ResourceNotFound")) return undefined;
      throw error;
    }
  }

  return {
    /** Creates (or, on a changed configuration, re-creates under a new name) or deletes the pair. */
    async onEvent(event: CdkCustomResourceEvent): Promise<CdkCustomResourceResponse<HumanReviewData>> {
      if (event.RequestType === "Delete") {
        const name = event.PhysicalResourceId;
        if (!isHumanReviewName(name)) return { PhysicalResourceId: name };
        try {
          await sagemaker.send(new DeleteFlowDefinitionCommand({ FlowDefinitionName: name }));
        } catch (error) {
          if (isAwsError(error, "ResourceInUse")) {
            throw new FlowDefinitionInUseError(
              `Flow definition ${name} still has human loops in progress; stop or finish them, then delete again.`,
            );
          }
          if (!isAwsError(error, "ResourceNotFound")) throw error;
        }
        return { PhysicalResourceId: name };
      }
      const { ServiceToken: _serviceToken, ...raw } = event.ResourceProperties;
      return create(parseHumanReviewProperties(raw));
    },

    /** Create/Update: done once the flow definition is Active. Delete: done once it is gone (then the UI goes). */
    async isComplete(event: CdkCustomResourceIsCompleteEvent): Promise<CdkCustomResourceIsCompleteResponse> {
      const name = event.PhysicalResourceId;
      if (event.RequestType === "Delete") {
        if (!isHumanReviewName(name)) return { IsComplete: true };
        const current = await describeStatus(name);
        if (current !== undefined) return { IsComplete: false };
        // The UI cannot go while a flow definition still uses it.
        await deleteHumanTaskUi(name);
        return { IsComplete: true };
      }
      if (name === undefined)
        throw new FlowDefinitionFailedError("onEvent returned no physical id to wait on");
      const current = await describeStatus(name);
      if (current === undefined) throw new FlowDefinitionFailedError(`Flow definition ${name} disappeared`);
      if (current.status === "Failed") {
        throw new FlowDefinitionFailedError(
          `Flow definition ${name} failed: ${current.failureReason ?? "no reason given"}`,
        );
      }
      return { IsComplete: current.status === "Active" };
    },
  };
}

function required(value: string | undefined, message: string): string {
  if (value === undefined) throw new FlowDefinitionFailedError(message);
  return value;
}
