/**
 * Durable state of the local Rekognition: projects and versions in one JSON file, models one file
 * each, under `<dataDir>/rekognition/`. Writes go through a temp file and a rename so a crash never
 * leaves a half-written file, and are serialised so concurrent updates cannot interleave.
 */
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { type DetectorModel, parseModel } from "./detector";

const S3ObjectSchema = z.object({ Bucket: z.string(), Name: z.string(), Version: z.string().optional() });
const AssetsSchema = z.array(z.object({ GroundTruthManifest: z.object({ S3Object: S3ObjectSchema }) }));

export const VersionStatus = z.enum([
  "TRAINING_IN_PROGRESS",
  "TRAINING_COMPLETED",
  "TRAINING_FAILED",
  "STARTING",
  "RUNNING",
  "FAILED",
  "STOPPING",
  "STOPPED",
  "DELETING",
]);
export type VersionStatus = z.infer<typeof VersionStatus>;

export const ProjectRecordSchema = z.object({
  name: z.string(),
  arn: z.string(),
  createdAt: z.number(),
  feature: z.literal("CUSTOM_LABELS"),
});
export type ProjectRecord = z.infer<typeof ProjectRecordSchema>;

export const VersionRecordSchema = z.object({
  projectName: z.string(),
  versionName: z.string(),
  arn: z.string(),
  createdAt: z.number(),
  status: VersionStatus,
  statusMessage: z.string(),
  description: z.string().optional(),
  kmsKeyId: z.string().optional(),
  tags: z.record(z.string(), z.string()).optional(),
  outputConfig: z.object({ S3Bucket: z.string(), S3KeyPrefix: z.string().optional() }),
  trainingData: z.object({ Assets: AssetsSchema }),
  testingData: z.object({ Assets: AssetsSchema.optional(), AutoCreate: z.boolean().optional() }),
  trainingEndedAt: z.number().optional(),
  billableTrainingSeconds: z.number().optional(),
  minInferenceUnits: z.number().optional(),
  maxInferenceUnits: z.number().optional(),
  /** Where training wrote its outputs in the local S3 (set once training ends). */
  outputs: z
    .object({
      trainingManifest: S3ObjectSchema.optional(),
      testingManifest: S3ObjectSchema.optional(),
      manifestSummary: S3ObjectSchema.optional(),
      summary: S3ObjectSchema.optional(),
      model: S3ObjectSchema.optional(),
    })
    .default({}),
  f1Score: z.number().optional(),
});
export type VersionRecord = z.infer<typeof VersionRecordSchema>;

const StateSchema = z.object({
  projects: z.array(ProjectRecordSchema),
  versions: z.array(VersionRecordSchema),
});
export type RekognitionState = z.infer<typeof StateSchema>;

/** The state file exists but cannot be read: refuse to start rather than silently lose projects. */
export class CorruptStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CorruptStateError";
  }
}

/** Reads and writes the service's files under `<dataDir>/rekognition/`. */
export function createRekognitionStore(dataDir: string) {
  const root = join(dataDir, "rekognition");
  const statePath = join(root, "state.json");
  const modelPath = (projectName: string, versionName: string) =>
    join(root, "models", projectName, `${versionName}.json`);
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => undefined);
    return next;
  };
  const atomicWrite = async (path: string, text: string) => {
    await mkdir(join(path, ".."), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, text);
    await rename(tmp, path);
  };

  return {
    async load(): Promise<RekognitionState> {
      let text: string;
      try {
        text = await readFile(statePath, "utf8");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return { projects: [], versions: [] };
        throw error;
      }
      try {
        return StateSchema.parse(JSON.parse(text));
      } catch (error) {
        throw new CorruptStateError(
          `${statePath} is not a valid Rekognition state file: ${(error as Error).message}`,
        );
      }
    },
    save(state: RekognitionState): Promise<void> {
      const text = JSON.stringify(state, null, 2);
      return serial(() => atomicWrite(statePath, text));
    },
    saveModel(projectName: string, versionName: string, model: DetectorModel): Promise<void> {
      return serial(() => atomicWrite(modelPath(projectName, versionName), JSON.stringify(model)));
    },
    async loadModel(projectName: string, versionName: string): Promise<DetectorModel> {
      return parseModel(await readFile(modelPath(projectName, versionName), "utf8"));
    },
    deleteModel(projectName: string, versionName: string): Promise<void> {
      return serial(() => rm(modelPath(projectName, versionName), { force: true }));
    },
    /** Resolves once every queued write has reached the disk. */
    flush(): Promise<void> {
      return serial(async () => undefined);
    },
  };
}

export type RekognitionStore = ReturnType<typeof createRekognitionStore>;
