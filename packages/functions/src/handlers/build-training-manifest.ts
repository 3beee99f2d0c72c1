/**
 * BuildTrainingManifest: `{executionName, input}` → a training plan. Checks the training criteria,
 * then writes a Ground Truth image-classification manifest of `images_labeled_by_folder/<label>/`
 * for Custom Labels and returns what the rest of train-model needs.
 */
import { paginateListObjectsV2, type S3Client } from "@aws-sdk/client-s3";
import { paginateListExecutions, type SFNClient } from "@aws-sdk/client-sfn";
import { Prefixes } from "@secondlook/core/blueprint";
import { InvalidInputError } from "@secondlook/core/errors";
import type { ObjectRef } from "@secondlook/core/events";
import { createManifestBuilder, InvalidManifestError } from "@secondlook/core/manifest";
import type { ObjectStore, SettingsSource } from "@secondlook/core/ports";
import type { Settings } from "@secondlook/core/settings";
import { parseWith } from "@secondlook/core/validation";
import { z } from "zod";
import { createS3ObjectStore } from "../adapters/s3-object-store";
import { createSsmSettingsSource } from "../adapters/ssm-settings-source";
import { s3, sfn, ssm } from "../clients";
import { env } from "../env";

/** The reason review-image's StartRetraining gives; any other start is an operator's. */
export const AUTOMATIC_REASON = "new-labels";

export const BuildTrainingManifestInput = z.object({
  executionName: z.string().min(1).max(80),
  /** `$$.StateMachine.Id` and `$$.Execution.StartTime`: which trainings run beside this one, and which came first. */
  stateMachineArn: z.string().min(1).optional(),
  startTime: z.iso.datetime({ offset: true }).optional(),
  input: z.looseObject({ reason: z.string().optional() }).default({}),
});

/** A train-model execution that is still RUNNING. */
export interface RunningTraining {
  name: string;
  startDate: Date;
}

/** Lists the RUNNING executions of a state machine. */
export type ListRunningTrainings = (stateMachineArn: string) => AsyncIterable<RunningTraining>;

/**
 * Whether `other` goes before `self`: it started earlier, or at the same instant with a smaller name.
 * Every pair of running trainings agrees on the order, so exactly one of them goes ahead.
 */
export function startedBefore(other: RunningTraining, self: RunningTraining): boolean {
  const delta = other.startDate.getTime() - self.startDate.getTime();
  return delta < 0 || (delta === 0 && other.name < self.name);
}

/** ListExecutions(statusFilter RUNNING), page by page. */
export function listRunningExecutions(client: SFNClient): ListRunningTrainings {
  return async function* (stateMachineArn) {
    for await (const page of paginateListExecutions(
      { client },
      { stateMachineArn, statusFilter: "RUNNING" },
    )) {
      for (const execution of page.executions ?? []) {
        if (execution.name && execution.startDate) {
          yield { name: execution.name, startDate: execution.startDate };
        }
      }
    }
  };
}

export interface ListedObject {
  key: string;
  lastModified: Date;
}

/** Streams the objects under a prefix, page by page. */
export type ListObjects = (prefix: string) => AsyncIterable<ListedObject>;

/** The settings the later states of train-model read from the plan. */
export type TrainingSettings = Pick<
  Settings,
  | "minF1ToDeploy"
  | "minInferenceUnits"
  | "trainingPollSeconds"
  | "deployPollSeconds"
  | "activeModelVersionArn"
>;

export type TrainingPlan =
  | { train: false; reason: string }
  | {
      train: true;
      versionName: string;
      manifest: ObjectRef;
      labels: Record<string, number>;
      imageCount: number;
      settings: TrainingSettings;
    };

/** A Custom Labels VersionName (`[a-zA-Z0-9_.-]{1,255}`) unique per train-model execution. */
export const versionNameOf = (executionName: string) => executionName.replace(/[^a-zA-Z0-9_.-]/g, "-");

/** Lists keys with ListObjectsV2, never holding more than one page. */
export function listS3Objects(client: S3Client, bucket: string): ListObjects {
  return async function* (prefix) {
    for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: prefix })) {
      for (const item of page.Contents ?? []) {
        if (item.Key !== undefined) yield { key: item.Key, lastModified: item.LastModified ?? new Date(0) };
      }
    }
  };
}

/** Builds the planner around its ports; the handler below wires the AWS ones. */
export function createTrainingPlanner(deps: {
  list: ListObjects;
  store: ObjectStore;
  settings: SettingsSource;
  bucket: string;
  /** Without it (or without the execution's identity in the payload) no in-progress check is made. */
  running?: ListRunningTrainings;
}) {
  return async (payload: unknown): Promise<TrainingPlan> => {
    const { executionName, input, stateMachineArn, startTime } = parseWith(
      BuildTrainingManifestInput,
      payload,
      InvalidInputError,
      "Invalid BuildTrainingManifest payload",
    );
    const settings = await deps.settings.load();
    if (input.reason === AUTOMATIC_REASON && !settings.autoTrainingEnabled) {
      return { train: false, reason: "Automatic training is off (auto-training-enabled is false)." };
    }
    if (deps.running && stateMachineArn && startTime) {
      const self = { name: executionName, startDate: new Date(startTime) };
      for await (const other of deps.running(stateMachineArn)) {
        if (other.name !== executionName && startedBefore(other, self)) {
          // Its manifest was built from the same folders; this crossing's labels join the next training.
          return { train: false, reason: `Training ${other.name} is already in progress.` };
        }
      }
    }
    const builder = createManifestBuilder(deps.bucket);
    const lines: string[] = [];
    for await (const object of deps.list(Prefixes.labeled)) {
      const line = builder.add(object.key, object.lastModified);
      if (line !== undefined) lines.push(line);
    }
    let counts: Map<string, number>;
    try {
      counts = builder.finish();
    } catch (error) {
      // Too few labels is a normal state of a young deployment, not a failed execution.
      if (error instanceof InvalidManifestError) return { train: false, reason: error.message };
      throw error;
    }
    const manifest = { bucket: deps.bucket, key: `${Prefixes.trainingManifests}${executionName}.manifest` };
    await deps.store.put(manifest, `${lines.join("\n")}\n`, "application/jsonl");
    const {
      minF1ToDeploy,
      minInferenceUnits,
      trainingPollSeconds,
      deployPollSeconds,
      activeModelVersionArn,
    } = settings;
    return {
      train: true,
      versionName: versionNameOf(executionName),
      manifest,
      labels: Object.fromEntries(counts),
      imageCount: lines.length,
      settings: {
        minF1ToDeploy,
        minInferenceUnits,
        trainingPollSeconds,
        deployPollSeconds,
        activeModelVersionArn,
      },
    };
  };
}

let planner: ReturnType<typeof createTrainingPlanner> | undefined;

export const handler = async (payload: unknown) => {
  planner ??= createTrainingPlanner({
    list: listS3Objects(s3, env().bucket),
    store: createS3ObjectStore(s3),
    settings: createSsmSettingsSource(ssm, env().settingsPath),
    bucket: env().bucket,
    running: listRunningExecutions(sfn),
  });
  return planner(payload);
};
