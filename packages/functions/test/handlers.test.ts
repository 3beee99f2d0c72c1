import { PutObjectCommand, S3ServiceException } from "@aws-sdk/client-s3";
import {
  ConflictException,
  SageMakerA2IRuntimeClient,
  StartHumanLoopCommand,
} from "@aws-sdk/client-sagemaker-a2i-runtime";
import { Retrain } from "@secondlook/core";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { handler as checkRetrain } from "../src/handlers/check-retrain";
import { handler as copyToLabeledFolder } from "../src/handlers/copy-to-labeled-folder";
import { handler as detect } from "../src/handlers/detect";
import { handler as keepNegativeExample } from "../src/handlers/keep-negative-example";
import { handler as onHumanLoopStatus } from "../src/handlers/on-human-loop-status";
import { handler as recordOutcome } from "../src/handlers/record-outcome";
import { handler as startHumanLoop } from "../src/handlers/start-human-loop";
import { BUCKET, fakeS3, fakeSsm, objectCreatedEvent, setHandlerEnv, statusEvent, untyped } from "./fakes";

let s3: ReturnType<typeof fakeS3>;
let ssm: ReturnType<typeof fakeSsm>;
const a2i = mockClient(SageMakerA2IRuntimeClient);

const image = {
  bucket: BUCKET,
  key: "images_for_detection/a.png",
  uri: `s3://${BUCKET}/images_for_detection/a.png`,
};
const detection = {
  label: "AWS",
  confidence: 20,
  modelVersionArn: null,
  minConfidence: 70,
  humanReviewEnabled: true,
  sampled: false,
  reason: "low-confidence",
};
const startPayload = { taskToken: "token-1", executionName: "exec-1", retryCount: 0, image, detection };

beforeAll(() => setHandlerEnv());

beforeEach(() => {
  s3 = fakeS3();
  ssm = fakeSsm({ labels: ["AWS", "Amazon"] });
  a2i.reset();
  a2i.on(StartHumanLoopCommand).resolves({ HumanLoopArn: "arn:loop" });
});

afterEach(() => {
  s3.mock.restore();
  ssm.mock.restore();
});

describe("handler input validation", () => {
  it.each([
    ["detect", detect, { event: objectCreatedEvent("images_for_detection/a.png") }],
    ["start-human-loop", startHumanLoop, { ...startPayload, taskToken: undefined }],
    ["start-human-loop", startHumanLoop, { ...startPayload, retryCount: -1 }],
    ["copy-to-labeled-folder", copyToLabeledFolder, { image }],
    ["keep-negative-example", keepNegativeExample, { image }],
    ["check-retrain", checkRetrain, {}],
    [
      "record-outcome",
      recordOutcome,
      { outcome: "finished", executionName: "e", startTime: "2026-01-01T00:00:00Z" },
    ],
  ])("%s refuses a payload its state never sends with InvalidInputError", async (_, handler, payload) => {
    // Arrange
    const input = payload;

    // Act
    const invoke = handler(input);

    // Assert
    await expect(invoke).rejects.toMatchObject({ name: "InvalidInputError" });
  });

  it("copy-to-labeled-folder refuses a review that is not a label", async () => {
    // Arrange
    const review = {
      loopName: "loop-1",
      outcome: "tie",
      label: null,
      votes: [],
      answers: [],
      outputUri: "s3://b/o.json",
    };

    // Act
    const invoke = copyToLabeledFolder({ image, review });

    // Assert
    await expect(invoke).rejects.toMatchObject({ name: "InvalidInputError", message: /tie/ });
  });
});

describe("keep-negative-example", () => {
  it("copies a None of the Above image under negative_examples/ and leaves the labeled folders alone", async () => {
    // Arrange
    s3.put(BUCKET, image.key, "png-bytes");
    const review = {
      loopName: "loop-1",
      outcome: "none-of-the-above",
      label: "None of the Above",
      votes: [{ label: "None of the Above", count: 1 }],
      answers: [],
      outputUri: "s3://b/o.json",
    };

    // Act
    const kept = (await keepNegativeExample({ image, review })) as { key: string };

    // Assert
    expect(kept.key).toMatch(/^negative_examples\/loop-1-[0-9a-f-]{36}-a\.png$/);
    expect(s3.text(BUCKET, kept.key)).toBe("png-bytes");
    expect(s3.keys("images_labeled_by_folder/")).toEqual([]);
  });

  it("refuses a labeled review with InvalidInputError", async () => {
    // Arrange
    const review = {
      loopName: "loop-1",
      outcome: "labeled",
      label: "AWS",
      votes: [{ label: "AWS", count: 1 }],
      answers: [],
      outputUri: "s3://b/o.json",
    };

    // Act
    const invoke = keepNegativeExample({ image, review });

    // Assert
    await expect(invoke).rejects.toMatchObject({ name: "InvalidInputError", message: /labeled/ });
  });
});

describe("start-human-loop", () => {
  it("stores the loop's state before starting it", async () => {
    // Arrange
    const payload = { ...startPayload };

    // Act
    const started = await startHumanLoop(payload);

    // Assert
    const loopName = (started as { loopName: string }).loopName;
    expect(s3.json(BUCKET, `state/loops/${loopName}.json`)).toMatchObject({ taskToken: "token-1", image });
  });

  it("accepts a re-invoked attempt whose loop already exists with the same input", async () => {
    // Arrange
    await startHumanLoop(startPayload);
    a2i.on(StartHumanLoopCommand).rejects(new ConflictException({ message: "exists", $metadata: {} }));

    // Act
    const again = await startHumanLoop(startPayload);

    // Assert
    expect(again).toMatchObject({ humanLoopArn: null });
  });

  it("refuses to reuse a loop name for different input", async () => {
    // Arrange
    await startHumanLoop(startPayload);

    // Act
    const clash = startHumanLoop({ ...startPayload, taskToken: "token-2" });

    // Assert
    await expect(clash).rejects.toMatchObject({ name: "HumanLoopConflictError" });
    expect(a2i.commandCalls(StartHumanLoopCommand)).toHaveLength(1);
  });
});

describe("on-human-loop-status", () => {
  it.each([
    ["an S3 event", objectCreatedEvent("images_for_detection/a.png")],
    [
      "a status with PascalCase detail",
      { ...statusEvent("loop-1", "Completed"), detail: { HumanLoopName: "loop-1" } },
    ],
    [
      "an InProgress status",
      {
        ...statusEvent("loop-1", "Completed"),
        detail: { ...statusEvent("loop-1", "Completed").detail, humanLoopStatus: "InProgress" },
      },
    ],
  ])("refuses %s with InvalidEventError", async (_, event) => {
    // Arrange
    const input = event;

    // Act
    const invoke = onHumanLoopStatus(input);

    // Assert
    await expect(invoke).rejects.toMatchObject({ name: "InvalidEventError" });
  });

  it("refuses a loop this deployment never started", async () => {
    // Arrange
    const event = statusEvent("someone-elses-loop", "Completed");

    // Act
    const invoke = onHumanLoopStatus(event);

    // Assert
    await expect(invoke).rejects.toMatchObject({ name: "UnknownHumanLoopError" });
  });

  it("throws for a completed loop whose output.json is not there yet, so the event is retried", async () => {
    // Arrange
    const { loopName } = (await startHumanLoop(startPayload)) as { loopName: string };

    // Act
    const invoke = onHumanLoopStatus(statusEvent(loopName, "Completed"));

    // Assert
    await expect(invoke).rejects.toMatchObject({ name: "ObjectNotFoundError" });
  });
});

describe("check-retrain", () => {
  it("reports a lost race on the counter as CounterConflictError and counts nothing", async () => {
    // Arrange
    s3.put(BUCKET, Retrain.counterKey, JSON.stringify({ generation: 0, untrained: 3, recent: [] }));
    s3.mock.on(untyped(PutObjectCommand), { Key: Retrain.counterKey }).rejects(
      new S3ServiceException({
        name: "PreconditionFailed",
        $fault: "client",
        $metadata: { httpStatusCode: 412 },
        message: "412",
      }),
    );

    // Act
    const invoke = checkRetrain({ executionName: "exec-race" });

    // Assert
    await expect(invoke).rejects.toMatchObject({ name: "CounterConflictError" });
    expect(s3.json(BUCKET, Retrain.markerKey("exec-race"))).toBeUndefined();
    expect(s3.json(BUCKET, Retrain.counterKey)).toMatchObject({ untrained: 3 });
  });

  it("reports a corrupt counter instead of silently resetting it", async () => {
    // Arrange
    s3.put(BUCKET, Retrain.counterKey, "not json");

    // Act
    const invoke = checkRetrain({ executionName: "exec-corrupt" });

    // Assert
    await expect(invoke).rejects.toMatchObject({ name: "CorruptStateError" });
  });
});
