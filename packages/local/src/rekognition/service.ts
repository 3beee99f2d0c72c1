/**
 * The local Rekognition Custom Labels service (awsJson1_1, `X-Amz-Target: RekognitionService.<Op>`):
 * projects, model versions trained by the embedded detector, start/stop, and DetectCustomLabels.
 * State survives restarts under `<dataDir>/rekognition/`; a version that was RUNNING runs again.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { NONE_OF_THE_ABOVE, Prefixes } from "@secondlook/core/blueprint";
import { z } from "zod";
import {
  type Clock,
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  type LocalObjects,
  type ServiceHandler,
  systemClock,
} from "../contracts";
import { deriveSeed } from "../demo/prng";
import { readBody, ServiceError, sendAwsJsonError, sendJson, toServiceError } from "../edge/protocol";
import { ImageDimensionsError, UnsupportedImageFormatError } from "./decode";
import { type DetectorModel, InvalidModelError } from "./detector";
import { createDetectorPool, type DetectorPoolOptions } from "./pool";
import {
  createRekognitionStore,
  type ProjectRecord,
  type RekognitionState,
  type VersionRecord,
  type VersionStatus,
} from "./store";
import { runTraining, TrainingFailedError } from "./training";

const CONTENT_TYPE = "application/x-amz-json-1.1";
const NAMESPACE = "com.amazonaws.rekognition";
/** Custom Labels' detection limits: 4 MB for raw bytes, 15 MB for an S3 object. */
export const MAX_BYTES_IMAGE = 4 * 1024 * 1024;
export const MAX_S3_IMAGE = 15 * 1024 * 1024;
/** Base64 of a 4 MB image plus JSON framing fits well inside this; anything larger is an oversized image. */
const MAX_REQUEST_BYTES = 8 * 1024 * 1024;
/** How long STARTING and STOPPING last at timeScale 1 (real AWS takes minutes). */
const START_DELAY_MS = 2_000;
const STOP_DELAY_MS = 1_000;
/** Training is never reported done sooner than this (timeScale 1), so pollers see TRAINING_IN_PROGRESS. */
const MIN_TRAINING_MS = 1_000;

export interface LocalRekognitionOptions {
  dataDir: string;
  objects: LocalObjects;
  clock?: Clock;
  /** Multiplies every simulated delay (0.01 in tests). */
  timeScale?: number;
  /** Where DetectCustomLabels' CPU work runs (pool.ts); tests shrink or replace the workers. */
  detectorPool?: DetectorPoolOptions;
}

export interface LocalRekognition {
  handler: ServiceHandler;
  /** Resolves when no training is running and no transition is pending (tests and shutdown). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

const NAME = /^[a-zA-Z0-9_.-]{1,255}$/;
const VERSION_ARN =
  /^arn:[a-z\d-]+:rekognition:[a-z\d-]+:\d{12}:project\/([a-zA-Z0-9_.-]{1,255})\/version\/([a-zA-Z0-9_.-]{1,255})\/[0-9]+$/;
const PROJECT_ARN = /^arn:[a-z\d-]+:rekognition:[a-z\d-]+:\d{12}:project\/([a-zA-Z0-9_.-]{1,255})\/[0-9]+$/;

const S3Object = z.object({
  Bucket: z.string().min(3).max(255),
  Name: z.string().min(1).max(1024),
  Version: z.string().min(1).max(1024).optional(),
});
const Assets = z.array(z.object({ GroundTruthManifest: z.object({ S3Object }) })).max(1);

const schemas = {
  CreateProject: z.object({
    ProjectName: z.string().regex(NAME),
    Feature: z.enum(["CUSTOM_LABELS", "CONTENT_MODERATION"]).optional(),
    AutoUpdate: z.enum(["ENABLED", "DISABLED"]).optional(),
    Tags: z.record(z.string(), z.string()).optional(),
  }),
  DescribeProjects: z.object({
    NextToken: z.string().max(1024).optional(),
    MaxResults: z.number().int().min(1).max(100).optional(),
    ProjectNames: z.array(z.string().regex(NAME)).min(1).max(10).optional(),
    Features: z.array(z.string()).optional(),
  }),
  DeleteProject: z.object({ ProjectArn: z.string().regex(PROJECT_ARN) }),
  CreateProjectVersion: z.object({
    ProjectArn: z.string().regex(PROJECT_ARN),
    VersionName: z.string().regex(NAME),
    OutputConfig: z.object({
      S3Bucket: z.string().min(3).max(255),
      S3KeyPrefix: z.string().max(1024).optional(),
    }),
    TrainingData: z.object({ Assets: Assets.optional() }).optional(),
    TestingData: z.object({ Assets: Assets.optional(), AutoCreate: z.boolean().optional() }).optional(),
    Tags: z.record(z.string(), z.string()).optional(),
    KmsKeyId: z.string().min(1).max(2048).optional(),
    VersionDescription: z.string().min(1).max(255).optional(),
  }),
  DescribeProjectVersions: z.object({
    ProjectArn: z.string().regex(PROJECT_ARN),
    VersionNames: z.array(z.string().regex(NAME)).min(1).max(10).optional(),
    NextToken: z.string().max(1024).optional(),
    MaxResults: z.number().int().min(1).max(100).optional(),
  }),
  StartProjectVersion: z.object({
    ProjectVersionArn: z.string().regex(VERSION_ARN),
    MinInferenceUnits: z.number().int().min(1),
    MaxInferenceUnits: z.number().int().min(1).optional(),
  }),
  StopProjectVersion: z.object({ ProjectVersionArn: z.string().regex(VERSION_ARN) }),
  DeleteProjectVersion: z.object({ ProjectVersionArn: z.string().regex(VERSION_ARN) }),
  DetectCustomLabels: z.object({
    ProjectVersionArn: z.string().regex(VERSION_ARN),
    Image: z.object({ Bytes: z.string().optional(), S3Object: S3Object.optional() }),
    MaxResults: z.number().int().min(0).optional(),
    MinConfidence: z.number().min(0).max(100).optional(),
  }),
};
type Operation = keyof typeof schemas;

/** The status-message tail for a model that cannot be loaded: a stale or damaged model says why. */
function reasonOf(error: unknown): string {
  return error instanceof InvalidModelError ? `: ${error.message}` : ".";
}

function invalid(message: string) {
  return new ServiceError("InvalidParameterException", message);
}

function parse<K extends Operation>(op: K, body: unknown): z.infer<(typeof schemas)[K]> {
  const result = schemas[op].safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw invalid(`${issue?.path.join(".") || "request"}: ${issue?.message ?? "invalid value"}`);
  }
  return result.data as z.infer<(typeof schemas)[K]>;
}

const seconds = (ms: number) => ms / 1000;

/** Opaque paging tokens: the offset plus a fingerprint of the query so a token cannot be replayed elsewhere. */
function encodeToken(offset: number, scope: string) {
  return Buffer.from(JSON.stringify({ o: offset, s: scope })).toString("base64url");
}

function decodeToken(token: string | undefined, scope: string): number {
  if (token === undefined) return 0;
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as {
      o?: unknown;
      s?: unknown;
    };
    if (typeof parsed.o === "number" && Number.isInteger(parsed.o) && parsed.o >= 0 && parsed.s === scope)
      return parsed.o;
  } catch {
    // falls through to the error below
  }
  throw new ServiceError(
    "InvalidPaginationTokenException",
    "The pagination token is not valid for this request",
  );
}

/** Creates the service, loading persisted projects and resuming what was in flight. */
export async function createLocalRekognition(options: LocalRekognitionOptions): Promise<LocalRekognition> {
  const { objects, clock = systemClock, timeScale = 1 } = options;
  const store = createRekognitionStore(options.dataDir);
  const state: RekognitionState = await store.load();
  const models = new Map<string, DetectorModel>();
  const pool = createDetectorPool(options.detectorPool);
  // Every running model is also in the pool's workers, which do DetectCustomLabels' CPU work.
  const run = (arn: string, model: DetectorModel) => {
    models.set(arn, model);
    pool.load(arn, model);
  };
  const unrun = (arn: string) => {
    models.delete(arn);
    pool.unload(arn);
  };
  const timers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<unknown>>();
  let closed = false;
  const shutdown = new AbortController();
  /** Waits, but lets close() cut the wait short so shutdown never hangs on a simulated delay. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        shutdown.signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      shutdown.signal.addEventListener("abort", done);
    });

  const save = () => store.save(state);
  const track = <T>(work: Promise<T>) => {
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work)).catch(() => undefined);
    return work;
  };
  const later = (ms: number, work: () => Promise<void>) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!closed) void track(work());
    }, ms * timeScale);
    timers.add(timer);
  };

  const projectByArn = (arn: string): ProjectRecord => {
    const project = state.projects.find((p) => p.arn === arn);
    if (!project) throw new ServiceError("ResourceNotFoundException", `Project ${arn} not found`);
    return project;
  };
  const versionByArn = (arn: string): VersionRecord => {
    const version = state.versions.find((v) => v.arn === arn);
    if (!version) throw new ServiceError("ResourceNotFoundException", `Project version ${arn} not found`);
    return version;
  };
  const setStatus = async (version: VersionRecord, status: VersionStatus, message: string) => {
    version.status = status;
    version.statusMessage = message;
    await save();
  };

  const train = (version: VersionRecord) => {
    const startedAt = Date.now();
    const work = async () => {
      const manifests = (assets: VersionRecord["trainingData"]["Assets"] | undefined) =>
        assets?.map((a) => ({
          Bucket: a.GroundTruthManifest.S3Object.Bucket,
          Name: a.GroundTruthManifest.S3Object.Name,
        }));
      try {
        const testing = manifests(version.testingData.Assets);
        const outcome = await runTraining(objects, {
          projectName: version.projectName,
          versionName: version.versionName,
          versionArn: version.arn,
          trainingManifests: manifests(version.trainingData.Assets) ?? [],
          ...(testing && testing.length > 0 ? { testingManifests: testing } : {}),
          output: version.outputConfig,
          negativeLabel: NONE_OF_THE_ABOVE,
          // The reviewers' None of the Above answers: kept outside the labeled folders so the
          // manifest stays valid for Custom Labels, read here so the local model learns from them.
          negativeExamplesPrefix: Prefixes.negatives,
          // Same version name, same data → same model: the seed comes from the version, not the clock.
          seed: deriveSeed(0, `${version.projectName}/${version.versionName}`),
          now: () => clock.now(),
        });
        await store.saveModel(version.projectName, version.versionName, outcome.model);
        const remaining = MIN_TRAINING_MS * timeScale - (Date.now() - startedAt);
        if (remaining > 0) await pause(remaining);
        if (closed) return;
        version.outputs = outcome.outputs;
        version.f1Score = outcome.evaluation.f1;
        version.trainingEndedAt = clock.now().getTime();
        version.billableTrainingSeconds = Math.max(1, Math.ceil((Date.now() - startedAt) / 1000));
        await setStatus(version, "TRAINING_COMPLETED", "The model is ready to run.");
      } catch (error) {
        if (closed) return;
        const message =
          error instanceof TrainingFailedError
            ? error.message
            : "Training failed because of an internal error.";
        version.trainingEndedAt = clock.now().getTime();
        await setStatus(version, "TRAINING_FAILED", message);
      }
    };
    // Deferred so CreateProjectVersion answers before any CPU-heavy work starts.
    later(0, work);
  };

  const startRunning = (version: VersionRecord) => {
    later(START_DELAY_MS, async () => {
      if (version.status !== "STARTING") return;
      try {
        run(version.arn, await store.loadModel(version.projectName, version.versionName));
        await setStatus(version, "RUNNING", "The model is running.");
      } catch (error) {
        await setStatus(version, "FAILED", `The model artifact could not be loaded${reasonOf(error)}`);
      }
    });
  };
  const finishStopping = (version: VersionRecord) => {
    later(STOP_DELAY_MS, async () => {
      if (version.status !== "STOPPING") return;
      unrun(version.arn);
      await setStatus(version, "STOPPED", "The model is stopped.");
    });
  };

  // Resume what a previous process left in flight.
  for (const version of state.versions) {
    if (version.status === "TRAINING_IN_PROGRESS") train(version);
    if (version.status === "STARTING") startRunning(version);
    if (version.status === "STOPPING") finishStopping(version);
    if (version.status === "RUNNING") {
      try {
        run(version.arn, await store.loadModel(version.projectName, version.versionName));
      } catch (error) {
        version.status = "FAILED";
        version.statusMessage = `The model artifact could not be loaded after a restart${reasonOf(error)}`;
      }
    }
  }
  await save();

  const describeVersion = (v: VersionRecord) => {
    const trained =
      v.status !== "TRAINING_IN_PROGRESS" && v.status !== "TRAINING_FAILED" && v.outputs.summary;
    const asAssets = (o: { Bucket: string; Name: string } | undefined) =>
      o ? { Assets: [{ GroundTruthManifest: { S3Object: o } }] } : undefined;
    return {
      ProjectVersionArn: v.arn,
      CreationTimestamp: seconds(v.createdAt),
      Status: v.status,
      StatusMessage: v.statusMessage,
      ...(v.minInferenceUnits !== undefined ? { MinInferenceUnits: v.minInferenceUnits } : {}),
      ...(v.maxInferenceUnits !== undefined ? { MaxInferenceUnits: v.maxInferenceUnits } : {}),
      ...(v.billableTrainingSeconds !== undefined
        ? { BillableTrainingTimeInSeconds: v.billableTrainingSeconds }
        : {}),
      ...(v.trainingEndedAt !== undefined ? { TrainingEndTimestamp: seconds(v.trainingEndedAt) } : {}),
      OutputConfig: v.outputConfig,
      TrainingDataResult: {
        Input: v.trainingData,
        ...(trained ? { Output: asAssets(v.outputs.trainingManifest) } : {}),
      },
      TestingDataResult: {
        Input: v.testingData,
        ...(trained
          ? {
              Output: {
                ...asAssets(v.outputs.testingManifest),
                AutoCreate: v.testingData.AutoCreate ?? false,
              },
            }
          : {}),
      },
      ...(trained && v.outputs.summary
        ? { EvaluationResult: { F1Score: v.f1Score, Summary: { S3Object: v.outputs.summary } } }
        : {}),
      ...(v.outputs.manifestSummary ? { ManifestSummary: { S3Object: v.outputs.manifestSummary } } : {}),
      ...(v.kmsKeyId ? { KmsKeyId: v.kmsKeyId } : {}),
      ...(v.description ? { VersionDescription: v.description } : {}),
      Feature: "CUSTOM_LABELS",
    };
  };

  const readImage = async (image: {
    Bytes?: string;
    S3Object?: z.infer<typeof S3Object>;
  }): Promise<Buffer> => {
    if ((image.Bytes === undefined) === (image.S3Object === undefined)) {
      throw invalid("Image must have exactly one of Bytes or S3Object");
    }
    if (image.Bytes !== undefined) {
      const bytes = Buffer.from(image.Bytes, "base64");
      if (bytes.length > MAX_BYTES_IMAGE) {
        throw new ServiceError("ImageTooLargeException", `Image bytes exceed ${MAX_BYTES_IMAGE} bytes`);
      }
      return bytes;
    }
    const { Bucket, Name } = image.S3Object as z.infer<typeof S3Object>;
    const head = await objects.head(Bucket, Name).catch(() => undefined);
    if (!head)
      throw new ServiceError("InvalidS3ObjectException", `Unable to get object s3://${Bucket}/${Name}`);
    if (head.size > MAX_S3_IMAGE) {
      throw new ServiceError("ImageTooLargeException", `The S3 object exceeds ${MAX_S3_IMAGE} bytes`);
    }
    try {
      return await objects.get(Bucket, Name);
    } catch {
      throw new ServiceError("InvalidS3ObjectException", `Unable to get object s3://${Bucket}/${Name}`);
    }
  };

  const operations: Record<Operation, (body: Record<string, unknown>) => Promise<unknown>> = {
    async CreateProject(body) {
      const input = parse("CreateProject", body);
      if ((input.Feature ?? "CUSTOM_LABELS") !== "CUSTOM_LABELS") {
        throw invalid("The local Rekognition supports only CUSTOM_LABELS projects");
      }
      if (state.projects.some((p) => p.name === input.ProjectName)) {
        throw new ServiceError("ResourceInUseException", `Project ${input.ProjectName} already exists`);
      }
      const createdAt = clock.now().getTime();
      const project: ProjectRecord = {
        name: input.ProjectName,
        arn: `arn:aws:rekognition:${LOCAL_REGION}:${LOCAL_ACCOUNT}:project/${input.ProjectName}/${createdAt}`,
        createdAt,
        feature: "CUSTOM_LABELS",
      };
      state.projects.push(project);
      await save();
      return { ProjectArn: project.arn };
    },

    async DescribeProjects(body) {
      const input = parse("DescribeProjects", body);
      const names = input.ProjectNames;
      const matching = state.projects
        .filter((p) => !names || names.includes(p.name))
        .sort((a, b) => b.createdAt - a.createdAt || a.name.localeCompare(b.name));
      const scope = JSON.stringify(names ?? null);
      const offset = decodeToken(input.NextToken, scope);
      const limit = input.MaxResults ?? 100;
      const page = matching.slice(offset, offset + limit);
      return {
        ProjectDescriptions: page.map((p) => ({
          ProjectArn: p.arn,
          CreationTimestamp: seconds(p.createdAt),
          Status: "CREATED",
          Datasets: [],
          Feature: p.feature,
        })),
        ...(offset + limit < matching.length ? { NextToken: encodeToken(offset + limit, scope) } : {}),
      };
    },

    async DeleteProject(body) {
      const project = projectByArn(parse("DeleteProject", body).ProjectArn);
      if (state.versions.some((v) => v.projectName === project.name)) {
        throw new ServiceError("ResourceInUseException", `Project ${project.name} still has model versions`);
      }
      state.projects = state.projects.filter((p) => p !== project);
      await save();
      return { Status: "DELETING" };
    },

    async CreateProjectVersion(body) {
      const input = parse("CreateProjectVersion", body);
      const project = projectByArn(input.ProjectArn);
      const trainingAssets = input.TrainingData?.Assets;
      if (!input.TrainingData || !input.TestingData || !trainingAssets || trainingAssets.length === 0) {
        throw invalid("A project without datasets needs TrainingData with a manifest and TestingData");
      }
      const testingAssets = input.TestingData.Assets ?? [];
      if (input.TestingData.AutoCreate === true && testingAssets.length > 0) {
        throw invalid("TestingData takes either AutoCreate or Assets, not both");
      }
      if (input.TestingData.AutoCreate !== true && testingAssets.length === 0) {
        throw invalid("TestingData needs Assets or AutoCreate: true");
      }
      if (state.versions.some((v) => v.projectName === project.name && v.versionName === input.VersionName)) {
        throw new ServiceError("ResourceInUseException", `Version ${input.VersionName} already exists`);
      }
      const createdAt = clock.now().getTime();
      const version: VersionRecord = {
        projectName: project.name,
        versionName: input.VersionName,
        arn: `arn:aws:rekognition:${LOCAL_REGION}:${LOCAL_ACCOUNT}:project/${project.name}/version/${input.VersionName}/${createdAt}`,
        createdAt,
        status: "TRAINING_IN_PROGRESS",
        statusMessage: "The model is being trained.",
        outputConfig: input.OutputConfig,
        trainingData: { Assets: trainingAssets },
        testingData: input.TestingData,
        outputs: {},
        ...(input.VersionDescription ? { description: input.VersionDescription } : {}),
        ...(input.KmsKeyId ? { kmsKeyId: input.KmsKeyId } : {}),
        ...(input.Tags ? { tags: input.Tags } : {}),
      };
      state.versions.push(version);
      await save();
      train(version);
      return { ProjectVersionArn: version.arn };
    },

    async DescribeProjectVersions(body) {
      const input = parse("DescribeProjectVersions", body);
      const project = projectByArn(input.ProjectArn);
      const names = input.VersionNames;
      const matching = state.versions
        .filter((v) => v.projectName === project.name && (!names || names.includes(v.versionName)))
        .sort((a, b) => b.createdAt - a.createdAt || b.versionName.localeCompare(a.versionName));
      const scope = JSON.stringify([project.arn, names ?? null]);
      const offset = decodeToken(input.NextToken, scope);
      const limit = input.MaxResults ?? 100;
      return {
        ProjectVersionDescriptions: matching.slice(offset, offset + limit).map(describeVersion),
        ...(offset + limit < matching.length ? { NextToken: encodeToken(offset + limit, scope) } : {}),
      };
    },

    async StartProjectVersion(body) {
      const input = parse("StartProjectVersion", body);
      const version = versionByArn(input.ProjectVersionArn);
      if (input.MaxInferenceUnits !== undefined && input.MaxInferenceUnits < input.MinInferenceUnits) {
        throw invalid("MaxInferenceUnits must be at least MinInferenceUnits");
      }
      if (
        version.status !== "TRAINING_COMPLETED" &&
        version.status !== "STOPPED" &&
        version.status !== "FAILED"
      ) {
        throw new ServiceError(
          "ResourceInUseException",
          `The model version is ${version.status} and cannot be started`,
        );
      }
      version.minInferenceUnits = input.MinInferenceUnits;
      if (input.MaxInferenceUnits !== undefined) version.maxInferenceUnits = input.MaxInferenceUnits;
      else delete version.maxInferenceUnits;
      await setStatus(version, "STARTING", "The model is starting.");
      startRunning(version);
      return { Status: version.status };
    },

    async StopProjectVersion(body) {
      const version = versionByArn(parse("StopProjectVersion", body).ProjectVersionArn);
      if (version.status !== "RUNNING" && version.status !== "STARTING") {
        throw new ServiceError(
          "ResourceInUseException",
          `The model version is ${version.status} and cannot be stopped`,
        );
      }
      unrun(version.arn);
      await setStatus(version, "STOPPING", "The model is stopping.");
      finishStopping(version);
      return { Status: version.status };
    },

    async DeleteProjectVersion(body) {
      const version = versionByArn(parse("DeleteProjectVersion", body).ProjectVersionArn);
      const busy: VersionStatus[] = ["RUNNING", "STARTING", "STOPPING", "TRAINING_IN_PROGRESS"];
      if (busy.includes(version.status)) {
        throw new ServiceError(
          "ResourceInUseException",
          `The model version is ${version.status} and cannot be deleted`,
        );
      }
      state.versions = state.versions.filter((v) => v !== version);
      unrun(version.arn);
      await store.deleteModel(version.projectName, version.versionName);
      await save();
      return { Status: "DELETING" };
    },

    async DetectCustomLabels(body) {
      const input = parse("DetectCustomLabels", body);
      const version = versionByArn(input.ProjectVersionArn);
      const model = models.get(version.arn);
      if (version.status !== "RUNNING" || !model) {
        throw new ServiceError(
          "ResourceNotReadyException",
          `The model version is ${version.status}, not RUNNING`,
        );
      }
      const image = await readImage(input.Image);
      const found = await pool.detect(version.arn, image).catch((error: unknown) => {
        if (error instanceof UnsupportedImageFormatError) {
          throw new ServiceError("InvalidImageFormatException", error.message);
        }
        if (error instanceof ImageDimensionsError) throw invalid(error.message);
        throw error;
      });
      const kept = found.filter((s) =>
        input.MinConfidence === undefined
          ? s.Confidence / 100 >= (model.thresholds[s.Name] ?? 0.5)
          : s.Confidence >= input.MinConfidence,
      );
      return { CustomLabels: input.MaxResults === undefined ? kept : kept.slice(0, input.MaxResults) };
    },
  };

  const handler: ServiceHandler = async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const target = String(req.headers["x-amz-target"] ?? "");
      const op = target.startsWith("RekognitionService.") ? target.slice("RekognitionService.".length) : "";
      if (req.method !== "POST" || !Object.hasOwn(operations, op)) {
        req.resume();
        throw new ServiceError("UnknownOperationException", `Unknown operation ${target || "(none)"}`);
      }
      const raw = await readBody(req, MAX_REQUEST_BYTES).catch((error: unknown) => {
        if (error instanceof ServiceError && error.status === 413 && op === "DetectCustomLabels") {
          throw new ServiceError("ImageTooLargeException", `Image bytes exceed ${MAX_BYTES_IMAGE} bytes`);
        }
        throw error;
      });
      let body: unknown = {};
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw.toString("utf8"));
        } catch {
          throw new ServiceError("SerializationException", "Request body is not valid JSON");
        }
      }
      if (body === null || typeof body !== "object" || Array.isArray(body)) {
        throw new ServiceError("SerializationException", "Request body must be a JSON object");
      }
      const result = await operations[op as Operation](body as Record<string, unknown>);
      sendJson(res, 200, result, CONTENT_TYPE);
    } catch (error) {
      sendAwsJsonError(res, toServiceError(error), NAMESPACE, CONTENT_TYPE);
    }
  };

  return {
    handler,
    async idle() {
      while (inFlight.size > 0 || timers.size > 0) {
        await Promise.allSettled([...inFlight]);
        if (inFlight.size === 0 && timers.size > 0) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await store.flush();
    },
    async close() {
      closed = true;
      shutdown.abort();
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.allSettled([...inFlight]);
      await store.flush();
      await pool.close();
    },
  };
}
