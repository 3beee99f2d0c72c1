/** ModelHost on Rekognition Custom Labels: Start/StopProjectVersion, idempotent. */
import {
  type RekognitionClient,
  StartProjectVersionCommand,
  StopProjectVersionCommand,
} from "@aws-sdk/client-rekognition";
import type { ModelHost } from "@secondlook/core";
import { awsErrorName } from "./errors";

/** Creates a ModelHost backed by the given Rekognition client. */
export function createRekognitionModelHost(client: RekognitionClient): ModelHost {
  // Custom Labels answers ResourceInUseException when the version is already in (or heading to)
  // the wanted state, which is exactly the repeat a retried detection or a second check makes.
  const send = async (command: StartProjectVersionCommand | StopProjectVersionCommand) => {
    try {
      await client.send(command as StartProjectVersionCommand);
      return true;
    } catch (error) {
      if (awsErrorName(error) === "ResourceInUseException") return false;
      throw error;
    }
  };
  return {
    start: (modelVersionArn, minInferenceUnits) =>
      send(
        new StartProjectVersionCommand({
          ProjectVersionArn: modelVersionArn,
          MinInferenceUnits: minInferenceUnits,
        }),
      ),
    stop: (modelVersionArn) => send(new StopProjectVersionCommand({ ProjectVersionArn: modelVersionArn })),
  };
}
