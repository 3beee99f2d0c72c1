/** EventBridge target for "SageMaker A2I HumanLoop Status Change": completes the waiting task. */
import { logger } from "../logger";
import { reviewService } from "../services";

export const handler = async (event: unknown) => {
  const handled = await reviewService().onStatus(event);
  logger.info("Human loop status handled", { ...handled });
  return handled;
};
