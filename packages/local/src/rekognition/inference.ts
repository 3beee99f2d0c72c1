/**
 * DetectCustomLabels' CPU work on one image: decode, feature extraction and scoring. The same code
 * runs in the detector worker (pool.ts) and in tests, so both give the same labels and confidences.
 */
import { decodeImage, decodeRegion } from "./decode";
import { type DetectorModel, scoreImage } from "./detector";
import type { Pixels } from "./features";
import { proposeRegions } from "./regions";

/** One entry of DetectCustomLabels' `CustomLabels`, before the MinConfidence / MaxResults filters. */
export interface CustomLabel {
  Name: string;
  Confidence: number;
  Geometry?: { BoundingBox: { Width: number; Height: number; Left: number; Top: number } };
}

/** Classification: every label scored on the whole image, no Geometry. */
function classify(model: DetectorModel, pixels: Pixels): CustomLabel[] {
  return scoreImage(model, pixels).map((s) => ({ Name: s.label, Confidence: s.confidence }));
}

/** Object detection: the best label of each proposed region, with its box as ratios of the image. */
async function detectObjects(
  model: DetectorModel,
  body: Uint8Array,
  decoded: Pixels & { original: { width: number; height: number } },
): Promise<CustomLabel[]> {
  const { width, height } = decoded.original;
  const found: CustomLabel[] = [];
  for (const region of proposeRegions(decoded)) {
    const crop = await decodeRegion(body, {
      left: region.left * width,
      top: region.top * height,
      width: region.width * width,
      height: region.height * height,
    });
    const best = scoreImage(model, crop)[0];
    if (!best) continue;
    found.push({
      Name: best.label,
      Confidence: best.confidence,
      Geometry: {
        BoundingBox: { Width: region.width, Height: region.height, Left: region.left, Top: region.top },
      },
    });
  }
  return found.sort((a, b) => b.Confidence - a.Confidence);
}

/**
 * Every label the model finds in the image, highest confidence first. Throws decode.ts's
 * UnsupportedImageFormatError / ImageDimensionsError for images Custom Labels refuses.
 */
export async function inferLabels(model: DetectorModel, image: Uint8Array): Promise<CustomLabel[]> {
  const pixels = await decodeImage(image);
  return model.task === "detection" ? detectObjects(model, image, pixels) : classify(model, pixels);
}
