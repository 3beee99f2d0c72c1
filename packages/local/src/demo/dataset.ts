/**
 * The synthetic demo data set: a seed set to train the first model and an inference set that mixes
 * held-out known logos, "hard" renderings and logos the model has never seen.
 */
import {
  KNOWN_LOGOS,
  type LogoSpec,
  NEGATIVE_LOGOS,
  type PixelBox,
  renderLogo,
  UNSEEN_LOGOS,
  type Variation,
} from "./logos";
import { deriveSeed } from "./prng";

export interface DemoImage {
  /** The true label (for unseen classes, a name the model has never been given). */
  label: string;
  /** A relative key such as `Acme/acme-003.png`, usable under any S3 prefix. */
  name: string;
  body: Buffer;
  variation: Variation;
  /** True when the label is one of the classes in the seed set. */
  known: boolean;
  width: number;
  height: number;
  /** The logo's bounding box in pixels (for object-detection manifests). */
  box: PixelBox;
}

export interface DemoDatasetOptions {
  seed: number;
  /** Seed-set images per known class. */
  perClass?: number;
  /** Normal inference images per known class. */
  inferencePerClass?: number;
  /** Hard inference images per known class. */
  hardPerClass?: number;
  /** Inference images per unseen class. */
  unseenPerClass?: number;
  /** "None of the Above" examples (an unseen class distinct from the inference unseen classes). */
  negatives?: number;
  classes?: readonly LogoSpec[];
  unseen?: readonly LogoSpec[];
}

export interface DemoDataset {
  seed: DemoImage[];
  inference: DemoImage[];
  negatives: DemoImage[];
}

async function renderMany(
  spec: LogoSpec,
  variation: Variation,
  count: number,
  seed: number,
  stream: string,
  known: boolean,
): Promise<DemoImage[]> {
  const images: DemoImage[] = [];
  for (let i = 0; i < count; i++) {
    const rendered = await renderLogo(spec, variation, deriveSeed(seed, `${stream}/${spec.label}/${i}`));
    const ext = rendered.format === "png" ? "png" : "jpg";
    const index = String(i).padStart(3, "0");
    images.push({
      label: spec.label,
      name: `${spec.label}/${stream}-${spec.label.toLowerCase()}-${index}.${ext}`,
      body: rendered.body,
      variation,
      known,
      width: rendered.width,
      height: rendered.height,
      box: rendered.box,
    });
  }
  return images;
}

/** Generates the whole demo data set deterministically from `seed`. */
export async function generateDemoDataset(options: DemoDatasetOptions): Promise<DemoDataset> {
  const {
    seed,
    perClass = 20,
    inferencePerClass = 10,
    hardPerClass = 3,
    unseenPerClass = 15,
    negatives = 10,
    classes = KNOWN_LOGOS,
    unseen = UNSEEN_LOGOS,
  } = options;
  const out: DemoDataset = { seed: [], inference: [], negatives: [] };
  for (const spec of classes) {
    // Separate streams per purpose keep the seed set unchanged when inference counts change.
    out.seed.push(...(await renderMany(spec, "normal", perClass, seed, "seed", true)));
    out.inference.push(...(await renderMany(spec, "normal", inferencePerClass, seed, "inference", true)));
    out.inference.push(...(await renderMany(spec, "hard", hardPerClass, seed, "hard", true)));
  }
  for (const spec of unseen) {
    out.inference.push(...(await renderMany(spec, "normal", unseenPerClass, seed, "unseen", false)));
  }
  for (const spec of NEGATIVE_LOGOS) {
    out.negatives.push(...(await renderMany(spec, "normal", negatives, seed, "negative", false)));
  }
  return out;
}
