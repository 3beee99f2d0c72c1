import { Rules } from "@secondlook/core/blueprint";
import { describe, expect, it } from "vitest";
import {
  eventJson,
  InvalidEventPatternError,
  matchesPattern,
  matchesValidatedPattern,
} from "../../src/events/pattern";

const s3Event = (bucket: string, key: string) => ({
  version: "0",
  id: "1",
  "detail-type": "Object Created",
  source: "aws.s3",
  account: "000000000000",
  time: "2026-01-01T00:00:00Z",
  region: "us-east-1",
  resources: [`arn:aws:s3:::${bucket}`],
  detail: { bucket: { name: bucket }, object: { key, size: 5 }, reason: "PutObject" },
});

describe("EventBridge pattern matching", () => {
  it("gives a converted event the same answers matchesPattern gives, Dates and undefined members included", () => {
    // Arrange
    const event = { ...s3Event("data", "images_for_detection/a.png"), when: new Date(0), gone: undefined };
    const patterns = [
      Rules.imageUploaded("data"),
      Rules.imageUploaded("other"),
      { when: ["1970-01-01T00:00:00.000Z"] },
      { gone: [{ exists: true }] },
      { gone: [{ exists: false }] },
    ];

    // Act
    const json = eventJson(event);
    const converted = patterns.map((pattern) => matchesValidatedPattern(pattern, json));

    // Assert
    expect(converted).toEqual(patterns.map((pattern) => matchesPattern(pattern, event)));
    expect(converted).toEqual([true, false, true, false, true]);
  });

  it("matches the blueprint's image-uploaded rule only for its bucket and prefix", () => {
    // Arrange
    const pattern = Rules.imageUploaded("data");
    // Act
    const results = [
      matchesPattern(pattern, s3Event("data", "images_for_detection/x.png")),
      matchesPattern(pattern, s3Event("data", "images_labeled_by_folder/cat/x.png")),
      matchesPattern(pattern, s3Event("other", "images_for_detection/x.png")),
    ];
    // Assert
    expect(results).toEqual([true, false, false]);
  });

  it("matches the blueprint's human-loop rule on the flow definition ARN", () => {
    // Arrange
    const arn = "arn:aws:sagemaker:us-east-1:000000000000:flow-definition/review";
    const event = {
      source: "aws.sagemaker",
      "detail-type": "SageMaker A2I HumanLoop Status Change",
      detail: { flowDefinitionArn: arn, humanLoopStatus: "Completed", failureCode: null },
    };
    // Act
    const matched = matchesPattern(Rules.humanLoopStatusChanged(arn), event);
    const other = matchesPattern(Rules.humanLoopStatusChanged(`${arn}-2`), event);
    // Assert
    expect(matched).toBe(true);
    expect(other).toBe(false);
  });

  it.each([
    ["exact string", { a: ["x"] }, { a: "x" }, true],
    ["exact string mismatch", { a: ["x"] }, { a: "y" }, false],
    ["list of values is OR", { a: ["x", "y"] }, { a: "y" }, true],
    ["numbers compare numerically", { a: [300] }, { a: 300.0 }, true],
    ["null matches null", { a: [null] }, { a: null }, true],
    ["null does not match a missing field", { a: [null] }, {}, false],
    ["boolean", { a: [true] }, { a: true }, true],
    ["array event value matches if any element does", { a: ["x"] }, { a: ["q", "x"] }, true],
    ["array event value with no match", { a: ["x"] }, { a: ["q", "r"] }, false],
    ["prefix", { a: [{ prefix: "img/" }] }, { a: "img/1.png" }, true],
    ["prefix mismatch", { a: [{ prefix: "img/" }] }, { a: "doc/1.png" }, false],
    ["prefix ignoring case", { a: [{ prefix: { "equals-ignore-case": "IMG/" } }] }, { a: "img/1" }, true],
    ["suffix", { a: [{ suffix: ".png" }] }, { a: "x.png" }, true],
    ["suffix mismatch", { a: [{ suffix: ".png" }] }, { a: "x.jpg" }, false],
    ["suffix ignoring case", { a: [{ suffix: { "equals-ignore-case": ".PNG" } }] }, { a: "x.png" }, true],
    ["equals-ignore-case", { a: [{ "equals-ignore-case": "AbC" }] }, { a: "aBc" }, true],
    ["anything-but value", { a: [{ "anything-but": "x" }] }, { a: "y" }, true],
    ["anything-but excluded value", { a: [{ "anything-but": "x" }] }, { a: "x" }, false],
    ["anything-but list", { a: [{ "anything-but": ["x", "y"] }] }, { a: "y" }, false],
    ["anything-but does not match a missing field", { a: [{ "anything-but": "x" }] }, {}, false],
    ["anything-but prefix", { a: [{ "anything-but": { prefix: "tmp/" } }] }, { a: "tmp/x" }, false],
    [
      "anything-but prefix passes others",
      { a: [{ "anything-but": { prefix: "tmp/" } }] },
      { a: "img/x" },
      true,
    ],
    ["anything-but suffix", { a: [{ "anything-but": { suffix: ".json" } }] }, { a: "out.json" }, false],
    ["exists true", { a: [{ exists: true }] }, { a: "v" }, true],
    ["exists true on a missing field", { a: [{ exists: true }] }, {}, false],
    ["exists false", { a: [{ exists: false }] }, {}, true],
    ["exists false on a present field", { a: [{ exists: false }] }, { a: 1 }, false],
    ["numeric range", { a: [{ numeric: [">", 0, "<=", 5] }] }, { a: 5 }, true],
    ["numeric range excluded", { a: [{ numeric: [">", 0, "<=", 5] }] }, { a: 0 }, false],
    ["numeric equals", { a: [{ numeric: ["=", 3.5] }] }, { a: 3.5 }, true],
    ["numeric on a string", { a: [{ numeric: [">", 0] }] }, { a: "7" }, false],
    ["wildcard", { a: [{ wildcard: "img/*.png" }] }, { a: "img/cat/1.png" }, true],
    ["wildcard mismatch", { a: [{ wildcard: "img/*.png" }] }, { a: "img/cat/1.jpg" }, false],
    ["wildcard escaped star", { a: [{ wildcard: "a\\*b" }] }, { a: "a*b" }, true],
    ["cidr", { ip: [{ cidr: "10.0.0.0/24" }] }, { ip: "10.0.0.7" }, true],
    ["cidr outside", { ip: [{ cidr: "10.0.0.0/24" }] }, { ip: "10.0.1.7" }, false],
    ["nested objects", { d: { o: { k: [{ prefix: "a" }] } } }, { d: { o: { k: "abc" } } }, true],
    ["nested object missing", { d: { o: { k: [{ prefix: "a" }] } } }, { d: {} }, false],
    ["all fields must match", { a: ["x"], b: ["y"] }, { a: "x", b: "z" }, false],
    ["$or branches", { $or: [{ a: ["x"] }, { b: ["y"] }] }, { b: "y" }, true],
    ["$or with no branch matching", { $or: [{ a: ["x"] }, { b: ["y"] }] }, { a: "q" }, false],
    ["arrays of objects are flattened", { r: { n: ["x"] } }, { r: [{ n: "q" }, { n: "x" }] }, true],
  ])("%s", (_name, pattern, event, expected) => {
    // Arrange
    const input = { pattern, event };
    // Act
    const matched = matchesPattern(input.pattern, input.event);
    // Assert
    expect(matched).toBe(expected);
  });

  it.each([
    ["a bare value instead of a list", { a: "x" }],
    ["an empty list", { a: [] }],
    ["an unknown operator", { a: [{ regex: ".*" }] }],
    ["two operators in one matcher", { a: [{ prefix: "a", suffix: "b" }] }],
    ["numeric without pairs", { a: [{ numeric: [">"] }] }],
    ["numeric with a bad operator", { a: [{ numeric: ["!=", 1] }] }],
    ["exists with a string", { a: [{ exists: "yes" }] }],
    ["$or with one branch", { $or: [{ a: ["x"] }] }],
    ["a bad CIDR block", { a: [{ cidr: "10.0.0.0/40" }] }],
    ["a pattern that is not an object", ["x"]],
  ])("refuses %s with InvalidEventPatternError", (_name, pattern) => {
    // Arrange
    const event = { a: "x" };
    // Act
    const attempt = () => matchesPattern(pattern, event);
    // Assert
    expect(attempt).toThrow(InvalidEventPatternError);
  });
});
