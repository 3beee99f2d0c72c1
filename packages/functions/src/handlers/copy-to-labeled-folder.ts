/** CopyToLabeledFolder: `{image, review}` → `{key, label}` under images_labeled_by_folder/. */
import { labelingService } from "../services";

export const handler = async (payload: unknown) => labelingService().copy(payload);
