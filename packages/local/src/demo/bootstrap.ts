/**
 * Puts a demo data set into a running local cloud the way a user would on AWS: labeled images into
 * the labeled folders, a Ground Truth manifest, CreateProjectVersion/StartProjectVersion, and the
 * active model version setting. Used by `npm start` and by the end-to-end tests.
 */
import { basename, extname } from "node:path";
import {
  CreateProjectVersionCommand,
  DescribeProjectVersionsCommand,
  type ProjectVersionDescription,
  RekognitionClient,
  StartProjectVersionCommand,
} from "@aws-sdk/client-rekognition";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SageMakerA2IRuntimeClient } from "@aws-sdk/client-sagemaker-a2i-runtime";
import { SFNClient } from "@aws-sdk/client-sfn";
import { PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { NONE_OF_THE_ABOVE, Prefixes } from "@secondlook/core/blueprint";
import { classificationLine, createManifestBuilder } from "@secondlook/core/manifest";
import { Settings } from "@secondlook/core/settings";
import type { LocalCloud } from "../cloud";
import type { DemoDataset, DemoImage } from "./dataset";
import { createRandom, shuffled } from "./prng";

export interface CloudClients {
  s3: S3Client;
  ssm: SSMClient;
  rekognition: RekognitionClient;
  sfn: SFNClient;
  a2i: SageMakerA2IRuntimeClient;
}

const clientsByEndpoint = new Map<string, CloudClients>();

/** What the demo needs of a local cloud: a running one, or one the CLI found through DescribeStacks. */
export type DemoTarget = Pick<LocalCloud, "endpoint" | "bucket" | "settingsPath" | "projectArn">;

/** SDK clients pointed at the local edge: the demo drives the local cloud as any AWS user would. */
export function cloudClients(endpoint: string): CloudClients {
  let clients = clientsByEndpoint.get(endpoint);
  if (!clients) {
    const config = {
      endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "secondlook", secretAccessKey: "secondlook-local" },
      // Kept for the process's life: resolve each command's middleware once (as clients.ts does).
      cacheMiddleware: true,
    };
    clients = {
      s3: new S3Client({ ...config, forcePathStyle: true }),
      ssm: new SSMClient(config),
      rekognition: new RekognitionClient(config),
      sfn: new SFNClient(config),
      a2i: new SageMakerA2IRuntimeClient(config),
    };
    clientsByEndpoint.set(endpoint, clients);
  }
  return clients;
}

/** Writes one setting through SSM, validated by the same schema the handlers read it with. */
export async function putSetting<K extends keyof Settings>(cloud: DemoTarget, key: K, value: Settings[K]) {
  const name = Settings.parameterName(key);
  const parameters = Settings.toParameters({ ...Settings.defaults(), [key]: value });
  await cloudClients(cloud.endpoint).ssm.send(
    new PutParameterCommand({
      Name: `${cloud.settingsPath}${name}`,
      Value: parameters[name],
      Type: "String",
      Overwrite: true,
    }),
  );
}

/** Uploads the labeled seed set and the None of the Above examples, and writes their manifest. */
export async function uploadTrainingData(
  cloud: DemoTarget,
  dataset: Pick<DemoDataset, "seed" | "negatives">,
) {
  const { s3 } = cloudClients(cloud.endpoint);
  const manifest = createManifestBuilder(cloud.bucket);
  const lines: string[] = [];
  for (const image of dataset.seed) {
    const key = `${Prefixes.labeled}${image.label}/${basename(image.name)}`;
    await s3.send(new PutObjectCommand({ Bucket: cloud.bucket, Key: key, Body: image.body }));
    const line = manifest.add(key, new Date(), true);
    if (line) lines.push(line);
  }
  // "None of the Above" examples teach the local detector what is not one of ours; they live
  // outside the labeled folders, so the labels-by-folder data set stays clean.
  for (const image of dataset.negatives) {
    const key = `${Prefixes.negatives}${basename(image.name)}`;
    await s3.send(new PutObjectCommand({ Bucket: cloud.bucket, Key: key, Body: image.body }));
    const line = classificationLine({
      bucket: cloud.bucket,
      key,
      label: NONE_OF_THE_ABOVE,
      createdAt: new Date(),
      humanAnnotated: true,
    });
    lines.push(JSON.stringify(line));
  }
  const labels = [...manifest.finish().keys()].sort();
  const manifestKey = `${Prefixes.trainingManifests}bootstrap.manifest`;
  await s3.send(
    new PutObjectCommand({ Bucket: cloud.bucket, Key: manifestKey, Body: `${lines.join("\n")}\n` }),
  );
  return { labels, manifestKey };
}

/** Trains a version from a manifest, starts it, and makes it the active model. */
export async function trainAndPromote(cloud: DemoTarget, manifestKey: string, versionName: string) {
  const { rekognition } = cloudClients(cloud.endpoint);
  const { ProjectVersionArn: versionArn } = await rekognition.send(
    new CreateProjectVersionCommand({
      ProjectArn: cloud.projectArn,
      VersionName: versionName,
      OutputConfig: { S3Bucket: cloud.bucket, S3KeyPrefix: `${Prefixes.modelOutput}${versionName}/` },
      TrainingData: {
        Assets: [{ GroundTruthManifest: { S3Object: { Bucket: cloud.bucket, Name: manifestKey } } }],
      },
      TestingData: { AutoCreate: true },
    }),
  );
  if (!versionArn) throw new Error("CreateProjectVersion returned no version ARN");
  const trained = await waitForVersion(cloud, versionName, "TRAINING_COMPLETED");
  await rekognition.send(
    new StartProjectVersionCommand({ ProjectVersionArn: versionArn, MinInferenceUnits: 1 }),
  );
  await waitForVersion(cloud, versionName, "RUNNING");
  await putSetting(cloud, "activeModelVersionArn", versionArn);
  return { versionArn, f1: trained.EvaluationResult?.F1Score };
}

async function waitForVersion(
  cloud: DemoTarget,
  versionName: string,
  goal: string,
): Promise<ProjectVersionDescription> {
  const { rekognition } = cloudClients(cloud.endpoint);
  for (;;) {
    const described = await rekognition.send(
      new DescribeProjectVersionsCommand({ ProjectArn: cloud.projectArn, VersionNames: [versionName] }),
    );
    const version = described.ProjectVersionDescriptions?.[0];
    if (version?.Status === goal) return version;
    if (version?.Status?.endsWith("FAILED")) {
      throw new Error(`Model version ${versionName} ${version.Status}: ${version.StatusMessage ?? ""}`);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** Uploads images for review under neutral names in a shuffled order, so no key gives a logo away. */
export async function uploadForDetection(cloud: DemoTarget, images: DemoImage[], seed = 11) {
  const { s3 } = cloudClients(cloud.endpoint);
  const keys: string[] = [];
  for (const [index, image] of shuffled(images, createRandom(seed)).entries()) {
    const key = `${Prefixes.detection}demo-${String(index + 1).padStart(3, "0")}${extname(image.name)}`;
    await s3.send(new PutObjectCommand({ Bucket: cloud.bucket, Key: key, Body: image.body }));
    keys.push(key);
  }
  return keys;
}
