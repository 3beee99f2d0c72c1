import { describe, expect, it } from "vitest";
import { HumanLoopEvent, Image, InvalidEventError, InvalidInputError, S3Uri } from "../src/index";

const s3Event = (key: string, extra: Record<string, unknown> = {}) => ({
  version: "0",
  id: "17793124-05d4-b198-2fde-7ededc63b103",
  "detail-type": "Object Created",
  source: "aws.s3",
  account: "111122223333",
  time: "2021-11-12T00:00:00Z",
  region: "us-east-1",
  resources: ["arn:aws:s3:::data-bucket"],
  detail: {
    version: "0",
    bucket: { name: "data-bucket" },
    object: {
      key,
      size: 5,
      etag: "b1946ac92492d2347c6235b4d2611184",
      sequencer: "617f08299329d189",
      ...extra,
    },
    reason: "PutObject",
  },
});

const a2iEvent = (detail: Record<string, unknown> = {}) => ({
  version: "0",
  id: "e1",
  "detail-type": "SageMaker A2I HumanLoop Status Change",
  source: "aws.sagemaker",
  account: "111122223333",
  time: "2019-11-14T17:49:25Z",
  region: "us-east-1",
  resources: ["arn:aws:sagemaker:us-east-1:111122223333:human-loop/loop-1"],
  detail: {
    creationTime: "2019-11-14T17:37:36.740Z",
    failureCode: null,
    failureReason: null,
    flowDefinitionArn: "arn:aws:sagemaker:us-east-1:111122223333:flow-definition/fd",
    humanLoopArn: "arn:aws:sagemaker:us-east-1:111122223333:human-loop/loop-1",
    humanLoopName: "loop-1",
    humanLoopOutput: { outputS3Uri: "s3://data-bucket/a2i-output/fd/2019/11/14/17/37/36/loop-1/output.json" },
    humanLoopStatus: "Completed",
    ...detail,
  },
});

describe("Image.fromEvent", () => {
  it("takes bucket, key, uri and etag from an Object Created event", () => {
    // Arrange
    const event = s3Event("images_for_detection/logo.png");

    // Act
    const image = Image.fromEvent(event);

    // Assert
    expect(image).toEqual({
      bucket: "data-bucket",
      key: "images_for_detection/logo.png",
      uri: "s3://data-bucket/images_for_detection/logo.png",
      etag: "b1946ac92492d2347c6235b4d2611184",
    });
  });

  it("decodes a URL-encoded key exactly once", () => {
    // Arrange
    const event = s3Event("images_for_detection/my+logo%2B1%20%C3%A9.png");

    // Act
    const image = Image.fromEvent(event);

    // Assert
    expect(image.key).toBe("images_for_detection/my logo+1 é.png");
  });

  it("refuses a key with a broken percent escape", () => {
    // Arrange
    const event = s3Event("images_for_detection/100%.png");

    // Act
    const parse = () => Image.fromEvent(event);

    // Assert
    expect(parse).toThrow(InvalidEventError);
  });

  it.each([
    ["a non-object", "hello"],
    ["another source", { ...s3Event("k"), source: "aws.ec2" }],
    ["a missing key", { ...s3Event("k"), detail: { bucket: { name: "data-bucket" }, object: {} } }],
    ["a missing bucket", { ...s3Event("k"), detail: { object: { key: "k" } } }],
  ])("refuses %s with InvalidEventError", (_, event) => {
    // Arrange
    const input = event;

    // Act
    const parse = () => Image.fromEvent(input);

    // Assert
    expect(parse).toThrow(InvalidEventError);
  });
});

describe("HumanLoopEvent.parse", () => {
  it("reads the camelCase detail of a status change", () => {
    // Arrange
    const event = a2iEvent({ humanLoopStatus: "Failed", failureCode: "Expired", failureReason: "too late" });

    // Act
    const parsed = HumanLoopEvent.parse(event);

    // Assert
    expect(parsed.detail.humanLoopStatus).toBe("Failed");
    expect(parsed.detail.failureCode).toBe("Expired");
    expect(parsed.detail.humanLoopOutput.outputS3Uri).toMatch(/output\.json$/);
  });

  it.each([
    [
      "a PascalCase detail",
      { ...a2iEvent(), detail: { HumanLoopName: "loop-1", HumanLoopStatus: "Completed" } },
    ],
    ["an InProgress status", a2iEvent({ humanLoopStatus: "InProgress" })],
    ["a missing output uri", a2iEvent({ humanLoopOutput: {} })],
    ["the wrong detail-type", { ...a2iEvent(), "detail-type": "Object Created" }],
  ])("refuses %s with InvalidEventError", (_, event) => {
    // Arrange
    const input = event;

    // Act
    const parse = () => HumanLoopEvent.parse(input);

    // Assert
    expect(parse).toThrow(InvalidEventError);
  });
});

describe("S3Uri", () => {
  it("splits an s3 uri into bucket and key and formats it back", () => {
    // Arrange
    const uri = "s3://b/a2i-output/fd/loop/output.json";

    // Act
    const ref = S3Uri.parse(uri);

    // Assert
    expect(ref).toEqual({ bucket: "b", key: "a2i-output/fd/loop/output.json" });
    expect(S3Uri.format(ref)).toBe(uri);
  });

  it("refuses a uri that is not s3://bucket/key", () => {
    // Arrange
    const uri = "https://b/key";

    // Act
    const parse = () => S3Uri.parse(uri);

    // Assert
    expect(parse).toThrow(InvalidInputError);
  });
});

describe("Image.fromEvent with a review-batch Manifest Item", () => {
  const manifestItem = (sourceRef: unknown) => ({
    source: "secondlook.review-batch",
    "detail-type": "Manifest Item",
    detail: { "source-ref": sourceRef },
  });

  it("takes bucket and key verbatim from the item's source-ref", () => {
    // Arrange
    const event = manifestItem("s3://other-bucket/batch/my+logo 1.png");

    // Act
    const image = Image.fromEvent(event);

    // Assert
    expect(image).toEqual({
      bucket: "other-bucket",
      key: "batch/my+logo 1.png",
      uri: "s3://other-bucket/batch/my+logo 1.png",
    });
  });

  it("refuses a source-ref that is not an s3:// object URI", () => {
    // Arrange
    const event = manifestItem("https://example.com/a.png");

    // Act
    const read = () => Image.fromEvent(event);

    // Assert
    expect(read).toThrow(InvalidEventError);
    expect(read).toThrow(/source-ref/);
  });

  it("refuses a Manifest Item without a source-ref", () => {
    // Arrange
    const event = manifestItem(undefined);

    // Act
    const read = () => Image.fromEvent(event);

    // Assert
    expect(read).toThrow(InvalidEventError);
  });
});
