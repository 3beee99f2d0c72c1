/**
 * `secondlook demo`: regenerates the synthetic logo data set, either as files in a folder (to
 * look at, or to send with `secondlook run`) or straight into the running local cloud, where it
 * trains and promotes a model and sends the new images through review-image, as `npm start` does.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, extname, join, resolve } from "node:path";
import { Prefixes } from "@secondlook/core/blueprint";
import { putSetting, trainAndPromote, uploadForDetection, uploadTrainingData } from "../demo/bootstrap";
import { type DemoImage, generateDemoDataset } from "../demo/dataset";
import { createRandom, shuffled } from "../demo/prng";
import { UsageError } from "./errors";
import type { Target } from "./target";

/** The seed `npm start` uses, so `secondlook demo` recreates the same images by default. */
export const DEMO_SEED = 7;
/** Shuffles inference images under neutral names, as the upload does (no name gives a logo away). */
const INFERENCE_SHUFFLE_SEED = 11;

async function writeImage(path: string, body: Buffer) {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, body);
}

const neutralName = (index: number, image: DemoImage) =>
  `demo-${String(index + 1).padStart(3, "0")}${extname(image.name)}`;

/**
 * Writes the data set under `folder`: the labeled seed set in the labels-by-folder layout, the
 * None of the Above examples, the images to review under neutral names, a JSON Lines manifest of
 * those, and an answer key.
 */
export async function writeDemoFolder(folder: string, seed: number) {
  const root = resolve(folder);
  const dataset = await generateDemoDataset({ seed });
  for (const image of dataset.seed) await writeImage(join(root, Prefixes.labeled, image.name), image.body);
  for (const image of dataset.negatives) {
    await writeImage(join(root, Prefixes.negatives, image.name), image.body);
  }
  const inference = shuffled(dataset.inference, createRandom(INFERENCE_SHUFFLE_SEED));
  const manifest: string[] = [];
  const answers = ["image,label,known"];
  for (const [index, image] of inference.entries()) {
    const name = neutralName(index, image);
    await writeImage(join(root, "inference", name), image.body);
    manifest.push(JSON.stringify({ "source-ref": `inference/${name}` }));
    answers.push(`${name},${JSON.stringify(image.label)},${image.known}`);
  }
  await writeFile(join(root, "inference.manifest"), `${manifest.join("\n")}\n`);
  await writeFile(join(root, "answer-key.csv"), `${answers.join("\n")}\n`);
  return {
    folder: root,
    labeled: dataset.seed.length,
    negatives: dataset.negatives.length,
    inference: inference.length,
    labels: [...new Set(dataset.seed.map((image) => image.label))].sort(),
  };
}

/** Loads the data set into the local cloud: upload, train and promote, then send the new images. */
export async function loadDemoIntoCloud(target: Target, seed: number, now: Date) {
  if (!target.local || !target.endpoint) {
    throw new UsageError(
      "demo loads its data set into the local cloud only (it trains a model); for a stage, write it with --out <folder> and send it with `secondlook run <folder>/inference`",
    );
  }
  const cloud = {
    endpoint: target.endpoint,
    bucket: target.bucket,
    settingsPath: target.settingsPath,
    projectArn: target.projectArn,
  };
  const dataset = await generateDemoDataset({ seed });
  const { labels, manifestKey } = await uploadTrainingData(cloud, dataset);
  await putSetting(cloud, "labels", labels);
  // A new version name each time: Custom Labels refuses to reuse one.
  const versionName = `demo-${now
    .toISOString()
    .replace(/[^0-9]/g, "")
    .slice(0, 14)}`;
  const { versionArn, f1 } = await trainAndPromote(cloud, manifestKey, versionName);
  const keys = await uploadForDetection(cloud, dataset.inference, INFERENCE_SHUFFLE_SEED);
  return { labels, labeled: dataset.seed.length, versionArn, f1: f1 ?? null, uploaded: keys.length };
}
