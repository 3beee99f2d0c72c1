/** DetectLabels: `{event, executionName}` → `{image, detection}` for CheckConfidence. */
import { detectService } from "../services";

export const handler = async (payload: unknown) => detectService().detect(payload);
