/**
 * The composition root of the Lambda handlers: real adapters over the module-scope SDK clients.
 * Each service is built on first use and then kept for the sandbox's lifetime.
 */
import { Env } from "@secondlook/core/blueprint";
import { createModelUpkeepService } from "@secondlook/core/model-upkeep";
import type { Clock, SettingsSource } from "@secondlook/core/ports";
import { createDetectService, createLabelingService, createReviewService } from "@secondlook/core/services";
import { createA2iReviewQueue } from "./adapters/a2i-review-queue";
import { createRekognitionDetector } from "./adapters/rekognition-detector";
import { createRekognitionModelHost } from "./adapters/rekognition-models";
import { createS3ObjectStore } from "./adapters/s3-object-store";
import { createSfnTaskCallback } from "./adapters/sfn-task-callback";
import { createSsmSettingsSource } from "./adapters/ssm-settings-source";
import { a2i, rekognition, s3, sfn, ssm } from "./clients";
import { env, required } from "./env";
import { logger } from "./logger";

const systemClock: Clock = { now: () => new Date() };

function once<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= build();
    return value;
  };
}

const settings = once<SettingsSource>(() => createSsmSettingsSource(ssm, env().settingsPath));
const store = once(() => createS3ObjectStore(s3));

const models = once(() => createRekognitionModelHost(rekognition));

export const upkeepService = once(() =>
  createModelUpkeepService({
    store: store(),
    models: models(),
    settings: settings(),
    clock: systemClock,
    bucket: env().bucket,
  }),
);

export const detectService = once(() =>
  createDetectService({
    detector: createRekognitionDetector(rekognition),
    settings: settings(),
    upkeep: { models: models(), used: (arn) => upkeepService().used(arn) },
  }),
);

export const reviewService = once(() =>
  createReviewService({
    store: store(),
    reviews: createA2iReviewQueue(a2i, required(env().flowDefinitionArn, Env.flowDefinitionArn)),
    callback: createSfnTaskCallback(sfn, logger),
    settings: settings(),
    clock: systemClock,
    bucket: env().bucket,
  }),
);

export const labelingService = once(() =>
  createLabelingService({ store: store(), settings: settings(), clock: systemClock, bucket: env().bucket }),
);
