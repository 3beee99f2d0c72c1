/** KeepNegativeExample: `{image, review}` of a None of the Above answer → `{key}` under negative_examples/. */
import { labelingService } from "../services";

export const handler = async (payload: unknown) => labelingService().keepNegative(payload);
