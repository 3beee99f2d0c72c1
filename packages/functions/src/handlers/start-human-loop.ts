/** StartHumanReview: starts the A2I loop carrying the task token; the task then waits for the callback. */
import { reviewService } from "../services";

export const handler = async (payload: unknown) => reviewService().start(payload);
