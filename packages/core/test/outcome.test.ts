import { describe, expect, it } from "vitest";
import { InvalidInputError, NONE_OF_THE_ABOVE, Outcome, type Review } from "../src/index";

const now = new Date("2026-01-01T00:00:05.000Z");
const startTime = "2026-01-01T00:00:00.000Z";
const image = {
  bucket: "data-bucket",
  key: "images_for_detection/a.png",
  uri: "s3://data-bucket/images_for_detection/a.png",
};
const detection = {
  label: "AWS",
  confidence: 42,
  modelVersionArn: null,
  minConfidence: 70,
  humanReviewEnabled: true,
  sampled: false,
  reason: "low-confidence" as const,
};
const review = (outcome: Review["outcome"], label: string | null): Review => ({
  loopName: "review-abc-0",
  outcome,
  label,
  votes: label ? [{ label, count: 1 }] : [],
  answers: label ? [{ workerId: "w1", label, submissionTime: "2026-01-01T00:00:04.000Z" }] : [],
  outputUri: "s3://data-bucket/a2i-output/fd/loop/output.json",
});

describe("Outcome.record", () => {
  it("records an auto-labeled image with the detector's label and the duration", () => {
    // Arrange
    const input = Outcome.parseInput({
      outcome: "auto-labeled",
      executionName: "exec-1",
      startTime,
      image,
      detection: { ...detection, confidence: 95, reason: "confident" },
    });

    // Act
    const record = Outcome.record(input, now);

    // Assert
    expect(record).toMatchObject({
      executionName: "exec-1",
      outcome: "auto-labeled",
      label: "AWS",
      confidence: 95,
      loopName: null,
      recordedAt: now.toISOString(),
      durationMs: 5000,
    });
    expect(Outcome.schema.parse(record)).toEqual(record);
  });

  it("records a human label with the loop, answers and copied key", () => {
    // Arrange
    const input = Outcome.parseInput({
      outcome: "human-labeled",
      executionName: "exec-1",
      startTime,
      image,
      detection,
      review: review("labeled", "Amazon"),
      copy: { key: "images_labeled_by_folder/Amazon/x.png", label: "Amazon" },
    });

    // Act
    const record = Outcome.record(input, now);

    // Assert
    expect(record).toMatchObject({
      outcome: "human-labeled",
      label: "Amazon",
      loopName: "review-abc-0",
      copiedKey: "images_labeled_by_folder/Amazon/x.png",
    });
    expect(record.answers).toHaveLength(1);
  });

  it("records a skip as None of the Above", () => {
    // Arrange
    const input = Outcome.parseInput({
      outcome: "skipped",
      executionName: "exec-1",
      startTime,
      image,
      detection,
      review: review("none-of-the-above", NONE_OF_THE_ABOVE),
    });

    // Act
    const record = Outcome.record(input, now);

    // Assert
    expect(record.label).toBe(NONE_OF_THE_ABOVE);
    expect(record.copiedKey).toBeNull();
  });

  it("records no answer from a caught failure carried in the whole state", () => {
    // Arrange
    const input = Outcome.parseInput({
      outcome: "no-answer",
      executionName: "exec-1",
      startTime,
      input: { image, detection, failure: { Error: "HumanLoopExpiredError", Cause: "expired" } },
    });

    // Act
    const record = Outcome.record(input, now);

    // Assert
    expect(record).toMatchObject({
      outcome: "no-answer",
      image,
      label: null,
      failure: { error: "HumanLoopExpiredError", cause: "expired" },
    });
  });

  it("records a tie as no answer with the reviewers' answers", () => {
    // Arrange
    const input = Outcome.parseInput({
      outcome: "no-answer",
      executionName: "exec-1",
      startTime,
      image,
      detection,
      review: review("tie", null),
    });

    // Act
    const record = Outcome.record(input, now);

    // Assert
    expect(record).toMatchObject({ outcome: "no-answer", loopName: "review-abc-0", failure: null });
  });

  it("records a failure before detection with the image taken from the S3 event", () => {
    // Arrange
    const input = Outcome.parseInput({
      outcome: "failed",
      executionName: "exec-1",
      startTime,
      input: {
        source: "aws.s3",
        "detail-type": "Object Created",
        detail: { bucket: { name: "data-bucket" }, object: { key: "images_for_detection/a.png" } },
        failure: { Error: "ModelNotReadyError", Cause: "{}" },
      },
      failure: { Error: "ModelNotReadyError", Cause: "{}" },
    });

    // Act
    const record = Outcome.record(input, now);

    // Assert
    expect(record.image?.key).toBe("images_for_detection/a.png");
    expect(record.failure).toEqual({ error: "ModelNotReadyError", cause: "{}" });
  });

  it.each([
    ["an unknown outcome", { outcome: "done", executionName: "e", startTime }],
    ["a missing start time", { outcome: "auto-labeled", executionName: "e", image, detection }],
    [
      "a human label without the copy",
      {
        outcome: "human-labeled",
        executionName: "e",
        startTime,
        image,
        detection,
        review: review("labeled", "AWS"),
      },
    ],
  ])("refuses a payload with %s", (_, payload) => {
    // Arrange
    const input = payload;

    // Act
    const parse = () => Outcome.parseInput(input);

    // Assert
    expect(parse).toThrow(InvalidInputError);
  });

  it("keys records by execution name under outcomes/", () => {
    // Arrange
    const name = "exec-1";

    // Act
    const key = Outcome.key(name);

    // Assert
    expect(key).toBe("outcomes/exec-1.json");
  });
});

describe("Outcome audits", () => {
  const sampled = { ...detection, label: "AWS", confidence: 96, sampled: true, reason: "sampling" as const };

  it("records a sampled image the reviewer labels like the model as an agreement", () => {
    // Arrange
    const input = Outcome.parseInput({
      outcome: "human-labeled",
      executionName: "exec-1",
      startTime,
      image,
      detection: sampled,
      review: review("labeled", "AWS"),
      copy: { key: "images_labeled_by_folder/AWS/x.png", label: "AWS" },
    });

    // Act
    const record = Outcome.record(input, now);

    // Assert
    expect(record.audit).toEqual({ verdict: "agreement", modelLabel: "AWS", humanLabel: "AWS" });
    expect(Outcome.schema.parse(record)).toEqual(record);
  });

  it("records a sampled image the reviewer labels otherwise as a correction", () => {
    // Arrange
    const input = Outcome.parseInput({
      outcome: "human-labeled",
      executionName: "exec-1",
      startTime,
      image,
      detection: sampled,
      review: review("labeled", "Amazon"),
      copy: { key: "images_labeled_by_folder/Amazon/x.png", label: "Amazon" },
    });

    // Act
    const record = Outcome.record(input, now);

    // Assert
    expect(record.audit).toEqual({ verdict: "correction", modelLabel: "AWS", humanLabel: "Amazon" });
  });

  it("records None of the Above on a sampled image as a correction", () => {
    // Arrange
    const input = Outcome.parseInput({
      outcome: "skipped",
      executionName: "exec-1",
      startTime,
      image,
      detection: sampled,
      review: review("none-of-the-above", NONE_OF_THE_ABOVE),
    });

    // Act
    const record = Outcome.record(input, now);

    // Assert
    expect(record.audit).toEqual({ verdict: "correction", modelLabel: "AWS", humanLabel: NONE_OF_THE_ABOVE });
  });

  it("records no audit for an image sent to review because the model was unsure", () => {
    // Arrange
    const input = Outcome.parseInput({
      outcome: "human-labeled",
      executionName: "exec-1",
      startTime,
      image,
      detection,
      review: review("labeled", "AWS"),
      copy: { key: "images_labeled_by_folder/AWS/x.png", label: "AWS" },
    });

    // Act
    const record = Outcome.record(input, now);

    // Assert
    expect(record.audit).toBeNull();
  });
});
