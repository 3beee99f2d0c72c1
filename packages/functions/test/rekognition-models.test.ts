import {
  InvalidParameterException,
  RekognitionClient,
  ResourceInUseException,
  StartProjectVersionCommand,
  StopProjectVersionCommand,
} from "@aws-sdk/client-rekognition";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { createRekognitionModelHost } from "../src/adapters/rekognition-models";
import { MODEL_ARN } from "./fakes";

describe("Rekognition model host", () => {
  const rekognition = mockClient(RekognitionClient);
  const client = new RekognitionClient({ region: "us-east-1" });
  afterEach(() => rekognition.reset());

  it("starts a version with the configured inference units", async () => {
    // Arrange
    rekognition.on(StartProjectVersionCommand).resolves({ Status: "STARTING" });

    // Act
    const started = await createRekognitionModelHost(client).start(MODEL_ARN, 2);

    // Assert
    expect(started).toBe(true);
    expect(rekognition.commandCalls(StartProjectVersionCommand)[0]?.args[0].input).toEqual({
      ProjectVersionArn: MODEL_ARN,
      MinInferenceUnits: 2,
    });
  });

  it("treats a version that is already starting or running as started", async () => {
    // Arrange
    rekognition
      .on(StartProjectVersionCommand)
      .rejects(new ResourceInUseException({ message: "The model version is STARTING", $metadata: {} }));

    // Act
    const started = await createRekognitionModelHost(client).start(MODEL_ARN, 1);

    // Assert
    expect(started).toBe(false);
  });

  it("treats a version that is already stopping or stopped as stopped", async () => {
    // Arrange
    rekognition
      .on(StopProjectVersionCommand)
      .rejects(new ResourceInUseException({ message: "The model version is STOPPED", $metadata: {} }));

    // Act
    const stopped = await createRekognitionModelHost(client).stop(MODEL_ARN);

    // Assert
    expect(stopped).toBe(false);
  });

  it("passes any other failure on", async () => {
    // Arrange
    rekognition
      .on(StopProjectVersionCommand)
      .rejects(new InvalidParameterException({ message: "bad ARN", $metadata: {} }));

    // Act
    const attempt = createRekognitionModelHost(client).stop(MODEL_ARN);

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(InvalidParameterException);
  });
});
