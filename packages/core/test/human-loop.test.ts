import { describe, expect, it } from "vitest";
import {
  HumanLoop,
  InputTooLargeError,
  InvalidInputError,
  InvalidLoopNameError,
  MAX_INPUT_CONTENT_CHARS,
  NONE_OF_THE_ABOVE,
} from "../src/index";

const content = {
  taskObject: "s3://data-bucket/images_for_detection/a.png",
  categories: ["AWS", NONE_OF_THE_ABOVE],
  detectedLabel: "AWS",
  confidence: 42.5,
  modelVersionArn: null,
  reason: "low-confidence" as const,
  taskToken: "token-1",
};

describe("HumanLoop.name", () => {
  it("derives a valid A2I name from a mixed-case 80-character execution name", () => {
    // Arrange
    const executionName = `Review_${"X".repeat(73)}`;

    // Act
    const name = HumanLoop.name(executionName, 2);

    // Assert
    expect(name).toMatch(/^review-[0-9a-f]{32}-2$/);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(HumanLoop.validateName(name)).toBe(name);
  });

  it("gives a re-invoked attempt the same name and a retry a new one", () => {
    // Arrange
    const executionName = "6f1c2a9e-upload";

    // Act
    const first = HumanLoop.name(executionName, 0);
    const again = HumanLoop.name(executionName, 0);
    const retry = HumanLoop.name(executionName, 1);
    const other = HumanLoop.name("another-execution", 0);

    // Assert
    expect(again).toBe(first);
    expect(retry).not.toBe(first);
    expect(other).not.toBe(first);
  });

  it("refuses a negative retry count", () => {
    // Arrange
    const retryCount = -1;

    // Act
    const build = () => HumanLoop.name("exec", retryCount);

    // Assert
    expect(build).toThrow(InvalidInputError);
  });
});

describe("HumanLoop.validateName", () => {
  it.each(["Bad_Name", "-a", "a-", "", "a".repeat(64), "UPPER", "a b"])("refuses %j", (name) => {
    // Arrange
    const candidate = name;

    // Act
    const validate = () => HumanLoop.validateName(candidate);

    // Assert
    expect(validate).toThrow(InvalidLoopNameError);
  });

  it.each(["a--b", "a".repeat(63), "0", "review-1"])("accepts %j", (name) => {
    // Arrange
    const candidate = name;

    // Act
    const validated = HumanLoop.validateName(candidate);

    // Assert
    expect(validated).toBe(candidate);
  });
});

describe("HumanLoop.inputContent", () => {
  it("serialises exactly the keys the worker template reads", () => {
    // Arrange
    const input = { ...content };

    // Act
    const text = HumanLoop.inputContent(input);

    // Assert
    expect(Object.keys(JSON.parse(text)).sort()).toEqual(
      [
        "categories",
        "confidence",
        "detectedLabel",
        "modelVersionArn",
        "reason",
        "taskObject",
        "taskToken",
      ].sort(),
    );
    expect(JSON.parse(text)).toEqual(content);
  });

  it("refuses input above A2I's 3,145,728-character limit", () => {
    // Arrange
    const input = { ...content, categories: ["x".repeat(MAX_INPUT_CONTENT_CHARS), NONE_OF_THE_ABOVE] };

    // Act
    const build = () => HumanLoop.inputContent(input);

    // Assert
    expect(build).toThrow(InputTooLargeError);
  });

  it("refuses a task object that is not an s3 uri", () => {
    // Arrange
    const input = { ...content, taskObject: "https://example.com/a.png" };

    // Act
    const build = () => HumanLoop.inputContent(input);

    // Assert
    expect(build).toThrow(InvalidInputError);
  });

  it("fingerprints identical input identically and different input differently", () => {
    // Arrange
    const text = HumanLoop.inputContent(content);

    // Act
    const same = HumanLoop.fingerprint(HumanLoop.inputContent({ ...content }));
    const different = HumanLoop.fingerprint(HumanLoop.inputContent({ ...content, taskToken: "token-2" }));

    // Assert
    expect(same).toBe(HumanLoop.fingerprint(text));
    expect(different).not.toBe(same);
  });
});
