/**
 * review-image run on the local engine with in-test handlers: every branch of the workflow, by
 * the state names in statemachines/review-image.asl.json.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Functions, OtherSubstitutions, StateMachines } from "@secondlook/core/blueprint";
import { afterEach, describe, expect, it } from "vitest";
import { substitute } from "../../src/states/definition";
import type { StatesEngine } from "../../src/states/engine";
import {
  type FunctionBody,
  type Harness,
  namedError,
  startEngine,
  tokenIn,
  waitFor,
  waitForEvent,
} from "./helpers";

let h: Harness;
afterEach(async () => h?.cleanup());

const ARN = "arn:aws:lambda:us-east-1:000000000000:function:";
const TRAIN_MODEL_ARN = "arn:aws:states:us-east-1:000000000000:stateMachine:train-model";
const image = { bucket: "b", key: "images_for_detection/x.png" };
const s3Event = {
  "detail-type": "Object Created",
  detail: { bucket: { name: "b" }, object: { key: image.key } },
};

interface Detection {
  confidence: number;
  minConfidence: number;
  sampled: boolean;
  humanReviewEnabled: boolean;
}

const confident: Detection = { confidence: 97, minConfidence: 80, sampled: false, humanReviewEnabled: true };
const unsure: Detection = { ...confident, confidence: 40 };

/** Handlers named as in the blueprint; each test overrides what its branch needs. */
function handlers(overrides: Partial<Record<string, FunctionBody>> = {}): Record<string, FunctionBody> {
  return {
    [Functions.detect.handler]: () => ({ image, detection: { label: "acme", ...confident } }),
    [Functions.startHumanLoop.handler]: () => ({ humanLoopName: "loop-1" }),
    [Functions.copyToLabeledFolder.handler]: () => ({
      key: "images_labeled_by_folder/acme/x.png",
      label: "acme",
    }),
    [Functions.keepNegativeExample.handler]: () => ({ key: "negative_examples/loop-1-x.png" }),
    [Functions.recordOutcome.handler]: (p) => ({ recorded: (p as { outcome: string }).outcome }),
    [Functions.checkRetrain.handler]: () => ({ due: false, trainingName: "train-0001" }),
    ...overrides,
  } as Record<string, FunctionBody>;
}

async function reviewImage(engine: StatesEngine) {
  const text = await readFile(
    join(import.meta.dirname, "../../../../statemachines", StateMachines.reviewImage.file),
    "utf8",
  );
  const values: Record<string, string> = { [OtherSubstitutions.trainModelStateMachineArn]: TRAIN_MODEL_ARN };
  for (const fn of Object.values(Functions))
    if (fn.substitution) values[fn.substitution] = `${ARN}${fn.handler}`;
  const { stateMachineArn } = await engine.createStateMachine({
    name: StateMachines.reviewImage.name,
    definition: substitute(text, values),
  });
  await engine.createStateMachine({
    name: "train-model",
    definition: JSON.stringify({
      StartAt: "Train",
      States: { Train: { Type: "Wait", Seconds: 100_000, End: true } },
    }),
  });
  return stateMachineArn;
}

/** Starts review-image for one image; returns its ARN. */
async function start(overrides: Partial<Record<string, FunctionBody>> = {}, timeScale = 0.001) {
  h = await startEngine(handlers(overrides), { timeScale });
  const stateMachineArn = await reviewImage(h.engine);
  const { executionArn } = await h.engine.startExecution({
    stateMachineArn,
    name: "x-png-1",
    input: JSON.stringify(s3Event),
  });
  return executionArn;
}

/** The states entered, in order. */
async function path(executionArn: string): Promise<string[]> {
  const { events } = await h.engine.getExecutionHistory({ executionArn, maxResults: 1000 });
  return events.flatMap((e) => {
    const details = e.stateEnteredEventDetails as { name: string } | undefined;
    return details ? [details.name] : [];
  });
}

/** Waits for the human-review task and answers it as on-human-loop-status would. */
async function answer(executionArn: string, reply: { output?: object; error?: string; cause?: string }) {
  await waitForEvent(h.engine, executionArn, "TaskSubmitted");
  const call = h.lambda.calls.find((c) => c.name === Functions.startHumanLoop.handler);
  const token = tokenIn(call?.payload, "taskToken");
  if (reply.output) await h.engine.sendTaskSuccess(token, JSON.stringify(reply.output));
  else await h.engine.sendTaskFailure(token, reply.error, reply.cause);
}

/** The state input RecordNoAnswer handed to record-outcome. */
function noAnswerInput(): unknown {
  const call = h.lambda.calls.find((c) => (c.payload as { outcome?: string }).outcome === "no-answer");
  return (call?.payload as { input?: unknown } | undefined)?.input;
}

const recordedOutcomes = () =>
  h.lambda.calls
    .filter((c) => c.name === Functions.recordOutcome.handler)
    .map((c) => (c.payload as { outcome: string }).outcome);

describe("review-image", () => {
  it("auto-labels a confident, unsampled detection", async () => {
    // Arrange / Act
    const executionArn = await start();
    const result = await waitFor(h.engine, executionArn);

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect(await path(executionArn)).toEqual(["DetectLabels", "CheckConfidence", "RecordAutoLabel"]);
    expect(JSON.parse(result.output as string).outcome).toEqual({ record: { recorded: "auto-labeled" } });
    const detectCall = h.lambda.calls.find((c) => c.name === Functions.detect.handler);
    expect(detectCall?.payload).toEqual({ event: s3Event, executionName: "x-png-1" });
    expect(recordedOutcomes()).toEqual(["auto-labeled"]);
  });

  it("auto-labels a low-confidence detection when human review is disabled", async () => {
    // Arrange / Act
    const executionArn = await start({
      [Functions.detect.handler]: () => ({ image, detection: { ...unsure, humanReviewEnabled: false } }),
    });
    await waitFor(h.engine, executionArn);

    // Assert
    expect(await path(executionArn)).toEqual(["DetectLabels", "CheckConfidence", "RecordAutoLabel"]);
  });

  it("sends a low-confidence image to a reviewer and files the label as training data", async () => {
    // Arrange
    const executionArn = await start({ [Functions.detect.handler]: () => ({ image, detection: unsure }) });

    // Act
    await answer(executionArn, { output: { outcome: "labeled", label: "acme", votes: { acme: 1 } } });
    const result = await waitFor(h.engine, executionArn);

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect(await path(executionArn)).toEqual([
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
    const startCall = h.lambda.calls.find((c) => c.name === Functions.startHumanLoop.handler);
    expect(startCall?.payload).toMatchObject({
      executionName: "x-png-1",
      retryCount: 0,
      image,
      detection: unsure,
    });
    expect(JSON.parse(result.output as string)).toMatchObject({
      review: { outcome: "labeled", label: "acme" },
      copy: { key: "images_labeled_by_folder/acme/x.png", label: "acme" },
      retrain: { due: false },
    });
  });

  it("sends a confident image picked by sampling to a reviewer", async () => {
    // Arrange
    const executionArn = await start({
      [Functions.detect.handler]: () => ({ image, detection: { ...confident, sampled: true } }),
    });

    // Act
    await answer(executionArn, { output: { outcome: "labeled", label: "acme" } });
    await waitFor(h.engine, executionArn);

    // Assert
    expect((await path(executionArn)).slice(0, 3)).toEqual([
      "DetectLabels",
      "CheckConfidence",
      "StartHumanReview",
    ]);
  });

  it("starts one training when the label crosses the retraining threshold", async () => {
    // Arrange
    const executionArn = await start({
      [Functions.detect.handler]: () => ({ image, detection: unsure }),
      [Functions.checkRetrain.handler]: () => ({ due: true, trainingName: "train-0042" }),
    });

    // Act
    await answer(executionArn, { output: { outcome: "labeled", label: "acme" } });
    const result = await waitFor(h.engine, executionArn);

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect((await path(executionArn)).slice(-3)).toEqual(["IsRetrainingDue", "StartRetraining", "Done"]);
    const training = await h.engine.describeExecution(
      `${TRAIN_MODEL_ARN.replace(":stateMachine:", ":execution:")}:train-0042`,
    );
    expect(JSON.parse(training.input)).toEqual({ reason: "new-labels", trigger: executionArn });
  });

  it("treats a training already started for the crossing as done", async () => {
    // Arrange
    h = await startEngine(
      handlers({
        [Functions.detect.handler]: () => ({ image, detection: unsure }),
        [Functions.checkRetrain.handler]: () => ({ due: true, trainingName: "train-0042" }),
      }),
    );
    const stateMachineArn = await reviewImage(h.engine);
    await h.engine.startExecution({ stateMachineArn: TRAIN_MODEL_ARN, name: "train-0042", input: "{}" });
    const { executionArn } = await h.engine.startExecution({
      stateMachineArn,
      input: JSON.stringify(s3Event),
    });

    // Act
    await answer(executionArn, { output: { outcome: "labeled", label: "acme" } });
    const result = await waitFor(h.engine, executionArn);

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect((await path(executionArn)).slice(-2)).toEqual(["StartRetraining", "Done"]);
    const { events } = await h.engine.getExecutionHistory({ executionArn, maxResults: 1000 });
    expect(events.find((e) => e.type === "TaskFailed")?.taskFailedEventDetails).toMatchObject({
      resourceType: "states",
      resource: "startExecution",
      error: "StepFunctions.ExecutionAlreadyExistsException",
    });
  });

  it("keeps a negative example, then records a skip, when the reviewer picks None of the Above", async () => {
    // Arrange
    const executionArn = await start({ [Functions.detect.handler]: () => ({ image, detection: unsure }) });

    // Act
    await answer(executionArn, { output: { outcome: "none-of-the-above", label: "None of the Above" } });
    const result = await waitFor(h.engine, executionArn);

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect((await path(executionArn)).slice(-3)).toEqual([
      "RouteAnswer",
      "KeepNegativeExample",
      "RecordSkip",
    ]);
    expect(recordedOutcomes()).toEqual(["skipped"]);
  });

  it("records no answer when the reviewers tie", async () => {
    // Arrange
    const executionArn = await start({ [Functions.detect.handler]: () => ({ image, detection: unsure }) });

    // Act
    await answer(executionArn, { output: { outcome: "tie", label: null } });
    const result = await waitFor(h.engine, executionArn);

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect((await path(executionArn)).slice(-2)).toEqual(["RouteAnswer", "RecordNoAnswer"]);
    expect(noAnswerInput()).toMatchObject({ review: { outcome: "tie" } });
  });

  it.each(["HumanLoopExpiredError", "HumanLoopStoppedError", "HumanLoopFailedError"])(
    "records no answer when the loop reports %s",
    async (error) => {
      // Arrange
      const executionArn = await start({ [Functions.detect.handler]: () => ({ image, detection: unsure }) });

      // Act
      await answer(executionArn, { error, cause: "loop ended" });
      const result = await waitFor(h.engine, executionArn);

      // Assert
      expect(result.status).toBe("SUCCEEDED");
      expect((await path(executionArn)).slice(-2)).toEqual(["StartHumanReview", "RecordNoAnswer"]);
      expect(noAnswerInput()).toMatchObject({ failure: { Error: error, Cause: "loop ended" } });
    },
  );

  it("records no answer when nobody answers before the state's TimeoutSeconds", async () => {
    // Arrange: 262,800 s at timeScale 1e-6 is about a quarter of a second.
    const executionArn = await start(
      { [Functions.detect.handler]: () => ({ image, detection: unsure }) },
      1e-6,
    );

    // Act
    const result = await waitFor(h.engine, executionArn);

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect((await path(executionArn)).slice(-2)).toEqual(["StartHumanReview", "RecordNoAnswer"]);
    const { events } = await h.engine.getExecutionHistory({ executionArn, maxResults: 1000 });
    expect(events.find((e) => e.type === "TaskTimedOut")?.taskTimedOutEventDetails).toMatchObject({
      error: "States.Timeout",
    });
    expect(noAnswerInput()).toMatchObject({ failure: { Error: "States.Timeout" } });
  });

  it("retries a detector that is not ready yet, then carries on", async () => {
    // Arrange
    let attempts = 0;
    const executionArn = await start({
      [Functions.detect.handler]: () => {
        attempts++;
        if (attempts < 3) throw namedError("ModelNotReadyError", "model is starting");
        return { image, detection: { label: "acme", ...confident } };
      },
    });

    // Act
    const result = await waitFor(h.engine, executionArn);

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect(attempts).toBe(3);
    expect((await path(executionArn)).slice(0, 2)).toEqual(["DetectLabels", "CheckConfidence"]);
  });

  it("records the failure and fails the execution when detection breaks for good", async () => {
    // Arrange
    const executionArn = await start({
      [Functions.detect.handler]: () => {
        throw namedError("InvalidImageError", "not an image");
      },
    });

    // Act
    const result = await waitFor(h.engine, executionArn);

    // Assert
    expect(await path(executionArn)).toEqual(["DetectLabels", "RecordFailure", "ReviewFailed"]);
    expect(result.status).toBe("FAILED");
    expect(result.error).toBe("InvalidImageError");
    expect(JSON.parse(result.cause as string).errorMessage).toBe("not an image");
    expect(recordedOutcomes()).toEqual(["failed"]);
  });

  it("records the failure when copying the labeled image fails", async () => {
    // Arrange
    const executionArn = await start({
      [Functions.detect.handler]: () => ({ image, detection: unsure }),
      [Functions.copyToLabeledFolder.handler]: () => {
        throw namedError("AccessDeniedError", "no write access");
      },
    });

    // Act
    await answer(executionArn, { output: { outcome: "labeled", label: "acme" } });
    const result = await waitFor(h.engine, executionArn);

    // Assert
    expect((await path(executionArn)).slice(-3)).toEqual([
      "CopyToLabeledFolder",
      "RecordFailure",
      "ReviewFailed",
    ]);
    expect(result).toMatchObject({ status: "FAILED", error: "AccessDeniedError" });
  });
});
