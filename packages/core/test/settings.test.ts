import { describe, expect, it } from "vitest";
import { InvalidSettingsError, NONE_OF_THE_ABOVE, Settings } from "../src/index";

describe("Settings", () => {
  it("gives the documented defaults when nothing is stored", () => {
    // Arrange
    const parameters = {};

    // Act
    const settings = Settings.fromParameters(parameters);

    // Assert
    expect(settings).toEqual({
      minConfidence: 70,
      humanReviewEnabled: true,
      humanSamplingPercent: 0,
      autoTrainingEnabled: true,
      minUntrainedImages: 20,
      minF1ToDeploy: 0.8,
      minInferenceUnits: 1,
      trainingPollSeconds: 120,
      deployPollSeconds: 30,
      modelIdleStopMinutes: 0,
      activeModelVersionArn: "",
      labels: [],
    });
    expect(Settings.defaults()).toEqual(settings);
  });

  it("names parameters in kebab-case", () => {
    // Arrange
    const keys = ["minConfidence", "minF1ToDeploy", "activeModelVersionArn"] as const;

    // Act
    const names = keys.map((key) => Settings.parameterName(key));

    // Assert
    expect(names).toEqual(["min-confidence", "min-f1-to-deploy", "active-model-version-arn"]);
  });

  it("parses booleans, numbers and the label list from SSM strings", () => {
    // Arrange
    const parameters = {
      "min-confidence": "85.5",
      "human-review-enabled": "false",
      "min-untrained-images": "3",
      labels: '["AWS","Amazon"]',
      "active-model-version-arn": "arn:aws:rekognition:us-east-1:111122223333:project/p/version/v/1",
      "some-other-parameter": "ignored",
    };

    // Act
    const settings = Settings.fromParameters(parameters);

    // Assert
    expect(settings.minConfidence).toBe(85.5);
    expect(settings.humanReviewEnabled).toBe(false);
    expect(settings.minUntrainedImages).toBe(3);
    expect(settings.labels).toEqual(["AWS", "Amazon"]);
    expect(settings.activeModelVersionArn).toContain(":project/p/");
  });

  it("round-trips through toParameters and fromParameters", () => {
    // Arrange
    const settings = {
      ...Settings.defaults(),
      minConfidence: 55,
      autoTrainingEnabled: false,
      labels: ["a", "b"],
    };

    // Act
    const back = Settings.fromParameters(Settings.toParameters(settings));

    // Assert
    expect(back).toEqual(settings);
    expect(Settings.toParameters(settings)["auto-training-enabled"]).toBe("false");
  });

  it.each([
    ["human-review-enabled", "yes", /human-review-enabled/],
    ["min-confidence", "high", /min-confidence/],
    ["min-confidence", "101", /min-confidence/],
    ["min-untrained-images", "0", /min-untrained-images/],
    ["min-untrained-images", "2.5", /min-untrained-images/],
    ["min-f1-to-deploy", "1.5", /min-f1-to-deploy/],
    ["labels", "AWS,Amazon", /labels/],
    ["labels", '["a","a"]', /labels/],
    ["labels", '[""]', /labels/],
    ["labels", `["${NONE_OF_THE_ABOVE}"]`, /labels/],
    ["labels", JSON.stringify(Array.from({ length: 10 }, (_, i) => `l${i}`)), /labels/],
  ])("refuses %s = %s with an error naming the parameter", (name, value, pattern) => {
    // Arrange
    const parameters = { [name]: value };

    // Act
    const parse = () => Settings.fromParameters(parameters);

    // Assert
    expect(parse).toThrow(InvalidSettingsError);
    expect(parse).toThrow(pattern);
  });

  it("always offers None of the Above after the configured labels", () => {
    // Arrange
    const settings = { ...Settings.defaults(), labels: ["AWS", "Amazon"] };

    // Act
    const categories = Settings.categories(settings);

    // Assert
    expect(categories).toEqual(["AWS", "Amazon", NONE_OF_THE_ABOVE]);
  });
});
