import { SageMakerClient } from "@aws-sdk/client-sagemaker";
import type { CdkCustomResourceEvent, CdkCustomResourceIsCompleteEvent } from "aws-lambda";
import { createHumanReviewResource } from "./human-review-resource";

const resource = createHumanReviewResource(new SageMakerClient({}));

/** Provider `onEventHandler`: creates, replaces or deletes the A2I human task UI + flow definition. */
export const onEvent = (event: CdkCustomResourceEvent) => resource.onEvent(event);

/** Provider `isCompleteHandler`: waits for the flow definition to be Active (or gone, on delete). */
export const isComplete = (event: CdkCustomResourceIsCompleteEvent) => resource.isComplete(event);
