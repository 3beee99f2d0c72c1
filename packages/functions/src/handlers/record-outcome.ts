/** RecordAutoLabel, RecordLabel, RecordSkip, RecordNoAnswer, RecordFailure: writes outcomes/<execution>.json. */
import { labelingService } from "../services";

export const handler = async (payload: unknown) => labelingService().record(payload);
