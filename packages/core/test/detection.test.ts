import { describe, expect, it } from "vitest";
import { Detection, Settings } from "../src/index";

const image = { key: "images_for_detection/a.png", etag: "abc" };
const settings = { ...Settings.defaults(), minConfidence: 70, humanSamplingPercent: 0 };
const arn = "arn:aws:rekognition:us-east-1:111122223333:project/p/version/v/1";

describe("Detection.decide", () => {
  it("picks the highest-confidence label whatever the order", () => {
    // Arrange
    const result = {
      CustomLabels: [
        { Name: "Amazon", Confidence: 40.5 },
        { Name: "AWS", Confidence: 91.2 },
      ],
    };

    // Act
    const detection = Detection.decide({ image, result, modelVersionArn: arn, settings });

    // Assert
    expect(detection).toEqual({
      label: "AWS",
      confidence: 91.2,
      modelVersionArn: arn,
      minConfidence: 70,
      humanReviewEnabled: true,
      sampled: false,
      reason: "confident",
    });
    expect(Detection.needsReview(detection)).toBe(false);
  });

  it("treats an empty answer as confidence 0 with no label, which goes to review", () => {
    // Arrange
    const result = { CustomLabels: [] };

    // Act
    const detection = Detection.decide({ image, result, modelVersionArn: null, settings });

    // Assert
    expect(detection.label).toBeNull();
    expect(detection.confidence).toBe(0);
    expect(detection.reason).toBe("low-confidence");
    expect(Detection.needsReview(detection)).toBe(true);
  });

  it("sends nothing to review when human review is switched off", () => {
    // Arrange
    const off = { ...settings, humanReviewEnabled: false };

    // Act
    const detection = Detection.decide({
      image,
      result: { CustomLabels: [] },
      modelVersionArn: null,
      settings: off,
    });

    // Assert
    expect(detection.humanReviewEnabled).toBe(false);
    expect(Detection.needsReview(detection)).toBe(false);
  });

  it("marks a confident image picked by sampling with reason sampling", () => {
    // Arrange
    const all = { ...settings, humanSamplingPercent: 100 };
    const result = { CustomLabels: [{ Name: "AWS", Confidence: 99 }] };

    // Act
    const detection = Detection.decide({ image, result, modelVersionArn: arn, settings: all });

    // Assert
    expect(detection.sampled).toBe(true);
    expect(detection.reason).toBe("sampling");
    expect(Detection.needsReview(detection)).toBe(true);
  });
});

describe("Detection.isSampled", () => {
  const keys = Array.from({ length: 2000 }, (_, i) => ({
    key: `images_for_detection/${i}.png`,
    etag: `e${i}`,
  }));

  it("gives the same answer for the same image and setting every time", () => {
    // Arrange
    const percent = 37;

    // Act
    const first = keys.map((k) => Detection.isSampled(k, percent));
    const second = keys.map((k) => Detection.isSampled({ ...k }, percent));

    // Assert
    expect(second).toEqual(first);
  });

  it("samples close to the configured share of images", () => {
    // Arrange
    const percent = 25;

    // Act
    const share = keys.filter((k) => Detection.isSampled(k, percent)).length / keys.length;

    // Assert
    expect(share).toBeGreaterThan(0.2);
    expect(share).toBeLessThan(0.3);
  });

  it("never samples at 0 percent and always at 100 percent", () => {
    // Arrange
    const sample = keys.slice(0, 50);

    // Act
    const none = sample.filter((k) => Detection.isSampled(k, 0)).length;
    const every = sample.filter((k) => Detection.isSampled(k, 100)).length;

    // Assert
    expect(none).toBe(0);
    expect(every).toBe(50);
  });

  it("keeps every image sampled at a lower rate when the rate goes up", () => {
    // Arrange
    const low = keys.filter((k) => Detection.isSampled(k, 10));

    // Act
    const stillSampled = low.filter((k) => Detection.isSampled(k, 30));

    // Assert
    expect(low.length).toBeGreaterThan(0);
    expect(stillSampled).toEqual(low);
  });
});
