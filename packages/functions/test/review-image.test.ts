import {
  DetectCustomLabelsCommand,
  RekognitionClient,
  ResourceNotReadyException,
} from "@aws-sdk/client-rekognition";
import { SageMakerA2IRuntimeClient, StartHumanLoopCommand } from "@aws-sdk/client-sagemaker-a2i-runtime";
import { NONE_OF_THE_ABOVE, type OutcomeRecord, Prefixes, Retrain } from "@secondlook/core";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  BUCKET,
  FLOW_DEFINITION_ARN,
  fakeS3,
  fakeSsm,
  humanAnswer,
  MODEL_ARN,
  objectCreatedEvent,
  outputJson,
  outputKey,
  setHandlerEnv,
  statusEvent,
} from "./fakes";
import { fakeStepFunctions, runReviewImage } from "./review-image-driver";

const LABELS = ["AWS", "Amazon", "<script>alert(1)</script>", "../../etc"];
const IMAGE_KEY = "images_for_detection/my logo.png";

let s3: ReturnType<typeof fakeS3>;
let ssm: ReturnType<typeof fakeSsm>;
let sfn: ReturnType<typeof fakeStepFunctions>;
const rekognition = mockClient(RekognitionClient);
const a2i = mockClient(SageMakerA2IRuntimeClient);

beforeAll(() => {
  setHandlerEnv();
  // Settings are cached for 30 s per sandbox; each test moves the clock past that.
  vi.useFakeTimers({ toFake: ["Date"] });
});

beforeEach(() => {
  vi.setSystemTime(Date.now() + 3_600_000);
  s3 = fakeS3();
  ssm = fakeSsm({ labels: LABELS, activeModelVersionArn: MODEL_ARN, minConfidence: 70 });
  sfn = fakeStepFunctions();
  rekognition.reset();
  a2i.reset();
  a2i.on(StartHumanLoopCommand).callsFake((input) => ({
    HumanLoopArn: `arn:aws:sagemaker:us-east-1:111122223333:human-loop/${input.HumanLoopName}`,
  }));
  s3.put(BUCKET, IMAGE_KEY, "png-bytes");
});

afterEach(() => {
  s3.mock.restore();
  ssm.mock.restore();
  sfn.mock.restore();
});

const detects = (labels: { Name: string; Confidence: number }[]) =>
  rekognition.on(DetectCustomLabelsCommand).resolves({ CustomLabels: labels });

/** The InputContent of the loop this test started. */
function startedLoop() {
  const call = a2i.commandCalls(StartHumanLoopCommand).at(-1);
  if (!call) throw new Error("No human loop was started");
  const input = call.args[0].input;
  return {
    name: input.HumanLoopName as string,
    input,
    content: JSON.parse(input.HumanLoopInput?.InputContent ?? ""),
  };
}

/** Plays A2I and EventBridge: reviewers answer, output.json is written, the status event is delivered. */
function reviewersAnswer(...labels: string[]) {
  return async () => {
    const loop = startedLoop();
    const answers = labels.map((label, i) => humanAnswer(label, `worker${i}`.padEnd(16, "0")));
    s3.put(BUCKET, outputKey(loop.name), JSON.stringify(outputJson(loop.name, loop.content, answers)));
    const { handler } = await import("../src/handlers/on-human-loop-status");
    await handler(statusEvent(loop.name, "Completed"));
  };
}

/** Plays A2I ending the loop without an answer. */
function loopEnds(status: "Failed" | "Stopped", failure: { code: string; reason: string } | null = null) {
  return async () => {
    const { handler } = await import("../src/handlers/on-human-loop-status");
    await handler(statusEvent(startedLoop().name, status, failure));
  };
}

const outcomeOf = (executionName: string) =>
  s3.json(BUCKET, `outcomes/${executionName}.json`) as OutcomeRecord;

describe("review-image", () => {
  it("auto-labels a confident image without asking anyone", async () => {
    // Arrange
    detects([
      { Name: "AWS", Confidence: 95.5 },
      { Name: "Amazon", Confidence: 3 },
    ]);

    // Act
    const run = await runReviewImage(objectCreatedEvent(IMAGE_KEY), {
      executionName: "exec-auto",
      callbacks: sfn.results,
    });

    // Assert
    expect(run.status).toBe("SUCCEEDED");
    expect(run.path).toEqual(["DetectLabels", "CheckConfidence", "RecordAutoLabel"]);
    expect(rekognition.commandCalls(DetectCustomLabelsCommand)[0]?.args[0].input).toEqual({
      ProjectVersionArn: MODEL_ARN,
      Image: { S3Object: { Bucket: BUCKET, Name: IMAGE_KEY } },
      MinConfidence: 0,
    });
    expect(a2i.commandCalls(StartHumanLoopCommand)).toHaveLength(0);
    expect(outcomeOf("exec-auto")).toMatchObject({ outcome: "auto-labeled", label: "AWS", confidence: 95.5 });
    expect(s3.keys("images_labeled_by_folder/")).toEqual([]);
  });

  it("asks a reviewer about a low-confidence image and files the answer as training data", async () => {
    // Arrange
    detects([{ Name: "AWS", Confidence: 41 }]);

    // Act
    const run = await runReviewImage(objectCreatedEvent(IMAGE_KEY), {
      executionName: "exec-label",
      callbacks: sfn.results,
      whileWaiting: reviewersAnswer("Amazon"),
    });

    // Assert
    expect(run.status).toBe("SUCCEEDED");
    expect(run.path).toEqual([
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
    const loop = startedLoop();
    expect(loop.input.FlowDefinitionArn).toBe(FLOW_DEFINITION_ARN);
    expect(loop.input.DataAttributes?.ContentClassifiers).toEqual([
      "FreeOfPersonallyIdentifiableInformation",
      "FreeOfAdultContent",
    ]);
    expect(loop.content).toMatchObject({
      taskObject: `s3://${BUCKET}/${IMAGE_KEY}`,
      categories: [...LABELS, NONE_OF_THE_ABOVE],
      detectedLabel: "AWS",
      confidence: 41,
      reason: "low-confidence",
      taskToken: "token-exec-label-StartHumanReview",
    });
    const [copied] = s3.keys("images_labeled_by_folder/");
    expect(copied).toMatch(
      /^images_labeled_by_folder\/Amazon\/review-[0-9a-f]{32}-0-[0-9a-f-]{36}-my logo\.png$/,
    );
    expect(s3.text(BUCKET, copied as string)).toBe("png-bytes");
    expect(outcomeOf("exec-label")).toMatchObject({
      outcome: "human-labeled",
      label: "Amazon",
      loopName: loop.name,
      copiedKey: copied,
    });
    expect(run.output.retrain).toEqual({ due: false, trainingName: null });
    expect(run.trainings).toEqual([]);
  });

  it("starts exactly one retraining when this label crosses the threshold", async () => {
    // Arrange
    detects([{ Name: "AWS", Confidence: 10 }]);
    s3.put(BUCKET, Retrain.counterKey, JSON.stringify({ generation: 4, untrained: 19, recent: [] }));

    // Act
    const run = await runReviewImage(objectCreatedEvent(IMAGE_KEY), {
      executionName: "exec-crossing",
      callbacks: sfn.results,
      whileWaiting: reviewersAnswer("AWS"),
    });

    // Assert
    expect(run.status).toBe("SUCCEEDED");
    expect(run.path.slice(-3)).toEqual(["IsRetrainingDue", "StartRetraining", "Done"]);
    expect(run.trainings).toEqual(["retrain-5"]);
    expect(s3.json(BUCKET, Retrain.counterKey)).toMatchObject({ generation: 5, untrained: 0 });
  });

  it("counts a retried CheckRetrain only once", async () => {
    // Arrange
    detects([{ Name: "AWS", Confidence: 10 }]);
    await runReviewImage(objectCreatedEvent(IMAGE_KEY), {
      executionName: "exec-retried",
      callbacks: sfn.results,
      whileWaiting: reviewersAnswer("AWS"),
    });
    const { handler } = await import("../src/handlers/check-retrain");

    // Act
    const again = await handler({ executionName: "exec-retried" });

    // Assert
    expect(again).toEqual({ due: false, trainingName: null });
    expect(s3.json(BUCKET, Retrain.counterKey)).toMatchObject({ untrained: 1 });
  });

  it("keeps an image the reviewer calls None of the Above as a negative example, outside the labeled folders", async () => {
    // Arrange
    detects([{ Name: "AWS", Confidence: 10 }]);

    // Act
    const run = await runReviewImage(objectCreatedEvent(IMAGE_KEY), {
      executionName: "exec-skip",
      callbacks: sfn.results,
      whileWaiting: reviewersAnswer(NONE_OF_THE_ABOVE),
    });

    // Assert
    expect(run.status).toBe("SUCCEEDED");
    expect(run.path.slice(-3)).toEqual(["RouteAnswer", "KeepNegativeExample", "RecordSkip"]);
    expect(outcomeOf("exec-skip")).toMatchObject({
      outcome: "skipped",
      label: NONE_OF_THE_ABOVE,
      copiedKey: null,
    });
    expect(s3.keys("images_labeled_by_folder/")).toEqual([]);
    expect(s3.keys(Prefixes.negatives)).toHaveLength(1);
  });

  it.each([
    ["stopped", loopEnds("Stopped"), "HumanLoopStoppedError"],
    [
      "expired",
      loopEnds("Failed", { code: "Expired", reason: "Nobody answered in time" }),
      "HumanLoopExpiredError",
    ],
    ["failed", loopEnds("Failed", { code: "InternalError", reason: "A2I failed" }), "HumanLoopFailedError"],
  ])("records no answer when the loop is %s", async (_, whileWaiting, error) => {
    // Arrange
    detects([{ Name: "AWS", Confidence: 10 }]);

    // Act
    const run = await runReviewImage(objectCreatedEvent(IMAGE_KEY), {
      executionName: "exec-no-answer",
      callbacks: sfn.results,
      whileWaiting,
    });

    // Assert
    expect(run.status).toBe("SUCCEEDED");
    expect(run.path.slice(-2)).toEqual(["StartHumanReview", "RecordNoAnswer"]);
    expect(outcomeOf("exec-no-answer")).toMatchObject({
      outcome: "no-answer",
      label: null,
      failure: { error },
    });
    expect(outcomeOf("exec-no-answer").image?.key).toBe(IMAGE_KEY);
  });

  it("records no answer when two reviewers disagree", async () => {
    // Arrange
    detects([{ Name: "AWS", Confidence: 10 }]);

    // Act
    const run = await runReviewImage(objectCreatedEvent(IMAGE_KEY), {
      executionName: "exec-tie",
      callbacks: sfn.results,
      whileWaiting: reviewersAnswer("AWS", "Amazon"),
    });

    // Assert
    expect(run.status).toBe("SUCCEEDED");
    expect(run.output.review).toMatchObject({ outcome: "tie", label: null });
    expect(run.path.slice(-2)).toEqual(["RouteAnswer", "RecordNoAnswer"]);
    expect(outcomeOf("exec-tie")).toMatchObject({ outcome: "no-answer", failure: null });
    expect(outcomeOf("exec-tie").answers).toHaveLength(2);
    expect(s3.keys("images_labeled_by_folder/")).toEqual([]);
  });

  it("records a failure and fails the execution when the model is not running", async () => {
    // Arrange
    rekognition
      .on(DetectCustomLabelsCommand)
      .rejects(new ResourceNotReadyException({ message: "not running", $metadata: { httpStatusCode: 400 } }));

    // Act
    const run = await runReviewImage(objectCreatedEvent(IMAGE_KEY), {
      executionName: "exec-fail",
      callbacks: sfn.results,
    });

    // Assert
    expect(run.status).toBe("FAILED");
    expect(run.error).toBe("ModelNotReadyError");
    expect(run.path).toEqual(["DetectLabels", "RecordFailure", "ReviewFailed"]);
    expect(outcomeOf("exec-fail")).toMatchObject({
      outcome: "failed",
      failure: { error: "ModelNotReadyError" },
    });
    expect(outcomeOf("exec-fail").image?.key).toBe(IMAGE_KEY);
  });

  it("sends every image to a reviewer while no model version is active", async () => {
    // Arrange
    ssm.set({ activeModelVersionArn: "" });

    // Act
    const run = await runReviewImage(objectCreatedEvent(IMAGE_KEY), {
      executionName: "exec-no-model",
      callbacks: sfn.results,
      whileWaiting: reviewersAnswer("AWS"),
    });

    // Assert
    expect(rekognition.commandCalls(DetectCustomLabelsCommand)).toHaveLength(0);
    expect(run.output.detection).toMatchObject({ label: null, confidence: 0, modelVersionArn: null });
    expect(run.path).toContain("CopyToLabeledFolder");
  });

  it("sends a confident image to a reviewer when sampling picks it", async () => {
    // Arrange
    ssm.set({ humanSamplingPercent: 100 });
    detects([{ Name: "AWS", Confidence: 99 }]);

    // Act
    const run = await runReviewImage(objectCreatedEvent(IMAGE_KEY), {
      executionName: "exec-sampled",
      callbacks: sfn.results,
      whileWaiting: reviewersAnswer("AWS"),
    });

    // Assert
    expect(run.output.detection).toMatchObject({ sampled: true, reason: "sampling" });
    expect(startedLoop().content.reason).toBe("sampling");
    expect(run.status).toBe("SUCCEEDED");
  });

  it.each([
    ["<script>alert(1)</script>", "<script>alert(1)<_script>"],
    ["../../etc", "_.._etc"],
  ])("keeps the label %j as data and its image inside one label folder", async (label, folder) => {
    // Arrange
    detects([{ Name: "AWS", Confidence: 10 }]);
    s3.put(BUCKET, "images_for_detection/../../x.png", "png-bytes");

    // Act
    await runReviewImage(objectCreatedEvent("images_for_detection/../../x.png"), {
      executionName: "exec-odd-label",
      callbacks: sfn.results,
      whileWaiting: reviewersAnswer(label),
    });

    // Assert
    const [copied] = s3.keys("images_labeled_by_folder/");
    expect(copied?.split("/")).toHaveLength(3);
    expect(copied?.split("/")[1]).toBe(folder);
    expect(copied).toMatch(/-x\.png$/);
    expect(outcomeOf("exec-odd-label").label).toBe(label);
  });

  it("fails the review when a reviewer's answer was never offered", async () => {
    // Arrange
    detects([{ Name: "AWS", Confidence: 10 }]);

    // Act
    const run = await runReviewImage(objectCreatedEvent(IMAGE_KEY), {
      executionName: "exec-unknown-label",
      callbacks: sfn.results,
      whileWaiting: reviewersAnswer("Google"),
    });

    // Assert
    expect(run.status).toBe("FAILED");
    expect(run.error).toBe("UnknownLabelError");
    expect(run.path.slice(-3)).toEqual(["StartHumanReview", "RecordFailure", "ReviewFailed"]);
    expect(s3.keys("images_labeled_by_folder/")).toEqual([]);
    expect(outcomeOf("exec-unknown-label").failure?.error).toBe("UnknownLabelError");
  });

  it("fails the review when output.json lacks the reviewers' answers", async () => {
    // Arrange
    detects([{ Name: "AWS", Confidence: 10 }]);
    const whileWaiting = async () => {
      const loop = startedLoop();
      s3.put(
        BUCKET,
        outputKey(loop.name),
        JSON.stringify({ humanLoopName: loop.name, inputContent: loop.content }),
      );
      const { handler } = await import("../src/handlers/on-human-loop-status");
      await handler(statusEvent(loop.name, "Completed"));
    };

    // Act
    const run = await runReviewImage(objectCreatedEvent(IMAGE_KEY), {
      executionName: "exec-bad-output",
      callbacks: sfn.results,
      whileWaiting,
    });

    // Assert
    expect(run.status).toBe("FAILED");
    expect(run.error).toBe("InvalidOutputError");
    expect(run.cause).toMatch(/humanAnswers/);
  });

  it("records a failure for an event that is not an S3 Object Created event", async () => {
    // Arrange
    const event = { source: "aws.s3", "detail-type": "Object Created", detail: { bucket: { name: BUCKET } } };

    // Act
    const run = await runReviewImage(event, { executionName: "exec-bad-event", callbacks: sfn.results });

    // Assert
    expect(run.status).toBe("FAILED");
    expect(run.error).toBe("InvalidEventError");
    expect(outcomeOf("exec-bad-event")).toMatchObject({ outcome: "failed", image: null });
  });

  it("treats a repeated status event as harmless", async () => {
    // Arrange
    detects([{ Name: "AWS", Confidence: 10 }]);
    await runReviewImage(objectCreatedEvent(IMAGE_KEY), {
      executionName: "exec-repeat",
      callbacks: sfn.results,
      whileWaiting: reviewersAnswer("AWS"),
    });
    const { handler } = await import("../src/handlers/on-human-loop-status");

    // Act
    const repeat = await handler(statusEvent(startedLoop().name, "Completed"));

    // Assert
    expect(repeat).toMatchObject({ status: "Completed", error: null, delivered: false });
  });
});
