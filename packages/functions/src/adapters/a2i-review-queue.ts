/** ReviewQueue on Amazon A2I. */
import { type SageMakerA2IRuntimeClient, StartHumanLoopCommand } from "@aws-sdk/client-sagemaker-a2i-runtime";
import { HumanLoopConflictError, type ReviewQueue } from "@secondlook/core";
import { awsErrorName } from "./errors";

/** Creates a ReviewQueue that starts loops of one flow definition. */
export function createA2iReviewQueue(
  client: SageMakerA2IRuntimeClient,
  flowDefinitionArn: string,
): ReviewQueue {
  return {
    async start({ name, inputContent }) {
      try {
        const result = await client.send(
          new StartHumanLoopCommand({
            HumanLoopName: name,
            FlowDefinitionArn: flowDefinitionArn,
            HumanLoopInput: { InputContent: inputContent },
            // Declares the images carry no PII or adult content; only matters if a public workforce is used.
            DataAttributes: {
              ContentClassifiers: ["FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent"],
            },
          }),
        );
        return { humanLoopArn: result.HumanLoopArn ?? null };
      } catch (error) {
        if (awsErrorName(error) === "ConflictException") {
          throw new HumanLoopConflictError(`Human loop ${name} already exists: ${(error as Error).message}`);
        }
        throw error;
      }
    },
  };
}
