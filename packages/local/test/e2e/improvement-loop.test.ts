/**
 * The improvement loop end to end on the local cloud: reviewers answer through the portal's HTTP
 * interface, the Nth label starts train-model through review-image's StartRetraining, the real
 * workflow trains, gates, starts, promotes and stops versions, and the next image is judged by
 * whatever model the workflow left active.
 */
import { DescribeProjectVersionsCommand, StopProjectVersionCommand } from "@aws-sdk/client-rekognition";
import { GetExecutionHistoryCommand, ListExecutionsCommand } from "@aws-sdk/client-sfn";
import { GetParameterCommand } from "@aws-sdk/client-ssm";
import { Settings } from "@secondlook/core/settings";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cloudClients, putSetting } from "../../src/demo/bootstrap";
import type { DemoImage } from "../../src/demo/dataset";
import { imageDigest, type SimulatedReviewer, signInReviewer } from "../../src/demo/reviewer";
import {
  eventually,
  executionFor,
  finished,
  outcomeOf,
  readObject,
  startTrainedCloud,
  statesEntered,
  type TrainedCloud,
  uploadImage,
} from "./support";

interface LoopFixture extends TrainedCloud {
  reviewers: SimulatedReviewer[];
  truth: Map<string, string>;
}

let uploads = 0;

async function startLoopFixture(reviewerCount = 1): Promise<LoopFixture> {
  const trained = await startTrainedCloud();
  const truth = new Map<string, string>();
  for (const image of [...trained.dataset.seed, ...trained.dataset.inference, ...trained.dataset.negatives]) {
    truth.set(imageDigest(image.body), image.label);
  }
  const reviewers: SimulatedReviewer[] = [];
  for (let i = 0; i < reviewerCount; i++) {
    const username = `reviewer${i}`;
    const { password } = await trained.cloud.services.portal.accounts.add(username);
    reviewers.push(
      await signInReviewer({
        webUrl: trained.cloud.webUrl,
        username,
        generatedPassword: password,
        truthOf: (digest) => truth.get(digest),
      }),
    );
  }
  // Polling shrinks with the cloud's timeScale: one second becomes a few milliseconds.
  await putSetting(trained.cloud, "trainingPollSeconds", 1);
  await putSetting(trained.cloud, "deployPollSeconds", 1);
  return { ...trained, reviewers, truth };
}

/** A seed image of the first model, which every later model also trained on: a confident one. */
function trainedOn(fixture: TrainedCloud, index: number): DemoImage {
  const image = fixture.dataset.seed[index * 13];
  if (!image) throw new Error("the demo data set has too few seed images");
  return image;
}

/** The errors the failed task attempts of an execution reported, in order. */
async function failedAttempts(executionArn: string) {
  const { events } = await cloudClients(fixture.cloud.endpoint).sfn.send(
    new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }),
  );
  return (events ?? []).flatMap((event) =>
    event.taskFailedEventDetails?.error ? [event.taskFailedEventDetails.error] : [],
  );
}

let taken = 0;

/** The next known-class image the first model has not seen (they repeat once all are used). */
function heldOut(fixture: TrainedCloud): DemoImage {
  const images = fixture.dataset.inference.filter((image) => image.known);
  const image = images[taken++ % images.length];
  if (!image) throw new Error("the demo data set has no held-out images");
  return image;
}

async function activeModel(fixture: TrainedCloud) {
  const { Parameter } = await cloudClients(fixture.cloud.endpoint).ssm.send(
    new GetParameterCommand({
      Name: `${fixture.cloud.settingsPath}${Settings.parameterName("activeModelVersionArn")}`,
    }),
  );
  return Parameter?.Value ?? "";
}

async function versions(fixture: TrainedCloud) {
  const described = await cloudClients(fixture.cloud.endpoint).rekognition.send(
    new DescribeProjectVersionsCommand({ ProjectArn: fixture.cloud.projectArn }),
  );
  return described.ProjectVersionDescriptions ?? [];
}

async function trainings(fixture: TrainedCloud) {
  const page = await cloudClients(fixture.cloud.endpoint).sfn.send(
    new ListExecutionsCommand({ stateMachineArn: fixture.cloud.stateMachineArns.trainModel }),
  );
  return page.executions ?? [];
}

/** Uploads an image and returns its review-image execution once it has started. */
async function upload(fixture: TrainedCloud, image: DemoImage) {
  uploads++;
  const key = await uploadImage(fixture.cloud, `loop-${uploads}.png`, image.body);
  return executionFor(fixture.cloud, key);
}

/** Uploads an image, lets the reviewer answer its task, and waits for review-image to end. */
async function reviewed(fixture: LoopFixture, image: DemoImage, answer?: string) {
  const started = await upload(fixture, image);
  const reviewer = fixture.reviewers[0] as SimulatedReviewer;
  await eventually("a task in the portal", async () => ((await reviewer.claim()) ? true : undefined));
  const task = await reviewer.answerHeld(answer);
  const execution = await finished(fixture.cloud, started.executionArn ?? "");
  return { execution, task };
}

/** Waits for `count` train-model executions that were not in `before`, and for each to end. */
async function newTrainings(fixture: TrainedCloud, before: string[], count = 1) {
  const started = await eventually(`${count} new train-model execution(s)`, async () => {
    const fresh = (await trainings(fixture)).filter((execution) => !before.includes(execution.name ?? ""));
    return fresh.length >= count ? fresh : undefined;
  });
  const ended = [];
  for (const execution of started) ended.push(await finished(fixture.cloud, execution.executionArn ?? ""));
  return ended.sort((a, b) => (a.name ?? "").localeCompare(b.name ?? ""));
}

const trainingNames = async (fixture: TrainedCloud) =>
  (await trainings(fixture)).map((execution) => execution.name ?? "");

// The handlers' SDK clients live for the process, like a Lambda sandbox's: one cloud per file.
let fixture: LoopFixture;

beforeAll(async () => {
  fixture = await startLoopFixture(2);
});

afterAll(async () => {
  await fixture?.close();
});

describe("the improvement loop on the local cloud", () => {
  it("promotes a retrained version that passes the F1 gate, and judges the next image with it", async () => {
    // Arrange
    const previous = await activeModel(fixture);
    const before = await trainingNames(fixture);
    await putSetting(fixture.cloud, "minUntrainedImages", 2);
    await putSetting(fixture.cloud, "minF1ToDeploy", 0.5);
    await putSetting(fixture.cloud, "humanSamplingPercent", 100);
    const [first, second, next] = [heldOut(fixture), heldOut(fixture), heldOut(fixture)];

    // Act
    const one = await reviewed(fixture, first);
    const two = await reviewed(fixture, second);
    const [training] = await newTrainings(fixture, before);
    if (!training) throw new Error("no training started");
    await putSetting(fixture.cloud, "humanSamplingPercent", 0);
    const judged = await finished(fixture.cloud, (await upload(fixture, next)).executionArn ?? "");

    // Assert
    expect(await statesEntered(fixture.cloud, one.execution.executionArn ?? "")).not.toContain(
      "StartRetraining",
    );
    expect(await statesEntered(fixture.cloud, two.execution.executionArn ?? "")).toContain("StartRetraining");
    expect(training.status).toBe("SUCCEEDED");
    expect(training.name).toBe(JSON.parse(two.execution.output ?? "{}").retrain?.trainingName);
    expect(await statesEntered(fixture.cloud, training.executionArn ?? "")).toEqual(
      expect.arrayContaining(["CreateProjectVersion", "CheckF1Score", "PromoteModel", "StopPreviousModel"]),
    );
    const promoted = await activeModel(fixture);
    expect(promoted).not.toBe(previous);
    expect(promoted).toContain(`/version/${training.name}/`);
    const all = await versions(fixture);
    expect(all.find((version) => version.ProjectVersionArn === promoted)?.Status).toBe("RUNNING");
    expect(["STOPPING", "STOPPED"]).toContain(
      all.find((version) => version.ProjectVersionArn === previous)?.Status,
    );
    expect(await outcomeOf(fixture.cloud, judged.name ?? "")).toMatchObject({ modelVersionArn: promoted });
  });

  it("starts one training when two labels cross the threshold together", async () => {
    // Arrange
    await putSetting(fixture.cloud, "minUntrainedImages", 1);
    await putSetting(fixture.cloud, "humanSamplingPercent", 100);
    const [first, second] = [heldOut(fixture), heldOut(fixture)];
    const versionsBefore = (await versions(fixture)).length;
    const before = await trainingNames(fixture);
    const started = [];
    for (const [index, image] of [first, second].entries()) {
      started.push(await upload(fixture, image));
      const reviewer = fixture.reviewers[index] as SimulatedReviewer;
      await eventually("a task for each reviewer", async () => ((await reviewer.claim()) ? true : undefined));
    }

    // Act
    await Promise.all(fixture.reviewers.map((reviewer) => reviewer.answerHeld()));
    for (const execution of started) await finished(fixture.cloud, execution.executionArn ?? "");
    const ended = await newTrainings(fixture, before, 2);

    // Assert
    const trained = [];
    for (const execution of ended) {
      expect(execution.status).toBe("SUCCEEDED");
      const entered = await statesEntered(fixture.cloud, execution.executionArn ?? "");
      if (entered.includes("CreateProjectVersion")) trained.push(execution);
      else {
        expect(entered).toEqual(["BuildTrainingManifest", "CheckTrainingCriteria", "TrainingNotStarted"]);
        expect(JSON.parse(execution.output ?? "{}")).toMatchObject({
          train: false,
          reason: expect.stringContaining("already in progress"),
        });
      }
    }
    expect(trained).toHaveLength(1);
    expect(await versions(fixture)).toHaveLength(versionsBefore + 1);
  });

  it("records a sampled confident image the reviewer confirms as an agreement", async () => {
    // Arrange
    await putSetting(fixture.cloud, "minUntrainedImages", 100);
    await putSetting(fixture.cloud, "humanSamplingPercent", 100);
    const image = trainedOn(fixture, 0);

    // Act
    const { execution, task } = await reviewed(fixture, image);

    // Assert
    const outcome = await outcomeOf(fixture.cloud, execution.name ?? "");
    expect(Number(outcome.confidence)).toBeGreaterThanOrEqual(Settings.defaults().minConfidence);
    expect(task?.answered).toBe(image.label);
    expect(outcome).toMatchObject({
      outcome: "human-labeled",
      label: image.label,
      audit: { verdict: "agreement", modelLabel: image.label, humanLabel: image.label },
    });
  });

  it("records a sampled confident image the reviewer relabels as a correction that joins the training data", async () => {
    // Arrange
    await putSetting(fixture.cloud, "minUntrainedImages", 100);
    await putSetting(fixture.cloud, "humanSamplingPercent", 100);
    const image = trainedOn(fixture, 1);
    const corrected = fixture.labels.find((label) => label !== image.label) ?? "";

    // Act
    const { execution } = await reviewed(fixture, image, corrected);

    // Assert
    const outcome = await outcomeOf(fixture.cloud, execution.name ?? "");
    expect(outcome).toMatchObject({
      outcome: "human-labeled",
      label: corrected,
      audit: { verdict: "correction", modelLabel: image.label, humanLabel: corrected },
    });
    expect(String(outcome.copiedKey).startsWith(`images_labeled_by_folder/${corrected}/`)).toBe(true);
    expect(await readObject(fixture.cloud, String(outcome.copiedKey))).toEqual(image.body);
  });

  it("starts a stopped model on demand and still judges the image with it", async () => {
    // Arrange
    await putSetting(fixture.cloud, "humanSamplingPercent", 0);
    const active = await activeModel(fixture);
    const { rekognition } = cloudClients(fixture.cloud.endpoint);
    await rekognition.send(new StopProjectVersionCommand({ ProjectVersionArn: active }));
    await eventually("the model to stop", async () =>
      (await versions(fixture)).find((version) => version.ProjectVersionArn === active)?.Status === "STOPPED"
        ? true
        : undefined,
    );

    // Act
    const execution = await finished(
      fixture.cloud,
      (await upload(fixture, trainedOn(fixture, 2))).executionArn ?? "",
    );

    // Assert
    expect(execution.status).toBe("SUCCEEDED");
    const entered = await statesEntered(fixture.cloud, execution.executionArn ?? "");
    expect(entered.slice(0, 2)).toEqual(["DetectLabels", "CheckConfidence"]);
    expect(await failedAttempts(execution.executionArn ?? "")).toContain("ModelNotReadyError");
    expect((await versions(fixture)).find((version) => version.ProjectVersionArn === active)?.Status).toBe(
      "RUNNING",
    );
    expect(await outcomeOf(fixture.cloud, execution.name ?? "")).toMatchObject({ modelVersionArn: active });
  });

  it("keeps the active model when the new version scores below min-f1-to-deploy", async () => {
    // Arrange
    const previous = await activeModel(fixture);
    // Every seed image of one logo is also filed under another: no model can score a perfect F1.
    const [from, to] = fixture.labels;
    const { s3 } = cloudClients(fixture.cloud.endpoint);
    const { PutObjectCommand } = await import("@aws-sdk/client-s3");
    for (const image of fixture.dataset.seed.filter((seed) => seed.label === from)) {
      await s3.send(
        new PutObjectCommand({
          Bucket: fixture.cloud.bucket,
          Key: `images_labeled_by_folder/${to}/mislabeled-${image.name.replace(/\//g, "-")}`,
          Body: image.body,
        }),
      );
    }
    await putSetting(fixture.cloud, "minF1ToDeploy", 1);
    await putSetting(fixture.cloud, "minUntrainedImages", 1);
    await putSetting(fixture.cloud, "humanSamplingPercent", 100);
    const image = heldOut(fixture);
    const before = await trainingNames(fixture);

    // Act
    await reviewed(fixture, image);
    const [training] = await newTrainings(fixture, before);
    if (!training) throw new Error("no training started");

    // Assert
    expect(training.status).toBe("FAILED");
    expect(training.error).toBe("ModelRejected");
    const rejected = (await versions(fixture)).find((version) =>
      version.ProjectVersionArn?.includes(`/version/${training.name}/`),
    );
    expect(rejected?.Status).toBe("TRAINING_COMPLETED");
    expect(rejected?.EvaluationResult?.F1Score).toBeLessThan(1);
    expect(await activeModel(fixture)).toBe(previous);
    expect((await versions(fixture)).find((version) => version.ProjectVersionArn === previous)?.Status).toBe(
      "RUNNING",
    );
  });
});
