/** Scheduled: stops the active model version once it has been idle for model-idle-stop-minutes. */
import { logger } from "../logger";
import { upkeepService } from "../services";

export const handler = async () => {
  const outcome = await upkeepService().stopIfIdle();
  logger.info("Idle check done", { ...outcome });
  return outcome;
};
