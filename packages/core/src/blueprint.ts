/**
 * The one declaration of what a secondlook deployment is made of. The SST stacks and the local
 * cloud both provision from this module, so the two can never drift apart.
 */

/** Key prefixes inside the data bucket. Every prefix ends with "/" so rules can match on it. */
export const Prefixes = {
  /** Uploading an image here starts review-image. */
  detection: "images_for_detection/",
  /** `<label>/` folders: a valid "labels by folder" data set. */
  labeled: "images_labeled_by_folder/",
  /** Uploading a manifest here starts review-batch. */
  manifests: "manifests/",
  batchResults: "batch-results/",
  /** Images a batch's manifest names, staged by `secondlook run`; no rule starts review-image here. */
  batchInputs: "batch-inputs/",
  /** A2I writes `<flow definition>/YYYY/MM/DD/hh/mm/ss/<loop>/output.json` below this. */
  humanLoopOutput: "a2i-output/",
  /** One JSON record per reviewed image (`<execution name>.json`). */
  outcomes: "outcomes/",
  /** "None of the Above" answers, kept as negative examples outside the labeled folders. */
  negatives: "negative_examples/",
  /** Ground Truth manifests written for training. */
  trainingManifests: "training-manifests/",
  /** Custom Labels output (evaluation summaries) per model version. */
  modelOutput: "model-output/",
  /** Small bookkeeping objects (the retrain counter, per-image count markers). */
  state: "state/",
} as const;

/** The label offered to reviewers that means "not one of our classes". */
export const NONE_OF_THE_ABOVE = "None of the Above";

/**
 * Lambda functions: file under packages/functions/src/handlers, the ASL placeholder naming it, and
 * the stack that deploys it (review-image's functions, or train-model's and the model's upkeep).
 */
export const Functions = {
  detect: { handler: "detect", substitution: "DetectFunctionArn", stack: "review" },
  startHumanLoop: { handler: "start-human-loop", substitution: "StartHumanLoopFunctionArn", stack: "review" },
  onHumanLoopStatus: { handler: "on-human-loop-status", substitution: null, stack: "review" },
  copyToLabeledFolder: {
    handler: "copy-to-labeled-folder",
    substitution: "CopyToLabeledFolderFunctionArn",
    stack: "review",
  },
  keepNegativeExample: {
    handler: "keep-negative-example",
    substitution: "KeepNegativeExampleFunctionArn",
    stack: "review",
  },
  checkRetrain: { handler: "check-retrain", substitution: "CheckRetrainFunctionArn", stack: "review" },
  recordOutcome: { handler: "record-outcome", substitution: "RecordOutcomeFunctionArn", stack: "review" },
  buildTrainingManifest: {
    handler: "build-training-manifest",
    substitution: "BuildTrainingManifestFunctionArn",
    stack: "training",
  },
  /** Scheduled: stops the active model version after model-idle-stop-minutes without use. */
  stopIdleModel: { handler: "stop-idle-model", substitution: null, stack: "training" },
} as const;

/** How often the idle check runs (an EventBridge schedule on AWS, a timer in the local cloud). */
export const IDLE_CHECK_MINUTES = 5;

export type FunctionKey = keyof typeof Functions;
export type FunctionStack = (typeof Functions)[FunctionKey]["stack"];
/** The keys of the functions one stack deploys. */
export type FunctionKeyOf<S extends FunctionStack> = {
  [K in FunctionKey]: (typeof Functions)[K]["stack"] extends S ? K : never;
}[FunctionKey];

/** The functions one stack deploys, in declaration order. */
export function functionKeysOf<S extends FunctionStack>(stack: S): FunctionKeyOf<S>[] {
  return (Object.keys(Functions) as FunctionKey[]).filter(
    (key) => Functions[key].stack === stack,
  ) as FunctionKeyOf<S>[];
}

/** State machines: `statemachines/<file>`, all STANDARD because they wait for people or training. */
export const StateMachines = {
  reviewImage: { file: "review-image.asl.json", name: "review-image" },
  trainModel: { file: "train-model.asl.json", name: "train-model" },
  reviewBatch: { file: "review-batch.asl.json", name: "review-batch" },
} as const;

export type StateMachineKey = keyof typeof StateMachines;

/** Placeholders that are not function ARNs. */
export const OtherSubstitutions = {
  trainModelStateMachineArn: "TrainModelStateMachineArn",
  reviewImageStateMachineArn: "ReviewImageStateMachineArn",
  projectArn: "ProjectArn",
  bucketName: "BucketName",
  modelOutputPrefix: "ModelOutputPrefix",
  activeModelVersionParameterName: "ActiveModelVersionParameterName",
} as const;

/** The A2I flow definition's human loop settings (SageMaker CreateFlowDefinition). */
export const FlowDefinition = {
  taskTitle: "Which logo is this?",
  taskDescription: "Pick the logo shown in the image, or None of the Above if it is none of them.",
  taskKeywords: ["image", "classification", "logo"],
  taskCount: 1,
  taskTimeLimitInSeconds: 600,
  /** Three days; a loop nobody answers by then fails with FailureCode Expired. */
  taskAvailabilityLifetimeInSeconds: 259_200,
  /** The worker task template, relative to the repository root. */
  templateFile: "packages/core/templates/review-image.liquid.html",
} as const;

/**
 * review-image waits on the human loop for at most the loop's lifetime plus a margin: A2I expires
 * the loop first and says so through its status event; the state timeout is only the backstop.
 */
export const HUMAN_REVIEW_TIMEOUT_SECONDS = FlowDefinition.taskAvailabilityLifetimeInSeconds + 3_600;

/** EventBridge patterns. The same objects become CDK rule patterns and local rule filters. */
export const Rules = {
  imageUploaded: (bucketName: string) => ({
    source: ["aws.s3"],
    "detail-type": ["Object Created"],
    detail: {
      bucket: { name: [bucketName] },
      object: { key: [{ prefix: Prefixes.detection }] },
    },
  }),
  manifestUploaded: (bucketName: string) => ({
    source: ["aws.s3"],
    "detail-type": ["Object Created"],
    detail: {
      bucket: { name: [bucketName] },
      object: { key: [{ prefix: Prefixes.manifests }] },
    },
  }),
  humanLoopStatusChanged: (flowDefinitionArn: string) => ({
    source: ["aws.sagemaker"],
    "detail-type": ["SageMaker A2I HumanLoop Status Change"],
    detail: { flowDefinitionArn: [flowDefinitionArn] },
  }),
} as const;

/** Environment variable names the handlers read (values come from the stack or the local cloud). */
export const Env = {
  bucket: "SECONDLOOK_BUCKET",
  settingsPath: "SECONDLOOK_SETTINGS_PATH",
  flowDefinitionArn: "SECONDLOOK_FLOW_DEFINITION_ARN",
  projectArn: "SECONDLOOK_PROJECT_ARN",
  trainModelStateMachineArn: "SECONDLOOK_TRAIN_MODEL_STATE_MACHINE_ARN",
} as const;

/** SSM path under which one stage keeps its settings: `/secondlook/<stage>/<setting-name>`. */
export const settingsPath = (stage: string) => `/secondlook/${stage}/`;

/** CORS rule A2I needs on every bucket that holds input images. */
export const A2I_CORS_RULE = {
  allowedHeaders: [] as string[],
  allowedMethods: ["GET"],
  allowedOrigins: ["*"],
  exposedHeaders: [] as string[],
};

/** SST v2's stack ids for one stage, in deploy order (sst.config.ts). */
export const STACK_IDS = ["Storage", "Training", "Review"] as const;
export type StackId = (typeof STACK_IDS)[number];

/** SST v2 names each stack `<stage>-<app>-<stack id>`; the app is "secondlook" (sst.config.ts). */
export const stackName = (stage: string, stack: StackId) => `${stage}-secondlook-${stack}`;

/** The Review stack's outputs: how the CLI finds a deployed stage's bucket, ARNs and settings. */
export const StackOutputs = {
  bucketName: "BucketName",
  reviewImageStateMachineArn: "ReviewImageStateMachineArn",
  trainModelStateMachineArn: "TrainModelStateMachineArn",
  reviewBatchStateMachineArn: "ReviewBatchStateMachineArn",
  flowDefinitionArn: "FlowDefinitionArn",
  workteamArn: "WorkteamArn",
  settingsPath: "SettingsPath",
  projectArn: "ProjectArn",
} as const;
