/** Decoded demo images for the detector and service tests. */
import { type DemoImage, generateDemoDataset } from "../../src/demo/dataset";
import { decodeImage } from "../../src/rekognition/decode";
import type { Pixels } from "../../src/rekognition/features";

export type DecodedDemoImage = DemoImage & { pixels: Pixels };

export async function decodedDemoDataset(seed: number, perClass = 20) {
  const data = await generateDemoDataset({ seed, perClass });
  const decode = (images: DemoImage[]) =>
    Promise.all(images.map(async (image) => ({ ...image, pixels: await decodeImage(image.body) })));
  return {
    seed: await decode(data.seed),
    inference: await decode(data.inference),
    negatives: await decode(data.negatives),
  };
}
