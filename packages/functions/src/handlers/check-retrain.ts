/** CheckRetrain: `{executionName}` → `{due, trainingName}`, counting each image once. */
import { labelingService } from "../services";

export const handler = async (payload: unknown) => labelingService().checkRetrain(payload);
