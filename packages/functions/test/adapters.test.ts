import {
  DetectCustomLabelsCommand,
  RekognitionClient,
  RekognitionServiceException,
  ResourceNotReadyException,
  ThrottlingException,
} from "@aws-sdk/client-rekognition";
import {
  CopyObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import {
  ConflictException,
  SageMakerA2IRuntimeClient,
  StartHumanLoopCommand,
} from "@aws-sdk/client-sagemaker-a2i-runtime";
import {
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  SFNServiceException,
  TaskTimedOut,
} from "@aws-sdk/client-sfn";
import { GetParametersByPathCommand, SSMClient } from "@aws-sdk/client-ssm";
import {
  DetectorUnavailableError,
  HumanLoopConflictError,
  InvalidSettingsError,
  ModelNotReadyError,
  ObjectNotFoundError,
  StorageUnavailableError,
} from "@secondlook/core";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createA2iReviewQueue } from "../src/adapters/a2i-review-queue";
import { createRekognitionDetector } from "../src/adapters/rekognition-detector";
import { copySource, createS3ObjectStore } from "../src/adapters/s3-object-store";
import { createSfnTaskCallback } from "../src/adapters/sfn-task-callback";
import { createSsmSettingsSource } from "../src/adapters/ssm-settings-source";
import { FLOW_DEFINITION_ARN, MODEL_ARN, untyped } from "./fakes";

const s3Error = (name: string, status: number) =>
  new S3ServiceException({
    name,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status },
    message: name,
  });

describe("S3 object store", () => {
  const s3 = mockClient(untyped(S3Client));
  const client = new S3Client({ region: "us-east-1" });
  afterEach(() => s3.reset());

  it("returns undefined for a missing object", async () => {
    // Arrange
    s3.on(untyped(GetObjectCommand)).rejects(s3Error("NoSuchKey", 404));

    // Act
    const found = await createS3ObjectStore(client).get({ bucket: "b", key: "k" });

    // Assert
    expect(found).toBeUndefined();
  });

  it("heads an object for its size and ETag, and reports a missing one as undefined", async () => {
    // Arrange
    s3.on(untyped(HeadObjectCommand))
      .resolvesOnce(untyped({ ETag: '"e1"', ContentLength: 42 }))
      .rejects(s3Error("NotFound", 404));
    const store = createS3ObjectStore(client);

    // Act
    const found = await store.head({ bucket: "b", key: "k" });
    const missing = await store.head({ bucket: "b", key: "gone" });

    // Assert
    expect(found).toEqual({ etag: '"e1"', size: 42 });
    expect(missing).toBeUndefined();
  });

  it("turns a 503 into StorageUnavailableError so the state machine retries", async () => {
    // Arrange
    s3.on(untyped(GetObjectCommand)).rejects(s3Error("SlowDown", 503));

    // Act
    const get = createS3ObjectStore(client).get({ bucket: "b", key: "k" });

    // Assert
    await expect(get).rejects.toBeInstanceOf(StorageUnavailableError);
  });

  it("passes a permanent failure through unchanged", async () => {
    // Arrange
    s3.on(untyped(GetObjectCommand)).rejects(s3Error("AccessDenied", 403));

    // Act
    const get = createS3ObjectStore(client).get({ bucket: "b", key: "k" });

    // Assert
    await expect(get).rejects.toMatchObject({ name: "AccessDenied" });
  });

  it("creates only absent objects with If-None-Match and reports an existing one", async () => {
    // Arrange
    s3.on(untyped(PutObjectCommand))
      .rejectsOnce(s3Error("PreconditionFailed", 412))
      .resolves(untyped({ ETag: '"e2"' }));
    const store = createS3ObjectStore(client);

    // Act
    const existing = await store.putIfAbsent({ bucket: "b", key: "k" }, "{}");
    const created = await store.putIfAbsent({ bucket: "b", key: "k" }, "{}");

    // Assert
    expect(existing).toBeUndefined();
    expect(created).toEqual({ etag: '"e2"' });
    expect(s3.commandCalls(untyped(PutObjectCommand))[0]?.args[0].input).toMatchObject({ IfNoneMatch: "*" });
  });

  it("URL-encodes the copy source key but keeps its slashes", async () => {
    // Arrange
    s3.on(untyped(CopyObjectCommand)).resolves({});
    const from = { bucket: "src", key: "images_for_detection/my logo+1 é?.png" };

    // Act
    await createS3ObjectStore(client).copy(from, {
      bucket: "dst",
      key: "images_labeled_by_folder/AWS/x.png",
    });

    // Assert
    expect(s3.commandCalls(untyped(CopyObjectCommand))[0]?.args[0].input).toEqual({
      Bucket: "dst",
      Key: "images_labeled_by_folder/AWS/x.png",
      CopySource: "src/images_for_detection/my%20logo%2B1%20%C3%A9%3F.png",
    });
    expect(copySource({ bucket: "b", key: "a/b c" })).toBe("b/a/b%20c");
  });

  it("reports a missing copy source as ObjectNotFoundError", async () => {
    // Arrange
    s3.on(untyped(CopyObjectCommand)).rejects(s3Error("NoSuchKey", 404));

    // Act
    const copy = createS3ObjectStore(client).copy({ bucket: "b", key: "gone" }, { bucket: "b", key: "x" });

    // Assert
    await expect(copy).rejects.toBeInstanceOf(ObjectNotFoundError);
  });
});

describe("Rekognition detector", () => {
  const rekognition = mockClient(RekognitionClient);
  const client = new RekognitionClient({ region: "us-east-1" });
  afterEach(() => rekognition.reset());

  it("asks for every label with MinConfidence 0 and returns names and confidences", async () => {
    // Arrange
    rekognition
      .on(DetectCustomLabelsCommand)
      .resolves({ CustomLabels: [{ Name: "AWS", Confidence: 88, Geometry: {} }] });

    // Act
    const result = await createRekognitionDetector(client).detect({ bucket: "b", key: "k.png" }, MODEL_ARN);

    // Assert
    expect(result).toEqual({ CustomLabels: [{ Name: "AWS", Confidence: 88 }] });
    expect(rekognition.commandCalls(DetectCustomLabelsCommand)[0]?.args[0].input).toEqual({
      ProjectVersionArn: MODEL_ARN,
      Image: { S3Object: { Bucket: "b", Name: "k.png" } },
      MinConfidence: 0,
    });
  });

  it.each([
    [
      "ResourceNotReadyException",
      new ResourceNotReadyException({ message: "x", $metadata: {} }),
      ModelNotReadyError,
    ],
    [
      "ThrottlingException",
      new ThrottlingException({ message: "x", $metadata: {} }),
      DetectorUnavailableError,
    ],
  ])("maps %s to its named error", async (_, error, expected) => {
    // Arrange
    rekognition.on(DetectCustomLabelsCommand).rejects(error);

    // Act
    const detect = createRekognitionDetector(client).detect({ bucket: "b", key: "k.png" }, MODEL_ARN);

    // Assert
    await expect(detect).rejects.toBeInstanceOf(expected);
  });

  it("passes an invalid image through under its own name", async () => {
    // Arrange
    rekognition.on(DetectCustomLabelsCommand).rejects(
      new RekognitionServiceException({
        name: "InvalidImageFormatException",
        $fault: "client",
        $metadata: {},
        message: "gif",
      }),
    );

    // Act
    const detect = createRekognitionDetector(client).detect({ bucket: "b", key: "k.gif" }, MODEL_ARN);

    // Assert
    await expect(detect).rejects.toMatchObject({ name: "InvalidImageFormatException" });
  });
});

describe("A2I review queue", () => {
  const a2i = mockClient(SageMakerA2IRuntimeClient);
  const client = new SageMakerA2IRuntimeClient({ region: "us-east-1" });
  afterEach(() => a2i.reset());

  it("starts a loop of the flow definition with the content classifiers", async () => {
    // Arrange
    a2i.on(StartHumanLoopCommand).resolves({ HumanLoopArn: "arn:loop" });

    // Act
    const started = await createA2iReviewQueue(client, FLOW_DEFINITION_ARN).start({
      name: "loop-1",
      inputContent: "{}",
    });

    // Assert
    expect(started).toEqual({ humanLoopArn: "arn:loop" });
    expect(a2i.commandCalls(StartHumanLoopCommand)[0]?.args[0].input).toEqual({
      HumanLoopName: "loop-1",
      FlowDefinitionArn: FLOW_DEFINITION_ARN,
      HumanLoopInput: { InputContent: "{}" },
      DataAttributes: {
        ContentClassifiers: ["FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent"],
      },
    });
  });

  it("reports a name clash as HumanLoopConflictError", async () => {
    // Arrange
    a2i.on(StartHumanLoopCommand).rejects(new ConflictException({ message: "exists", $metadata: {} }));

    // Act
    const start = createA2iReviewQueue(client, FLOW_DEFINITION_ARN).start({
      name: "loop-1",
      inputContent: "{}",
    });

    // Assert
    await expect(start).rejects.toBeInstanceOf(HumanLoopConflictError);
  });
});

describe("Step Functions task callback", () => {
  const sfn = mockClient(SFNClient);
  const client = new SFNClient({ region: "us-east-1" });
  const log = { info: vi.fn() };
  afterEach(() => {
    sfn.reset();
    log.info.mockReset();
  });

  it("sends the output as JSON text", async () => {
    // Arrange
    sfn.on(SendTaskSuccessCommand).resolves({});

    // Act
    const delivered = await createSfnTaskCallback(client, log).succeed("tok", { outcome: "labeled" });

    // Assert
    expect(delivered).toBe(true);
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input).toEqual({
      taskToken: "tok",
      output: '{"outcome":"labeled"}',
    });
  });

  it.each([
    ["TaskTimedOut", new TaskTimedOut({ message: "closed", $metadata: {} })],
    ["InvalidToken", new InvalidToken({ message: "bad", $metadata: {} })],
  ])("logs and ignores %s: the task was already closed", async (_, error) => {
    // Arrange
    sfn.on(SendTaskSuccessCommand).rejects(error);

    // Act
    const delivered = await createSfnTaskCallback(client, log).succeed("tok", {});

    // Assert
    expect(delivered).toBe(false);
    expect(log.info).toHaveBeenCalledOnce();
  });

  it("throws any other failure so the event is retried", async () => {
    // Arrange
    sfn.on(SendTaskFailureCommand).rejects(
      new SFNServiceException({
        name: "ThrottlingException",
        $fault: "client",
        $metadata: {},
        message: "slow",
      }),
    );

    // Act
    const fail = createSfnTaskCallback(client, log).fail("tok", "HumanLoopStoppedError", "stopped");

    // Assert
    await expect(fail).rejects.toMatchObject({ name: "ThrottlingException" });
  });

  it("truncates error and cause to Step Functions' limits", async () => {
    // Arrange
    sfn.on(SendTaskFailureCommand).resolves({});

    // Act
    await createSfnTaskCallback(client, log).fail("tok", "E".repeat(300), "c".repeat(40_000));

    // Assert
    const input = sfn.commandCalls(SendTaskFailureCommand)[0]?.args[0].input;
    expect(input?.error).toHaveLength(256);
    expect(input?.cause).toHaveLength(32_768);
  });
});

describe("SSM settings source", () => {
  const ssm = mockClient(untyped(SSMClient));
  const client = new SSMClient({ region: "us-east-1" });
  afterEach(() => ssm.reset());

  const parameters = (values: Record<string, string>) =>
    untyped({
      Parameters: Object.entries(values).map(([name, value]) => ({
        Name: `/secondlook/dev/${name}`,
        Value: value,
      })),
    });

  it("reads the settings under the stage path", async () => {
    // Arrange
    ssm
      .on(untyped(GetParametersByPathCommand))
      .resolves(parameters({ "min-confidence": "80", labels: '["AWS"]' }));

    // Act
    const settings = await createSsmSettingsSource(client, "/secondlook/dev/").load();

    // Assert
    expect(settings).toMatchObject({ minConfidence: 80, labels: ["AWS"], humanReviewEnabled: true });
    expect(ssm.commandCalls(untyped(GetParametersByPathCommand))[0]?.args[0].input).toMatchObject({
      Path: "/secondlook/dev/",
    });
  });

  it("reuses settings within their cache age", async () => {
    // Arrange: the default cache age, without the POWERTOOLS_PARAMETERS_MAX_AGE=0 the test run sets
    const configured = process.env.POWERTOOLS_PARAMETERS_MAX_AGE;
    delete process.env.POWERTOOLS_PARAMETERS_MAX_AGE;
    ssm.on(untyped(GetParametersByPathCommand)).resolves(parameters({ "min-confidence": "80" }));
    const source = createSsmSettingsSource(client, "/secondlook/dev/");
    if (configured !== undefined) process.env.POWERTOOLS_PARAMETERS_MAX_AGE = configured;

    // Act
    await source.load();
    await source.load();

    // Assert
    expect(ssm.commandCalls(untyped(GetParametersByPathCommand))).toHaveLength(1);
  });

  it("names the parameter an operator mistyped", async () => {
    // Arrange
    ssm.on(untyped(GetParametersByPathCommand)).resolves(parameters({ "human-review-enabled": "yes" }));

    // Act
    const load = createSsmSettingsSource(client, "/secondlook/dev/").load();

    // Assert
    await expect(load).rejects.toBeInstanceOf(InvalidSettingsError);
    await expect(createSsmSettingsSource(client, "/secondlook/dev/").load()).rejects.toThrow(
      /human-review-enabled/,
    );
  });
});
