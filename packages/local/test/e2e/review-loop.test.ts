/**
 * review-image end to end on the local cloud: the real S3 client uploads, the rule starts the
 * execution, the engine runs the real handlers, and a signed-in reviewer answers through the
 * portal's HTTP interface. Every branch of the state machine ends where it should.
 */
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { StopHumanLoopCommand } from "@aws-sdk/client-sagemaker-a2i-runtime";
import { NONE_OF_THE_ABOVE, Prefixes } from "@secondlook/core/blueprint";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cloudClients } from "../../src/demo/bootstrap";
import { Browserish } from "../portal/fakes";
import {
  eventually,
  executionFor,
  finished,
  loopsInProgress,
  outcomeOf,
  readObject,
  startTrainedCloud,
  statesEntered,
  type TrainedCloud,
  uploadImage,
} from "./support";

let fixture: TrainedCloud;
let reviewer: Browserish;

beforeAll(async () => {
  fixture = await startTrainedCloud();
  const { password } = await fixture.cloud.services.portal.accounts.add("rita");
  reviewer = new Browserish(fixture.cloud.webUrl);
  await reviewer.signInFresh("rita", password);
}, 120_000);

afterAll(async () => {
  await fixture?.close();
});

const unseen = (index: number) => {
  const images = fixture.dataset.inference.filter((image) => !image.known);
  const image = images[index];
  if (!image) throw new Error(`the demo data set has only ${images.length} unseen images`);
  return image;
};

/** Claims the next task in the portal as the reviewer would ("Start working"). */
async function claimTask() {
  return eventually("a task in the portal", async () => {
    const csrf = await reviewer.csrfFrom("/");
    const response = await reviewer.postForm("/work", { _csrf: csrf });
    const location = response.headers.get("location") ?? "";
    return location.startsWith("/tasks/") ? location : undefined;
  });
}

/** Submits an answer on the task page, with the page's CSRF token, as the crowd-form does. */
async function answer(taskPath: string, label: string) {
  const csrf = await reviewer.csrfFrom(taskPath);
  return reviewer.postJson(`${taskPath}/submit`, { category: { label } }, { "x-csrf-token": csrf });
}

describe("review-image on the local cloud", () => {
  it("auto-labels an image the model is confident about", async () => {
    // Arrange
    const known = fixture.dataset.seed[0];
    if (!known) throw new Error("no seed image");

    // Act
    const key = await uploadImage(fixture.cloud, "confident.png", known.body);
    const execution = await finished(
      fixture.cloud,
      (await executionFor(fixture.cloud, key)).executionArn ?? "",
    );

    // Assert
    expect(execution.status).toBe("SUCCEEDED");
    expect(await statesEntered(fixture.cloud, execution.executionArn ?? "")).toEqual([
      "DetectLabels",
      "CheckConfidence",
      "RecordAutoLabel",
    ]);
    const outcome = await outcomeOf(fixture.cloud, execution.name ?? "");
    expect(outcome).toMatchObject({ outcome: "auto-labeled", label: known.label });
    expect(outcome.confidence).toBeGreaterThanOrEqual(70);
  });

  it("sends an unseen logo to a reviewer and copies the answer into its label folder", async () => {
    // Arrange
    const image = unseen(0);
    const label = fixture.labels[1] ?? "";
    const key = await uploadImage(fixture.cloud, "review me.png", image.body);
    const started = await executionFor(fixture.cloud, key);

    // Act
    const task = await claimTask();
    const submitted = await answer(task, label);
    const execution = await finished(fixture.cloud, started.executionArn ?? "");

    // Assert
    expect(submitted.status).toBe(200);
    expect(execution.status).toBe("SUCCEEDED");
    expect(await statesEntered(fixture.cloud, execution.executionArn ?? "")).toEqual([
      "DetectLabels",
      "CheckConfidence",
      "StartHumanReview",
      "RouteAnswer",
      "CopyToLabeledFolder",
      "RecordLabel",
      "CheckRetrain",
      "IsRetrainingDue",
      "Done",
    ]);
    const outcome = await outcomeOf(fixture.cloud, execution.name ?? "");
    expect(outcome).toMatchObject({ outcome: "human-labeled", label });
    const copiedKey = String(outcome.copiedKey);
    expect(copiedKey.startsWith(`${Prefixes.labeled}${label}/`)).toBe(true);
    expect(copiedKey.endsWith("review me.png")).toBe(true);
    expect(await readObject(fixture.cloud, copiedKey)).toEqual(image.body);
  });

  it("keeps an image the reviewer marks None of the Above as a negative example, outside the labeled folders", async () => {
    // Arrange
    const image = unseen(1);
    const key = await uploadImage(fixture.cloud, "not-ours.png", image.body);
    const started = await executionFor(fixture.cloud, key);
    const labeledBefore = await countLabeled();

    // Act
    const task = await claimTask();
    await answer(task, NONE_OF_THE_ABOVE);
    const execution = await finished(fixture.cloud, started.executionArn ?? "");

    // Assert
    expect(execution.status).toBe("SUCCEEDED");
    const entered = await statesEntered(fixture.cloud, execution.executionArn ?? "");
    expect(entered.slice(-3)).toEqual(["RouteAnswer", "KeepNegativeExample", "RecordSkip"]);
    expect(await outcomeOf(fixture.cloud, execution.name ?? "")).toMatchObject({ outcome: "skipped" });
    expect(await countLabeled()).toBe(labeledBefore);
    const output = JSON.parse(execution.output ?? "{}") as { negative?: { key?: string } };
    const negativeKey = String(output.negative?.key);
    expect(negativeKey.startsWith(Prefixes.negatives)).toBe(true);
    expect(negativeKey.endsWith("not-ours.png")).toBe(true);
    expect(await readObject(fixture.cloud, negativeKey)).toEqual(image.body);
  });

  it("records no answer when the human loop is stopped", async () => {
    // Arrange
    const image = unseen(2);
    const key = await uploadImage(fixture.cloud, "stopped.png", image.body);
    const started = await executionFor(fixture.cloud, key);
    const [loop] = await eventually("the human loop", async () => {
      const loops = await loopsInProgress(fixture.cloud);
      return loops.length > 0 ? loops : undefined;
    });

    // Act
    await cloudClients(fixture.cloud.endpoint).a2i.send(new StopHumanLoopCommand({ HumanLoopName: loop }));
    const execution = await finished(fixture.cloud, started.executionArn ?? "");

    // Assert
    expect(execution.status).toBe("SUCCEEDED");
    const entered = await statesEntered(fixture.cloud, execution.executionArn ?? "");
    expect(entered.slice(-2)).toEqual(["StartHumanReview", "RecordNoAnswer"]);
    const outcome = await outcomeOf(fixture.cloud, execution.name ?? "");
    expect(outcome).toMatchObject({ outcome: "no-answer" });
    expect(JSON.stringify(outcome)).toContain("HumanLoopStoppedError");
  });

  it("refuses a second answer to a task that is already closed, and loses nothing", async () => {
    // Arrange
    const image = unseen(3);
    const label = fixture.labels[0] ?? "";
    const key = await uploadImage(fixture.cloud, "twice.png", image.body);
    const started = await executionFor(fixture.cloud, key);
    const task = await claimTask();
    await answer(task, label);
    const execution = await finished(fixture.cloud, started.executionArn ?? "");

    // Act
    const again = await answer(task, NONE_OF_THE_ABOVE).catch((error: Error) => error);

    // Assert
    expect(execution.status).toBe("SUCCEEDED");
    expect(again instanceof Error ? 0 : again.status).not.toBe(200);
    expect(await outcomeOf(fixture.cloud, execution.name ?? "")).toMatchObject({
      outcome: "human-labeled",
      label,
    });
  });
});

async function countLabeled() {
  const page = await cloudClients(fixture.cloud.endpoint).s3.send(
    new ListObjectsV2Command({ Bucket: fixture.cloud.bucket, Prefix: Prefixes.labeled }),
  );
  return page.KeyCount ?? 0;
}
