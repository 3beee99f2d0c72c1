import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateProjectCommand,
  CreateProjectVersionCommand,
  DeleteProjectVersionCommand,
  DescribeProjectsCommand,
  DescribeProjectVersionsCommand,
  DetectCustomLabelsCommand,
  type ProjectVersionStatus,
  RekognitionClient,
  StartProjectVersionCommand,
  StopProjectVersionCommand,
} from "@aws-sdk/client-rekognition";
import { NONE_OF_THE_ABOVE, Prefixes } from "@secondlook/core/blueprint";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DemoImage, generateDemoDataset } from "../../src/demo/dataset";
import { classificationLine } from "../../src/rekognition/manifest";
import { intersectionOverUnion } from "../../src/rekognition/regions";
import { createLocalRekognition, type LocalRekognition } from "../../src/rekognition/service";
import { createMemoryObjects } from "./memory-objects";

const BUCKET = "secondlook-test-data";
const OUTPUT = { S3Bucket: BUCKET, S3KeyPrefix: "model-output/" };
const cleanups: (() => Promise<void>)[] = [];

type Objects = ReturnType<typeof createMemoryObjects>;

interface Harness {
  client: RekognitionClient;
  service: LocalRekognition;
  objects: Objects;
  dataDir: string;
  stop(): Promise<void>;
}

/** A stepping clock: every reading is one second later, so creation order is unambiguous. */
function steppingClock(start = Date.UTC(2026, 0, 1)) {
  let n = 0;
  return { now: () => new Date(start + n++ * 1000) };
}

async function startHarness(
  options: { dataDir?: string; objects?: Objects; timeScale?: number } = {},
): Promise<Harness> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "secondlook-rek-")));
  const objects = options.objects ?? createMemoryObjects();
  const service = await createLocalRekognition({
    dataDir,
    objects,
    clock: steppingClock(),
    timeScale: options.timeScale ?? 0.01,
  });
  const server: Server = createServer((req, res) => {
    void service.handler(req, res, new URL(req.url ?? "/", "http://127.0.0.1"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const client = new RekognitionClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await service.close();
  };
  cleanups.push(async () => {
    await stop();
    if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
  });
  return { client, service, objects, dataDir, stop };
}

async function upload(
  objects: Objects,
  images: DemoImage[],
  prefix: string,
  labelOf = (i: DemoImage) => i.label,
) {
  const lines: string[] = [];
  for (const image of images) {
    const key = `${prefix}${image.name}`;
    await objects.put(BUCKET, key, image.body);
    lines.push(
      classificationLine({ bucket: BUCKET, key, label: labelOf(image), creationDate: "2026-01-01T00:00:00" }),
    );
  }
  return lines;
}

async function putManifest(objects: Objects, name: string, lines: string[]) {
  const key = `training-manifests/${name}.manifest`;
  await objects.put(BUCKET, key, Buffer.from(lines.join("\n")));
  return { Bucket: BUCKET, Name: key };
}

async function describeVersion(client: RekognitionClient, projectArn: string, versionName: string) {
  const out = await client.send(
    new DescribeProjectVersionsCommand({ ProjectArn: projectArn, VersionNames: [versionName] }),
  );
  const found = out.ProjectVersionDescriptions?.[0];
  if (!found) throw new Error(`version ${versionName} not described`);
  return found;
}

async function waitForStatus(
  client: RekognitionClient,
  projectArn: string,
  versionName: string,
  wanted: ProjectVersionStatus[],
) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const version = await describeVersion(client, projectArn, versionName);
    if (version.Status && wanted.includes(version.Status)) return version;
    if (Date.now() > deadline) throw new Error(`version stuck in ${version.Status}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function trainVersion(
  h: Harness,
  projectArn: string,
  versionName: string,
  manifest: { Bucket: string; Name: string },
) {
  await h.client.send(
    new CreateProjectVersionCommand({
      ProjectArn: projectArn,
      VersionName: versionName,
      OutputConfig: OUTPUT,
      TrainingData: { Assets: [{ GroundTruthManifest: { S3Object: manifest } }] },
      TestingData: { AutoCreate: true },
    }),
  );
  return waitForStatus(h.client, projectArn, versionName, ["TRAINING_COMPLETED", "TRAINING_FAILED"]);
}

/** Resolves with the error a call failed with, or undefined when it succeeded. */
async function errorOf(call: Promise<unknown>): Promise<Error | undefined> {
  return call.then(
    () => undefined,
    (error: Error) => error,
  );
}

async function png(width: number, height: number) {
  return sharp({ create: { width, height, channels: 3, background: "#cc3333" } })
    .png()
    .toBuffer();
}

let data: Awaited<ReturnType<typeof generateDemoDataset>>;

beforeAll(async () => {
  data = await generateDemoDataset({
    seed: 21,
    perClass: 12,
    inferencePerClass: 4,
    hardPerClass: 0,
    unseenPerClass: 6,
    negatives: 6,
  });
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe("model lifecycle (R4)", () => {
  it("trains, evaluates, starts and stops a model version through the SDK", async () => {
    // Arrange
    const h = await startHarness({ timeScale: 0.3 });
    const lines = await upload(h.objects, data.seed, "images_labeled_by_folder/");
    const manifest = await putManifest(h.objects, "v1", lines);
    const { ProjectArn } = await h.client.send(new CreateProjectCommand({ ProjectName: "logos" }));
    if (!ProjectArn) throw new Error("no project ARN");

    // Act
    const created = await h.client.send(
      new CreateProjectVersionCommand({
        ProjectArn,
        VersionName: "logos.v1",
        OutputConfig: OUTPUT,
        TrainingData: { Assets: [{ GroundTruthManifest: { S3Object: manifest } }] },
        TestingData: { AutoCreate: true },
        VersionDescription: "first model",
      }),
    );
    const during = await describeVersion(h.client, ProjectArn, "logos.v1");
    const trained = await waitForStatus(h.client, ProjectArn, "logos.v1", [
      "TRAINING_COMPLETED",
      "TRAINING_FAILED",
    ]);
    const started = await h.client.send(
      new StartProjectVersionCommand({ ProjectVersionArn: created.ProjectVersionArn, MinInferenceUnits: 1 }),
    );
    const starting = await describeVersion(h.client, ProjectArn, "logos.v1");
    const running = await waitForStatus(h.client, ProjectArn, "logos.v1", ["RUNNING", "FAILED"]);
    const stopped = await h.client.send(
      new StopProjectVersionCommand({ ProjectVersionArn: created.ProjectVersionArn }),
    );
    const final = await waitForStatus(h.client, ProjectArn, "logos.v1", ["STOPPED"]);

    // Assert
    expect(created.ProjectVersionArn).toMatch(
      /^arn:aws:rekognition:us-east-1:\d{12}:project\/logos\/version\/logos\.v1\/\d+$/,
    );
    expect(during.Status).toBe("TRAINING_IN_PROGRESS");
    expect(during.EvaluationResult).toBeUndefined();
    expect(trained.Status).toBe("TRAINING_COMPLETED");
    expect(trained.EvaluationResult?.F1Score).toBeGreaterThan(0.8);
    expect(trained.EvaluationResult?.F1Score).toBeLessThanOrEqual(1);
    expect(trained.CreationTimestamp).toBeInstanceOf(Date);
    expect(trained.TrainingEndTimestamp).toBeInstanceOf(Date);
    expect(trained.BillableTrainingTimeInSeconds).toBeGreaterThanOrEqual(1);
    expect(trained.VersionDescription).toBe("first model");
    expect(trained.OutputConfig).toEqual(OUTPUT);
    expect(trained.TestingDataResult?.Output?.AutoCreate).toBe(true);
    expect(started.Status).toBe("STARTING");
    expect(starting.Status).toBe("STARTING");
    expect(running.Status).toBe("RUNNING");
    expect(running.MinInferenceUnits).toBe(1);
    expect(stopped.Status).toBe("STOPPING");
    expect(final.Status).toBe("STOPPED");
  });

  it("writes the evaluation summary in Custom Labels' format under the output prefix", async () => {
    // Arrange
    const h = await startHarness();
    const manifest = await putManifest(h.objects, "v1", await upload(h.objects, data.seed, "labeled/"));
    const { ProjectArn } = await h.client.send(new CreateProjectCommand({ ProjectName: "summary" }));
    if (!ProjectArn) throw new Error("no project ARN");

    // Act
    const version = await trainVersion(h, ProjectArn, "v1", manifest);
    const location = version.EvaluationResult?.Summary?.S3Object;
    const summary = JSON.parse(
      (await h.objects.get(location?.Bucket ?? "", location?.Name ?? "")).toString(),
    );

    // Assert
    expect(location).toEqual({
      Bucket: BUCKET,
      Name: "model-output/EvaluationResultSummary-summary-v1.json",
    });
    expect(summary.Version).toBe(1);
    expect(summary.AggregatedEvaluationResults.F1Score).toBe(version.EvaluationResult?.F1Score);
    expect(summary.EvaluationDetails).toMatchObject({
      Labels: ["Acme", "Globex", "Hooli", "Initech", "Umbrella"],
      NumberOfTestingImages: 10,
      NumberOfTrainingImages: 50,
      ProjectVersionArn: version.ProjectVersionArn,
    });
    expect(summary.EvaluationDetails.EvaluationEndTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+$/);
    for (const label of summary.LabelEvaluationResults) {
      expect(Object.keys(label.Metrics).sort()).toEqual(["F1Score", "Precision", "Recall", "Threshold"]);
      expect(label.Metrics.Threshold >= 0 && label.Metrics.Threshold <= 1).toBe(true);
      expect(label.NumberOfTestingImages).toBe(2);
    }
    for (const cell of summary.AggregatedEvaluationResults.ConfusionMatrix) {
      expect(Object.keys(cell).sort()).toEqual(["GroundTruthLabel", "PredictedLabel", "Value"]);
    }
    const trainingSnapshot = version.TrainingDataResult?.Output?.Assets?.[0]?.GroundTruthManifest?.S3Object;
    const snapshotLines = (await h.objects.get(BUCKET, trainingSnapshot?.Name ?? "")).toString().split("\n");
    expect(snapshotLines).toHaveLength(50);
    expect(h.objects.keys(BUCKET)).toContain("model-output/summary/v1/model.json");
  });

  it("trains the same model from the same manifest and version name", async () => {
    // Arrange
    const runs = [await startHarness(), await startHarness()];
    const models: string[] = [];

    // Act
    for (const h of runs) {
      const manifest = await putManifest(h.objects, "v1", await upload(h.objects, data.seed, "labeled/"));
      const { ProjectArn } = await h.client.send(new CreateProjectCommand({ ProjectName: "same" }));
      await trainVersion(h, ProjectArn ?? "", "v1", manifest);
      models.push((await h.objects.get(BUCKET, "model-output/same/v1/model.json")).toString());
    }

    // Assert
    expect(models[0]?.length).toBeGreaterThan(1000);
    expect(models[0]).toBe(models[1]);
  });

  it("uses 'None of the Above' lines as rejection examples instead of a label", async () => {
    // Arrange
    const h = await startHarness();
    const lines = [
      ...(await upload(h.objects, data.seed, "labeled/")),
      ...(await upload(h.objects, data.negatives, "negative_examples/", () => NONE_OF_THE_ABOVE)),
    ];
    const manifest = await putManifest(h.objects, "with-negatives", lines);
    const { ProjectArn } = await h.client.send(new CreateProjectCommand({ ProjectName: "negatives" }));

    // Act
    const version = await trainVersion(h, ProjectArn ?? "", "v1", manifest);
    const model = JSON.parse(
      (await h.objects.get(BUCKET, "model-output/negatives/v1/model.json")).toString(),
    );

    // Assert
    expect(version.Status).toBe("TRAINING_COMPLETED");
    expect(model.labels).not.toContain(NONE_OF_THE_ABOVE);
    expect(model.rejects.length).toBe(data.negatives.length);
  });

  it("learns from images under negative_examples/: a retrained model scores an answered None of the Above image lower", async () => {
    // Arrange
    const h = await startHarness();
    const manifest = await putManifest(
      h.objects,
      "labeled-only",
      await upload(h.objects, data.seed, "labeled/"),
    );
    const { ProjectArn } = await h.client.send(new CreateProjectCommand({ ProjectName: "answered" }));
    const projectArn = ProjectArn ?? "";
    const answered = data.inference.filter((i) => !i.known);
    const topConfidences = async (versionName: string) => {
      const version = await trainVersion(h, projectArn, versionName, manifest);
      const arn = version.ProjectVersionArn ?? "";
      await h.client.send(new StartProjectVersionCommand({ ProjectVersionArn: arn, MinInferenceUnits: 1 }));
      await waitForStatus(h.client, projectArn, versionName, ["RUNNING"]);
      return Promise.all(
        answered.map(async (image) => {
          const out = await h.client.send(
            new DetectCustomLabelsCommand({
              ProjectVersionArn: arn,
              Image: { Bytes: image.body },
              MinConfidence: 0,
            }),
          );
          return out.CustomLabels?.[0]?.Confidence ?? 0;
        }),
      );
    };
    const before = await topConfidences("v1");
    // What KeepNegativeExample leaves behind after reviewers answered None of the Above.
    await upload(h.objects, answered, Prefixes.negatives);

    // Act
    const after = await topConfidences("v2");
    const v2Model = JSON.parse(
      (await h.objects.get(BUCKET, "model-output/answered/v2/model.json")).toString(),
    );
    const manifestAfter = (await h.objects.get(BUCKET, manifest.Name)).toString();

    // Assert
    const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;
    expect(v2Model.rejects.length).toBe(answered.length);
    expect(v2Model.labels).not.toContain(NONE_OF_THE_ABOVE);
    expect(mean(after)).toBeLessThan(mean(before));
    expect(after.filter((confidence, i) => confidence < (before[i] ?? 0)).length).toBeGreaterThan(
      answered.length / 2,
    );
    expect(manifestAfter).not.toContain(Prefixes.negatives);
  });

  it("does not count an image twice when the manifest also lists it under negative_examples/", async () => {
    // Arrange
    const h = await startHarness();
    const lines = [
      ...(await upload(h.objects, data.seed, "labeled/")),
      ...(await upload(h.objects, data.negatives, Prefixes.negatives, () => NONE_OF_THE_ABOVE)),
    ];
    const manifest = await putManifest(h.objects, "listed-negatives", lines);
    const { ProjectArn } = await h.client.send(new CreateProjectCommand({ ProjectName: "listed" }));

    // Act
    const version = await trainVersion(h, ProjectArn ?? "", "v1", manifest);
    const model = JSON.parse((await h.objects.get(BUCKET, "model-output/listed/v1/model.json")).toString());

    // Assert
    expect(version.Status).toBe("TRAINING_COMPLETED");
    expect(model.rejects.length).toBe(data.negatives.length);
  });

  it.each([
    [
      "a manifest with a single label",
      "at least 2 labels",
      async (objects: Objects) => {
        const acme = data.seed.filter((i) => i.label === "Acme");
        return putManifest(objects, "one-label", await upload(objects, acme, "labeled/"));
      },
    ],
    [
      "a manifest that does not exist",
      "could not be read",
      async () => ({ Bucket: BUCKET, Name: "training-manifests/missing.manifest" }),
    ],
    [
      "a manifest whose images are in two buckets",
      "same S3 bucket",
      async (objects: Objects) => {
        const lines = await upload(objects, data.seed.slice(0, 20), "labeled/");
        lines.push(
          classificationLine({
            bucket: "other-bucket",
            key: "x.png",
            label: "Acme",
            creationDate: "2026-01-01T00:00:00",
          }),
        );
        return putManifest(objects, "two-buckets", lines);
      },
    ],
    [
      "a manifest whose images are mostly missing",
      "More than 20 %",
      async (objects: Objects) => {
        const lines = data.seed.map((i) =>
          classificationLine({
            bucket: BUCKET,
            key: `nowhere/${i.name}`,
            label: i.label,
            creationDate: "2026-01-01T00:00:00",
          }),
        );
        return putManifest(objects, "missing-images", lines);
      },
    ],
  ])("fails training on %s with a StatusMessage", async (_name, message, makeManifest) => {
    // Arrange
    const h = await startHarness();
    const manifest = await makeManifest(h.objects);
    const { ProjectArn } = await h.client.send(new CreateProjectCommand({ ProjectName: "failing" }));

    // Act
    const version = await trainVersion(h, ProjectArn ?? "", "v1", manifest);

    // Assert
    expect(version.Status).toBe("TRAINING_FAILED");
    expect(version.StatusMessage).toContain(message);
    expect(version.EvaluationResult).toBeUndefined();
  });
});

describe("DetectCustomLabels on a running model (R1, R2, R3)", () => {
  let h: Harness;
  let versionArn: string;
  let projectArn: string;
  let stoppedArn: string;

  beforeAll(async () => {
    h = await startHarness();
    const manifest = await putManifest(h.objects, "v1", await upload(h.objects, data.seed, "labeled/"));
    projectArn = (await h.client.send(new CreateProjectCommand({ ProjectName: "detect" }))).ProjectArn ?? "";
    const version = await trainVersion(h, projectArn, "v1", manifest);
    versionArn = version.ProjectVersionArn ?? "";
    await h.client.send(
      new StartProjectVersionCommand({ ProjectVersionArn: versionArn, MinInferenceUnits: 1 }),
    );
    await waitForStatus(h.client, projectArn, "v1", ["RUNNING"]);
    stoppedArn = (await trainVersion(h, projectArn, "v2-never-started", manifest)).ProjectVersionArn ?? "";
    await h.objects.put(BUCKET, "images_for_detection/known.png", data.inference[0]?.body ?? Buffer.alloc(0));
  });

  const detect = (image: { Bytes?: Uint8Array; S3Object?: { Bucket: string; Name: string } }, extra = {}) =>
    h.client.send(new DetectCustomLabelsCommand({ ProjectVersionArn: versionArn, Image: image, ...extra }));

  it("returns every label sorted by confidence when MinConfidence is 0, without Geometry", async () => {
    // Arrange
    const image = data.inference.find((i) => i.known);

    // Act
    const out = await detect({ Bytes: image?.body }, { MinConfidence: 0 });

    // Assert
    const labels = out.CustomLabels ?? [];
    expect(labels).toHaveLength(5);
    expect(labels[0]?.Name).toBe(image?.label);
    for (let i = 1; i < labels.length; i++) {
      expect(labels[i - 1]?.Confidence ?? 0).toBeGreaterThanOrEqual(labels[i]?.Confidence ?? 0);
    }
    for (const label of labels) {
      expect(label.Confidence).toBeGreaterThanOrEqual(0);
      expect(label.Confidence).toBeLessThanOrEqual(100);
      expect(label.Geometry).toBeUndefined();
    }
  });

  it("truncates to MaxResults and filters by MinConfidence", async () => {
    // Arrange
    const image = data.inference.find((i) => i.known);

    // Act
    const two = await detect({ Bytes: image?.body }, { MinConfidence: 0, MaxResults: 2 });
    const none = await detect({ Bytes: image?.body }, { MinConfidence: 0, MaxResults: 0 });
    const all = await detect({ Bytes: image?.body }, { MinConfidence: 0 });
    const cut = all.CustomLabels?.[1]?.Confidence ?? 0;
    const above = await detect({ Bytes: image?.body }, { MinConfidence: cut });

    // Assert
    expect(two.CustomLabels).toEqual(all.CustomLabels?.slice(0, 2));
    expect(none.CustomLabels).toEqual([]);
    expect(above.CustomLabels?.every((l) => (l.Confidence ?? 0) >= cut)).toBe(true);
    expect(above.CustomLabels?.length).toBeGreaterThanOrEqual(2);
    expect(above.CustomLabels?.length).toBeLessThan(5);
  });

  it("applies each label's assumed threshold when MinConfidence is omitted", async () => {
    // Arrange
    const version = await describeVersion(h.client, projectArn, "v1");
    const location = version.EvaluationResult?.Summary?.S3Object;
    const summary = JSON.parse(
      (await h.objects.get(location?.Bucket ?? "", location?.Name ?? "")).toString(),
    ) as {
      LabelEvaluationResults: { Label: string; Metrics: { Threshold: number } }[];
    };
    const threshold = new Map(
      summary.LabelEvaluationResults.map((l) => [l.Label, l.Metrics.Threshold * 100]),
    );

    // Act
    const results = await Promise.all(
      data.inference.map(async (image) => ({
        assumed: (await detect({ Bytes: image.body })).CustomLabels ?? [],
        all: (await detect({ Bytes: image.body }, { MinConfidence: 0 })).CustomLabels ?? [],
      })),
    );

    // Assert
    for (const { assumed, all } of results) {
      const expected = all.filter((l) => (l.Confidence ?? 0) >= (threshold.get(l.Name ?? "") ?? 101));
      expect(assumed).toEqual(expected);
    }
    expect(results.some((r) => r.assumed.length === 0)).toBe(true);
  });

  it("reads the image from S3 when given an S3Object", async () => {
    // Act
    const fromS3 = await detect(
      { S3Object: { Bucket: BUCKET, Name: "images_for_detection/known.png" } },
      { MinConfidence: 0 },
    );
    const fromBytes = await detect({ Bytes: data.inference[0]?.body }, { MinConfidence: 0 });

    // Assert
    expect(fromS3.CustomLabels).toEqual(fromBytes.CustomLabels);
  });

  it("is confident on known logos and not on a logo it has never seen", async () => {
    // Arrange
    const known = data.inference.filter((i) => i.known);
    const unseen = data.inference.filter((i) => !i.known);
    const top = async (image: DemoImage) =>
      (await detect({ Bytes: image.body }, { MinConfidence: 0 })).CustomLabels?.[0];

    // Act
    const knownTops = await Promise.all(known.map(top));
    const unseenTops = await Promise.all(unseen.map(top));

    // Assert
    const correct = knownTops.filter((t, i) => t?.Name === known[i]?.label && (t?.Confidence ?? 0) >= 70);
    expect(correct.length / known.length).toBeGreaterThanOrEqual(0.9);
    const rejected = unseenTops.filter((t) => (t?.Confidence ?? 0) < 70);
    expect(rejected.length / unseen.length).toBeGreaterThanOrEqual(0.8);
  });

  it.each([
    [
      "a GIF",
      "InvalidImageFormatException",
      async () =>
        sharp({ create: { width: 80, height: 80, channels: 3, background: "#fff" } })
          .gif()
          .toBuffer(),
    ],
    ["zero bytes", "InvalidImageFormatException", async () => Buffer.alloc(0)],
    [
      "a truncated PNG",
      "InvalidImageFormatException",
      async () => {
        const body = data.seed.find((i) => i.name.endsWith(".png"))?.body ?? Buffer.alloc(0);
        return body.subarray(0, Math.floor(body.length / 2));
      },
    ],
    [
      "a corrupt JPEG",
      "InvalidImageFormatException",
      async () => Buffer.concat([Buffer.from("ffd8ffe0", "hex"), Buffer.alloc(500, 1)]),
    ],
    ["more than 4 MB of bytes", "ImageTooLargeException", async () => Buffer.alloc(4 * 1024 * 1024 + 1, 1)],
    ["an image smaller than 64×64", "InvalidParameterException", async () => png(63, 64)],
    ["an image larger than 4096×4096", "InvalidParameterException", async () => png(4097, 300)],
    ["an image with an aspect ratio over 20:1", "InvalidParameterException", async () => png(64, 1300)],
  ])("answers %s with %s", async (_name, code, make) => {
    // Arrange
    const body = await make();

    // Act
    const attempt = detect({ Bytes: body });

    // Assert
    await expect(attempt).rejects.toMatchObject({ name: code, $metadata: { httpStatusCode: 400 } });
    await expect(attempt).rejects.toHaveProperty("message", expect.stringMatching(/\w+/));
  });

  it("answers a missing S3 object with InvalidS3ObjectException", async () => {
    // Act
    const attempt = detect({ S3Object: { Bucket: BUCKET, Name: "images_for_detection/nope.png" } });

    // Assert
    await expect(attempt).rejects.toMatchObject({ name: "InvalidS3ObjectException" });
  });

  it("answers an S3 object over 15 MB with ImageTooLargeException", async () => {
    // Arrange
    await h.objects.put(BUCKET, "images_for_detection/huge.png", Buffer.alloc(15 * 1024 * 1024 + 1));

    // Act
    const attempt = detect({ S3Object: { Bucket: BUCKET, Name: "images_for_detection/huge.png" } });

    // Assert
    await expect(attempt).rejects.toMatchObject({ name: "ImageTooLargeException" });
  });

  it("answers a version that is not running with ResourceNotReadyException", async () => {
    // Act
    const attempt = h.client.send(
      new DetectCustomLabelsCommand({
        ProjectVersionArn: stoppedArn,
        Image: { Bytes: data.inference[0]?.body },
      }),
    );

    // Assert
    await expect(attempt).rejects.toMatchObject({ name: "ResourceNotReadyException" });
  });

  it("answers an unknown version with ResourceNotFoundException and a malformed ARN with InvalidParameterException", async () => {
    // Arrange
    const unknown = versionArn.replace("/v1/", "/v9/");

    // Act
    const notFound = await errorOf(
      h.client.send(
        new DetectCustomLabelsCommand({
          ProjectVersionArn: unknown,
          Image: { Bytes: data.inference[0]?.body },
        }),
      ),
    );
    const malformed = await errorOf(
      h.client.send(
        new DetectCustomLabelsCommand({
          ProjectVersionArn: projectArn,
          Image: { Bytes: data.inference[0]?.body },
        }),
      ),
    );

    // Assert
    expect(notFound?.name).toBe("ResourceNotFoundException");
    expect(malformed?.name).toBe("InvalidParameterException");
  });

  it("refuses an image given both as bytes and as an S3 object", async () => {
    // Act
    const attempt = detect({
      Bytes: data.inference[0]?.body,
      S3Object: { Bucket: BUCKET, Name: "images_for_detection/known.png" },
    });

    // Assert
    await expect(attempt).rejects.toMatchObject({ name: "InvalidParameterException" });
  });

  it("keeps detection fast once the model is loaded", async () => {
    // Arrange
    const images = data.inference.slice(0, 20);

    // Act
    const started = performance.now();
    for (const image of images) await detect({ Bytes: image.body });
    const perSecond = images.length / ((performance.now() - started) / 1000);

    // Assert
    expect(perSecond).toBeGreaterThan(20);
  });
});

describe("object-detection models (R2)", () => {
  it("trains from box annotations and answers with BoundingBox ratios around the logo", async () => {
    // Arrange
    const h = await startHarness();
    const lines: string[] = [];
    for (const image of data.seed) {
      const key = `boxes/${image.name}`;
      await h.objects.put(BUCKET, key, image.body);
      lines.push(
        JSON.stringify({
          "source-ref": `s3://${BUCKET}/${key}`,
          "bounding-box": {
            image_size: [{ width: image.width, height: image.height, depth: 3 }],
            annotations: [{ class_id: 0, ...image.box }],
          },
          "bounding-box-metadata": {
            objects: [{ confidence: 1 }],
            "class-map": { "0": image.label },
            type: "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2026-01-01T00:00:00",
          },
        }),
      );
    }
    const manifest = await putManifest(h.objects, "boxes", lines);
    const { ProjectArn = "" } = await h.client.send(new CreateProjectCommand({ ProjectName: "boxes" }));
    const { ProjectVersionArn, Status } = await trainVersion(h, ProjectArn, "v1", manifest);
    await h.client.send(new StartProjectVersionCommand({ ProjectVersionArn, MinInferenceUnits: 1 }));
    await waitForStatus(h.client, ProjectArn, "v1", ["RUNNING"]);
    const known = data.inference.filter((i) => i.known);

    // Act
    const answers = await Promise.all(
      known.map(async (image) => ({
        image,
        top: (
          await h.client.send(
            new DetectCustomLabelsCommand({
              ProjectVersionArn,
              Image: { Bytes: image.body },
              MinConfidence: 0,
            }),
          )
        ).CustomLabels?.[0],
      })),
    );

    // Assert
    expect(Status).toBe("TRAINING_COMPLETED");
    let located = 0;
    for (const { image, top } of answers) {
      const box = top?.Geometry?.BoundingBox;
      if (!box) throw new Error("a detection model must answer with Geometry");
      for (const v of [box.Left, box.Top, box.Width, box.Height])
        expect(v !== undefined && v >= 0 && v <= 1).toBe(true);
      const truth = {
        left: image.box.left / image.width,
        top: image.box.top / image.height,
        width: image.box.width / image.width,
        height: image.box.height / image.height,
      };
      const found = {
        left: box.Left ?? 0,
        top: box.Top ?? 0,
        width: box.Width ?? 0,
        height: box.Height ?? 0,
      };
      if (top?.Name === image.label && intersectionOverUnion(found, truth) > 0.5) located++;
    }
    expect(located / answers.length).toBeGreaterThanOrEqual(0.8);
  });
});

describe("projects and versions", () => {
  it("refuses duplicate projects and versions and unknown projects", async () => {
    // Arrange
    const h = await startHarness();
    const manifest = await putManifest(
      h.objects,
      "v1",
      await upload(h.objects, data.seed.slice(0, 24), "labeled/"),
    );
    const { ProjectArn } = await h.client.send(new CreateProjectCommand({ ProjectName: "dupes" }));
    const request = {
      ProjectArn,
      VersionName: "v1",
      OutputConfig: OUTPUT,
      TrainingData: { Assets: [{ GroundTruthManifest: { S3Object: manifest } }] },
      TestingData: { AutoCreate: true },
    };
    await h.client.send(new CreateProjectVersionCommand(request));

    // Act
    const duplicateProject = await errorOf(h.client.send(new CreateProjectCommand({ ProjectName: "dupes" })));
    const duplicateVersion = await errorOf(h.client.send(new CreateProjectVersionCommand(request)));
    const unknownProject = await errorOf(
      h.client.send(
        new CreateProjectVersionCommand({
          ...request,
          ProjectArn: `${ProjectArn?.replace("dupes", "ghost")}`,
        }),
      ),
    );
    const noTesting = await errorOf(
      h.client.send(
        new CreateProjectVersionCommand({ ...request, VersionName: "v2", TestingData: undefined }),
      ),
    );
    const badName = await errorOf(
      h.client.send(new CreateProjectVersionCommand({ ...request, VersionName: "bad name!" })),
    );

    // Assert
    expect(duplicateProject?.name).toBe("ResourceInUseException");
    expect(duplicateVersion?.name).toBe("ResourceInUseException");
    expect(unknownProject?.name).toBe("ResourceNotFoundException");
    expect(noTesting?.name).toBe("InvalidParameterException");
    expect(badName?.name).toBe("InvalidParameterException");
    await h.service.idle();
  });

  it("describes versions newest first, filters by name and pages with NextToken", async () => {
    // Arrange
    const h = await startHarness();
    const manifest = await putManifest(
      h.objects,
      "v1",
      await upload(h.objects, data.seed.slice(0, 24), "labeled/"),
    );
    const { ProjectArn } = await h.client.send(new CreateProjectCommand({ ProjectName: "paging" }));
    for (const name of ["a", "b", "c"]) {
      await h.client.send(
        new CreateProjectVersionCommand({
          ProjectArn,
          VersionName: name,
          OutputConfig: OUTPUT,
          TrainingData: { Assets: [{ GroundTruthManifest: { S3Object: manifest } }] },
          TestingData: { AutoCreate: true },
        }),
      );
    }
    await h.service.idle();

    // Act
    const all = await h.client.send(new DescribeProjectVersionsCommand({ ProjectArn }));
    const filtered = await h.client.send(
      new DescribeProjectVersionsCommand({ ProjectArn, VersionNames: ["a", "c"] }),
    );
    const pages: string[] = [];
    let NextToken: string | undefined;
    do {
      const page = await h.client.send(
        new DescribeProjectVersionsCommand({ ProjectArn, MaxResults: 1, NextToken }),
      );
      pages.push(
        ...(page.ProjectVersionDescriptions ?? []).map((v) => v.ProjectVersionArn?.split("/")[3] ?? ""),
      );
      NextToken = page.NextToken;
    } while (NextToken);
    const badToken = await errorOf(
      h.client.send(new DescribeProjectVersionsCommand({ ProjectArn, NextToken: "garbage" })),
    );

    // Assert
    const names = (all.ProjectVersionDescriptions ?? []).map((v) => v.ProjectVersionArn?.split("/")[3]);
    expect(names).toEqual(["c", "b", "a"]);
    expect(all.NextToken).toBeUndefined();
    expect(
      (filtered.ProjectVersionDescriptions ?? []).map((v) => v.ProjectVersionArn?.split("/")[3]),
    ).toEqual(["c", "a"]);
    expect(pages).toEqual(["c", "b", "a"]);
    expect(badToken?.name).toBe("InvalidPaginationTokenException");
  });

  it("refuses to start with fewer than one inference unit, to delete a running version, and deletes a stopped one", async () => {
    // Arrange
    const h = await startHarness();
    const manifest = await putManifest(
      h.objects,
      "v1",
      await upload(h.objects, data.seed.slice(0, 24), "labeled/"),
    );
    const { ProjectArn = "" } = await h.client.send(new CreateProjectCommand({ ProjectName: "units" }));
    const { ProjectVersionArn } = await trainVersion(h, ProjectArn, "v1", manifest);

    // Act
    const zeroUnits = await errorOf(
      h.client.send(new StartProjectVersionCommand({ ProjectVersionArn, MinInferenceUnits: 0 })),
    );
    await h.client.send(
      new StartProjectVersionCommand({ ProjectVersionArn, MinInferenceUnits: 2, MaxInferenceUnits: 3 }),
    );
    const running = await waitForStatus(h.client, ProjectArn, "v1", ["RUNNING"]);
    const deleteRunning = await errorOf(
      h.client.send(new DeleteProjectVersionCommand({ ProjectVersionArn })),
    );
    const startAgain = await errorOf(
      h.client.send(new StartProjectVersionCommand({ ProjectVersionArn, MinInferenceUnits: 1 })),
    );
    await h.client.send(new StopProjectVersionCommand({ ProjectVersionArn }));
    const stopAgain = await errorOf(h.client.send(new StopProjectVersionCommand({ ProjectVersionArn })));
    await waitForStatus(h.client, ProjectArn, "v1", ["STOPPED"]);
    const deleted = await h.client.send(new DeleteProjectVersionCommand({ ProjectVersionArn }));
    const after = await h.client.send(new DescribeProjectVersionsCommand({ ProjectArn }));

    // Assert
    expect(zeroUnits?.name).toBe("InvalidParameterException");
    expect(deleteRunning?.name).toBe("ResourceInUseException");
    expect(startAgain?.name).toBe("ResourceInUseException");
    expect(stopAgain?.name).toBe("ResourceInUseException");
    expect(running.MinInferenceUnits).toBe(2);
    expect(running.MaxInferenceUnits).toBe(3);
    expect(deleted.Status).toBe("DELETING");
    expect(after.ProjectVersionDescriptions).toEqual([]);
  });

  it("finds projects, versions and a running model again after a restart", async () => {
    // Arrange
    const dataDir = await mkdtemp(join(tmpdir(), "secondlook-rek-restart-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const objects = createMemoryObjects();
    const first = await startHarness({ dataDir, objects });
    const manifest = await putManifest(objects, "v1", await upload(objects, data.seed, "labeled/"));
    const { ProjectArn = "" } = await first.client.send(new CreateProjectCommand({ ProjectName: "durable" }));
    const { ProjectVersionArn } = await trainVersion(first, ProjectArn, "v1", manifest);
    await first.client.send(new StartProjectVersionCommand({ ProjectVersionArn, MinInferenceUnits: 1 }));
    await waitForStatus(first.client, ProjectArn, "v1", ["RUNNING"]);
    const image = { Bytes: data.inference[0]?.body };
    const before = await first.client.send(
      new DetectCustomLabelsCommand({ ProjectVersionArn, Image: image, MinConfidence: 0 }),
    );
    await first.stop();

    // Act
    const second = await startHarness({ dataDir, objects });
    const projects = await second.client.send(new DescribeProjectsCommand({ ProjectNames: ["durable"] }));
    const version = await describeVersion(second.client, ProjectArn, "v1");
    const after = await second.client.send(
      new DetectCustomLabelsCommand({ ProjectVersionArn, Image: image, MinConfidence: 0 }),
    );

    // Assert
    expect(projects.ProjectDescriptions?.map((p) => p.ProjectArn)).toEqual([ProjectArn]);
    expect(projects.ProjectDescriptions?.[0]?.Status).toBe("CREATED");
    expect(version.Status).toBe("RUNNING");
    expect(version.EvaluationResult?.F1Score).toBeGreaterThan(0);
    expect(after.CustomLabels).toEqual(before.CustomLabels);
  });

  it("fails a running version whose model was trained by the earlier detector, saying to retrain", async () => {
    // Arrange
    const dataDir = await mkdtemp(join(tmpdir(), "secondlook-rek-stale-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const objects = createMemoryObjects();
    const first = await startHarness({ dataDir, objects });
    const manifest = await putManifest(objects, "v1", await upload(objects, data.seed, "labeled/"));
    const { ProjectArn = "" } = await first.client.send(new CreateProjectCommand({ ProjectName: "stale" }));
    const { ProjectVersionArn } = await trainVersion(first, ProjectArn, "v1", manifest);
    await first.client.send(new StartProjectVersionCommand({ ProjectVersionArn, MinInferenceUnits: 1 }));
    await waitForStatus(first.client, ProjectArn, "v1", ["RUNNING"]);
    await first.stop();
    const modelFile = join(dataDir, "rekognition", "models", "stale", "v1.json");
    const model = JSON.parse(await readFile(modelFile, "utf8"));
    await writeFile(modelFile, JSON.stringify({ ...model, version: 1 }));

    // Act
    const second = await startHarness({ dataDir, objects });
    const version = await describeVersion(second.client, ProjectArn, "v1");

    // Assert
    expect(version.Status).toBe("FAILED");
    expect(version.StatusMessage).toMatch(/earlier version of the local detector; train a new version/);
  });

  it("resumes training that a stopped process left in progress", async () => {
    // Arrange
    const dataDir = await mkdtemp(join(tmpdir(), "secondlook-rek-resume-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const objects = createMemoryObjects();
    const first = await startHarness({ dataDir, objects, timeScale: 5 });
    const manifest = await putManifest(objects, "v1", await upload(objects, data.seed, "labeled/"));
    const { ProjectArn = "" } = await first.client.send(new CreateProjectCommand({ ProjectName: "resume" }));
    await first.client.send(
      new CreateProjectVersionCommand({
        ProjectArn,
        VersionName: "v1",
        OutputConfig: OUTPUT,
        TrainingData: { Assets: [{ GroundTruthManifest: { S3Object: manifest } }] },
        TestingData: { AutoCreate: true },
      }),
    );
    await first.stop();

    // Act
    const second = await startHarness({ dataDir, objects });
    const version = await waitForStatus(second.client, ProjectArn, "v1", [
      "TRAINING_COMPLETED",
      "TRAINING_FAILED",
    ]);

    // Assert
    expect(version.Status).toBe("TRAINING_COMPLETED");
  });

  it("answers an unknown operation and a malformed body with AWS JSON errors", async () => {
    // Arrange
    const h = await startHarness();
    const server = createServer((req, res) => void h.service.handler(req, res, new URL("http://127.0.0.1/")));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const call = (target: string, body: string) =>
      fetch(url, {
        method: "POST",
        headers: { "x-amz-target": target, "content-type": "application/x-amz-json-1.1" },
        body,
      });

    // Act
    const unknown = await call("RekognitionService.DoMagic", "{}");
    const malformed = await call("RekognitionService.DescribeProjects", "{not json");

    // Assert
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({
      __type: expect.stringMatching(/#UnknownOperationException$/),
    });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({
      __type: expect.stringMatching(/#SerializationException$/),
    });
  });
});
