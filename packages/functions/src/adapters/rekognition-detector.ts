/** Detector on Rekognition Custom Labels. */
import { DetectCustomLabelsCommand, type RekognitionClient } from "@aws-sdk/client-rekognition";
import { type Detector, DetectorUnavailableError, ModelNotReadyError } from "@secondlook/core";
import { awsErrorName, isTransient } from "./errors";

const TRANSIENT = [
  "ThrottlingException",
  "ProvisionedThroughputExceededException",
  "InternalServerError",
  "LimitExceededException",
];

/** Creates a Detector backed by the given Rekognition client. */
export function createRekognitionDetector(client: RekognitionClient): Detector {
  return {
    async detect(image, modelVersionArn) {
      try {
        const result = await client.send(
          new DetectCustomLabelsCommand({
            ProjectVersionArn: modelVersionArn,
            Image: { S3Object: { Bucket: image.bucket, Name: image.key } },
            // 0 returns every label whatever its trained threshold: the workflow applies its own.
            MinConfidence: 0,
          }),
        );
        return {
          CustomLabels: (result.CustomLabels ?? []).map(({ Name, Confidence }) => ({ Name, Confidence })),
        };
      } catch (error) {
        if (awsErrorName(error) === "ResourceNotReadyException") {
          throw new ModelNotReadyError(`Model version ${modelVersionArn} is not running`);
        }
        if (isTransient(error, TRANSIENT)) {
          throw new DetectorUnavailableError(`DetectCustomLabels failed: ${(error as Error).message}`);
        }
        throw error;
      }
    },
  };
}
