/**
 * Request schemas of the A2I runtime and the SageMaker flow-definition/task-UI operations, with the
 * constraints of the service models (aws-contracts.md §1.2, §4.1, §4.2). Violations become
 * ValidationException with AWS-style messages.
 */
import { z } from "zod";
import { ServiceError } from "../edge/protocol";

const pattern = (re: RegExp) => ({ error: `Member must satisfy regular expression pattern: ${re.source}` });
const maxLength = (n: number) => ({ error: `Member must have length less than or equal to ${n}` });
const minLength = (n: number) => ({ error: `Member must have length greater than or equal to ${n}` });
const boundedString = (min: number, max: number) =>
  z.string().min(min, minLength(min)).max(max, maxLength(max));
const boundedInt = (min: number, max: number) =>
  z
    .number()
    .int({ error: "Member must be an integer" })
    .min(min, { error: `Member must have value greater than or equal to ${min}` })
    .max(max, { error: `Member must have value less than or equal to ${max}` });

export const HUMAN_LOOP_NAME = /^[a-z0-9](-*[a-z0-9])*$/;
const FLOW_DEFINITION_NAME = /^[a-z0-9](-*[a-z0-9]){0,62}$/;
const FLOW_DEFINITION_ARN = /^arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:[0-9]{12}:flow-definition\/.*$/;
const HUMAN_TASK_UI_ARN = /^arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:[0-9]{12}:human-task-ui\/.*$/;
const WORKTEAM_ARN = /^arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:[0-9]{12}:workteam\/.*$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/;
const S3_OUTPUT_PATH = /^(https|s3):\/\/([^/]+)\/?(.*)$/;
const KMS_KEY_ID = /^[a-zA-Z0-9:/_-]*$/;
const TASK_KEYWORD = /^[A-Za-z0-9]+( [A-Za-z0-9]+)*$/;

/** A2I's InputContent limit, in characters. */
export const MAX_INPUT_CONTENT_CHARS = 3_145_728;

export const humanLoopName = boundedString(1, 63).regex(HUMAN_LOOP_NAME, pattern(HUMAN_LOOP_NAME));
export const flowDefinitionArn = boundedString(1, 1024).regex(
  FLOW_DEFINITION_ARN,
  pattern(FLOW_DEFINITION_ARN),
);
const sortOrder = z.enum(["Ascending", "Descending"], {
  error: "Member must satisfy enum value set: [Ascending, Descending]",
});
const nextToken = z.string().max(8192, maxLength(8192));
const maxResults = boundedInt(1, 100);

export const StartHumanLoopRequest = z.object({
  HumanLoopName: humanLoopName,
  FlowDefinitionArn: flowDefinitionArn,
  HumanLoopInput: z.object({
    InputContent: z.string().max(MAX_INPUT_CONTENT_CHARS, maxLength(MAX_INPUT_CONTENT_CHARS)),
  }),
  DataAttributes: z
    .object({
      ContentClassifiers: z
        .array(
          z.enum(["FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent"], {
            error:
              "Member must satisfy enum value set: [FreeOfPersonallyIdentifiableInformation, FreeOfAdultContent]",
          }),
        )
        .max(256, maxLength(256)),
    })
    .optional(),
});
export type StartHumanLoopRequest = z.infer<typeof StartHumanLoopRequest>;

export const HumanLoopNameRequest = z.object({ HumanLoopName: humanLoopName });

/** ListHumanLoops after its query string was read into typed values. */
export const ListHumanLoopsRequest = z.object({
  FlowDefinitionArn: flowDefinitionArn,
  CreationTimeAfter: z.date().optional(),
  CreationTimeBefore: z.date().optional(),
  SortOrder: sortOrder.optional(),
  NextToken: nextToken.optional(),
  MaxResults: maxResults.optional(),
});
export type ListHumanLoopsRequest = z.infer<typeof ListHumanLoopsRequest>;

const tags = z
  .array(z.object({ Key: boundedString(1, 128), Value: boundedString(0, 256) }))
  .max(50, maxLength(50))
  .optional();
const resourceName = boundedString(1, 63).regex(HUMAN_LOOP_NAME, pattern(HUMAN_LOOP_NAME));

export const CreateHumanTaskUiRequest = z.object({
  HumanTaskUiName: resourceName,
  UiTemplate: z.object({ Content: boundedString(1, 128_000) }),
  Tags: tags,
});

export const HumanTaskUiNameRequest = z.object({ HumanTaskUiName: resourceName });

export const HumanLoopConfigSchema = z.object({
  WorkteamArn: z.string().max(256, maxLength(256)).regex(WORKTEAM_ARN, pattern(WORKTEAM_ARN)),
  HumanTaskUiArn: z.string().max(1024, maxLength(1024)).regex(HUMAN_TASK_UI_ARN, pattern(HUMAN_TASK_UI_ARN)),
  TaskTitle: boundedString(1, 128),
  TaskDescription: boundedString(1, 255),
  TaskCount: boundedInt(1, 3),
  TaskAvailabilityLifetimeInSeconds: boundedInt(1, 864_000).optional(),
  TaskTimeLimitInSeconds: boundedInt(30, 28_800).optional(),
  TaskKeywords: z
    .array(boundedString(1, 30).regex(TASK_KEYWORD, pattern(TASK_KEYWORD)))
    .min(1, minLength(1))
    .max(5, maxLength(5))
    .optional(),
  PublicWorkforceTaskPrice: z
    .object({
      AmountInUsd: z
        .object({
          Dollars: boundedInt(0, 2).optional(),
          Cents: boundedInt(0, 99).optional(),
          TenthFractionsOfACent: boundedInt(0, 9).optional(),
        })
        .optional(),
    })
    .optional(),
});

export const CreateFlowDefinitionRequest = z.object({
  FlowDefinitionName: boundedString(1, 63).regex(FLOW_DEFINITION_NAME, pattern(FLOW_DEFINITION_NAME)),
  RoleArn: boundedString(20, 2048).regex(ROLE_ARN, pattern(ROLE_ARN)),
  OutputConfig: z.object({
    S3OutputPath: z.string().max(1024, maxLength(1024)).regex(S3_OUTPUT_PATH, pattern(S3_OUTPUT_PATH)),
    KmsKeyId: z.string().max(2048, maxLength(2048)).regex(KMS_KEY_ID, pattern(KMS_KEY_ID)).optional(),
  }),
  HumanLoopConfig: HumanLoopConfigSchema.optional(),
  HumanLoopRequestSource: z
    .object({
      AwsManagedHumanLoopRequestSource: z.enum([
        "AWS/Rekognition/DetectModerationLabels/Image/V3",
        "AWS/Textract/AnalyzeDocument/Forms/V1",
      ]),
    })
    .optional(),
  HumanLoopActivationConfig: z
    .object({
      HumanLoopActivationConditionsConfig: z.object({
        HumanLoopActivationConditions: boundedString(1, 10_240),
      }),
    })
    .optional(),
  Tags: tags,
});
export type CreateFlowDefinitionRequest = z.infer<typeof CreateFlowDefinitionRequest>;

export const FlowDefinitionNameRequest = z.object({
  FlowDefinitionName: boundedString(1, 63).regex(FLOW_DEFINITION_NAME, pattern(FLOW_DEFINITION_NAME)),
});

/** SageMaker list operations share these members; timestamps arrive as epoch seconds. */
export const SageMakerListRequest = z.object({
  CreationTimeAfter: z.number().optional(),
  CreationTimeBefore: z.number().optional(),
  SortOrder: sortOrder.optional(),
  SortBy: z.string().optional(),
  NextToken: nextToken.optional(),
  MaxResults: maxResults.optional(),
});

export const RenderUiTemplateRequest = z
  .object({
    UiTemplate: z.object({ Content: boundedString(1, 128_000) }).optional(),
    HumanTaskUiArn: z
      .string()
      .max(1024, maxLength(1024))
      .regex(HUMAN_TASK_UI_ARN, pattern(HUMAN_TASK_UI_ARN))
      .optional(),
    Task: z.object({ Input: boundedString(2, 128_000) }),
    RoleArn: boundedString(20, 2048).regex(ROLE_ARN, pattern(ROLE_ARN)),
  })
  .refine((r) => (r.UiTemplate === undefined) !== (r.HumanTaskUiArn === undefined), {
    error: "Exactly one of UiTemplate and HumanTaskUiArn must be provided",
  });

function memberPath(path: readonly PropertyKey[]): string {
  return path
    .map((part) =>
      typeof part === "string" ? part.charAt(0).toLowerCase() + part.slice(1) : `${String(part)}.member`,
    )
    .join(".");
}

/** Validates `input` against `schema`, or throws ValidationException listing every violation. */
export function parseRequest<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const details = issues.map((issue) => {
    const at = memberPath(issue.path);
    const missing = issue.code === "invalid_type" && issue.input === undefined;
    if (missing) return `Value null at '${at}' failed to satisfy constraint: Member must not be null`;
    return at ? `Value at '${at}' failed to satisfy constraint: ${issue.message}` : issue.message;
  });
  const count = `${issues.length} validation error${issues.length === 1 ? "" : "s"} detected`;
  throw new ServiceError("ValidationException", `${count}: ${details.join("; ")}`.slice(0, 1024));
}
