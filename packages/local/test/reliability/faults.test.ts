/**
 * Faults the workflow must survive on the real local cloud: status events delivered twice or out of
 * order, a callback on a closed token, and a detector that is down. Each case names what it protects.
 */

import { DescribeProjectVersionsCommand, StopProjectVersionCommand } from "@aws-sdk/client-rekognition";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { SendTaskSuccessCommand } from "@aws-sdk/client-sfn";
import { GetParameterCommand } from "@aws-sdk/client-ssm";
import { Prefixes, Rules } from "@secondlook/core/blueprint";
import { Settings } from "@secondlook/core/settings";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BusEvent } from "../../src/contracts";
import { cloudClients, putSetting } from "../../src/demo/bootstrap";
import {
  eventually,
  executionFor,
  finished,
  outcomeOf,
  startTrainedCloud,
  statesEntered,
  type TrainedCloud,
  uploadImage,
} from "../e2e/support";
import type { Browserish } from "../portal/fakes";
import { answer, claimTask, deadLetters, historyOf, signedInReviewer } from "./support";

let fixture: TrainedCloud;
let reviewer: Browserish;
const statusEvents: BusEvent[] = [];

beforeAll(async () => {
  fixture = await startTrainedCloud();
  reviewer = await signedInReviewer(fixture.cloud, "fiona");
  // A second rule on the same pattern sees exactly what on-human-loop-status is sent.
  fixture.cloud.services.rules.addRule({
    name: "capture-status-events",
    pattern: Rules.humanLoopStatusChanged(fixture.cloud.flowDefinitionArn),
    target: async (event) => {
      statusEvents.push(event);
    },
  });
}, 180_000);

afterAll(async () => {
  await fixture?.close();
});

const unseen = (index: number) => {
  const image = fixture.dataset.inference.filter((candidate) => !candidate.known)[index];
  if (!image) throw new Error(`no unseen image ${index}`);
  return image;
};

/** Runs one image through a human review answered with `label`; returns the finished execution. */
async function reviewedImage(name: string, index: number, label: string) {
  const key = await uploadImage(fixture.cloud, name, unseen(index).body);
  const started = await executionFor(fixture.cloud, key);
  const submitted = await answer(reviewer, await claimTask(reviewer), label);
  expect(submitted.status).toBe(200);
  const execution = await finished(fixture.cloud, started.executionArn ?? "");
  await fixture.cloud.drain();
  return execution;
}

async function labeledCopies(label: string) {
  const listed = await cloudClients(fixture.cloud.endpoint).s3.send(
    new ListObjectsV2Command({ Bucket: fixture.cloud.bucket, Prefix: `${Prefixes.labeled}${label}/` }),
  );
  return (listed.Contents ?? []).map((object) => object.Key);
}

function statusEventFor(executionName: string) {
  const event = statusEvents.find((candidate) =>
    String((candidate.detail as { humanLoopName?: string }).humanLoopName ?? "").includes(
      executionName.slice(0, 20),
    ),
  );
  return event ?? statusEvents.at(-1);
}

describe("faults on the human path", () => {
  it("ignores a Completed status event delivered twice: one copy, one outcome, nothing dead-lettered (protects: at-least-once delivery never duplicates training data)", async () => {
    // Arrange
    const label = fixture.labels[0] ?? "";
    const execution = await reviewedImage("twice.png", 0, label);
    const copiesBefore = await labeledCopies(label);
    const outcomeBefore = await outcomeOf(fixture.cloud, execution.name ?? "");
    const event = statusEventFor(execution.name ?? "");
    if (!event) throw new Error("no status event was captured");

    // Act
    await fixture.cloud.services.rules.bus.put(structuredClone(event));
    await fixture.cloud.services.rules.bus.put(structuredClone(event));
    await fixture.cloud.drain();

    // Assert
    expect(execution.status).toBe("SUCCEEDED");
    expect(await labeledCopies(label)).toEqual(copiesBefore);
    expect(await outcomeOf(fixture.cloud, execution.name ?? "")).toEqual(outcomeBefore);
    expect((await fixture.cloud.services.states.describeExecution(execution.executionArn ?? "")).status).toBe(
      "SUCCEEDED",
    );
    expect(await deadLetters(fixture.cloud)).toEqual([]);
  });

  it("ignores a Stopped status event that arrives after the loop completed (protects: out-of-order events never undo an answer)", async () => {
    // Arrange
    const label = fixture.labels[1] ?? "";
    const execution = await reviewedImage("late-stop.png", 1, label);
    const outcomeBefore = await outcomeOf(fixture.cloud, execution.name ?? "");
    const event = statusEventFor(execution.name ?? "");
    if (!event) throw new Error("no status event was captured");
    const stale = structuredClone(event);
    (stale.detail as Record<string, unknown>).humanLoopStatus = "Stopped";

    // Act
    await fixture.cloud.services.rules.bus.put(stale);
    await fixture.cloud.drain();

    // Assert
    const described = await fixture.cloud.services.states.describeExecution(execution.executionArn ?? "");
    expect(described.status).toBe("SUCCEEDED");
    expect(await statesEntered(fixture.cloud, execution.executionArn ?? "")).toContain("CopyToLabeledFolder");
    expect(await outcomeOf(fixture.cloud, execution.name ?? "")).toEqual(outcomeBefore);
    expect(await deadLetters(fixture.cloud)).toEqual([]);
  });

  it("answers SendTaskSuccess on a closed token with TaskTimedOut and changes nothing (protects: a late or replayed callback cannot reopen an execution)", async () => {
    // Arrange
    const execution = await reviewedImage("closed-token.png", 2, fixture.labels[0] ?? "");
    const history = await historyOf(fixture.cloud, execution.executionArn ?? "");
    const scheduled = history.find(
      (event) =>
        event.type === "TaskScheduled" &&
        String((event.taskScheduledEventDetails as { parameters?: string }).parameters).includes("taskToken"),
    );
    if (!scheduled) throw new Error("StartHumanReview was never scheduled");
    const parameters = JSON.parse(
      String((scheduled.taskScheduledEventDetails as { parameters?: string }).parameters),
    ) as { Payload: { taskToken: string } };
    const eventsBefore = history.length;

    // Act
    const refused = await cloudClients(fixture.cloud.endpoint)
      .sfn.send(
        new SendTaskSuccessCommand({
          taskToken: parameters.Payload.taskToken,
          output: JSON.stringify({ humanLoopName: "forged", label: "forged" }),
        }),
      )
      .then(
        () => "accepted",
        (error: Error) => error.name,
      );

    // Assert
    expect(refused).toBe("TaskTimedOut");
    expect((await historyOf(fixture.cloud, execution.executionArn ?? "")).length).toBe(eventsBefore);
    expect((await fixture.cloud.services.states.describeExecution(execution.executionArn ?? "")).status).toBe(
      "SUCCEEDED",
    );
  });
});

describe("faults in the detector", () => {
  const clients = () => cloudClients(fixture.cloud.endpoint);

  async function activeVersionArn() {
    const active = await clients().ssm.send(
      new GetParameterCommand({
        Name: `${fixture.cloud.settingsPath}${Settings.parameterName("activeModelVersionArn")}`,
      }),
    );
    return active.Parameter?.Value ?? "";
  }

  async function detectAttempts(executionArn: string) {
    const history = await historyOf(fixture.cloud, executionArn);
    return history.filter((event) => {
      if (event.type !== "TaskScheduled") return false;
      const { parameters } = event.taskScheduledEventDetails as { parameters?: string };
      return (
        (JSON.parse(parameters ?? "{}") as { Payload?: { event?: unknown } }).Payload?.event !== undefined
      );
    }).length;
  }

  it("retries DetectLabels while a stopped model starts on demand, then auto-labels the image (protects: a model outage loses no image)", async () => {
    // Arrange
    const versionArn = await activeVersionArn();
    await clients().rekognition.send(new StopProjectVersionCommand({ ProjectVersionArn: versionArn }));
    await eventually("the model to stop", async () => {
      const described = await clients().rekognition.send(
        new DescribeProjectVersionsCommand({ ProjectArn: fixture.cloud.projectArn }),
      );
      const version = described.ProjectVersionDescriptions?.find((v) => v.ProjectVersionArn === versionArn);
      return version?.Status === "STOPPED" ? version : undefined;
    });
    const known = fixture.dataset.seed[0];
    if (!known) throw new Error("no seed image");

    // Act
    const key = await uploadImage(fixture.cloud, "model-stopped.png", known.body);
    const execution = await finished(
      fixture.cloud,
      (await executionFor(fixture.cloud, key)).executionArn ?? "",
    );

    // Assert
    expect(execution.status).toBe("SUCCEEDED");
    expect(await detectAttempts(execution.executionArn ?? "")).toBeGreaterThan(1);
    expect(await outcomeOf(fixture.cloud, execution.name ?? "")).toMatchObject({
      outcome: "auto-labeled",
      label: known.label,
    });
  }, 60_000);

  it("records an image as failed and ends the execution when the detector keeps failing (protects: a broken model never leaves an execution hanging)", async () => {
    // Arrange
    const versionArn = await activeVersionArn();
    await putSetting(
      fixture.cloud,
      "activeModelVersionArn",
      `${versionArn.replace(/\/[^/]+\/\d+$/, "")}/missing/1700000000000`,
    );
    const known = fixture.dataset.seed[1];
    if (!known) throw new Error("no seed image");

    // Act
    const key = await uploadImage(fixture.cloud, "model-missing.png", known.body);
    const execution = await finished(
      fixture.cloud,
      (await executionFor(fixture.cloud, key)).executionArn ?? "",
    );

    // Assert
    expect(execution.status).toBe("FAILED");
    expect(await statesEntered(fixture.cloud, execution.executionArn ?? "")).toEqual([
      "DetectLabels",
      "RecordFailure",
      "ReviewFailed",
    ]);
    expect(await outcomeOf(fixture.cloud, execution.name ?? "")).toMatchObject({ outcome: "failed" });
    await putSetting(fixture.cloud, "activeModelVersionArn", versionArn);
  }, 60_000);
});
