/**
 * The embedded detector: learns logo classes from scratch from labeled pixels and scores new images
 * with an open-set-aware confidence. Pure: given decoded pixels and a seed, training is deterministic.
 *
 * How it works: every image becomes a logo-centred feature vector (features.ts), standardised over
 * the training set and weighted per feature by how well it separates the labels (Fisher's ratio), so
 * features that reviewed hard examples show to be unstable within a class count less. A class is all
 * of its training examples, not their mean: the distance of an image to a class is the mean distance
 * to its two nearest examples, so a reviewed hard rendering teaches the model that rendering instead
 * of being averaged away. Confidence for a label is a logistic calibration of (a) the distance to
 * that class, (b) the margin to the nearest other class and (c) the margin to the "None of the Above"
 * examples when negatives were given. The calibration is fitted on cross-fitted held-out training
 * images: correct predictions are positives; wrong ones, negatives and every image compared with the
 * classes *without its own* (a simulated unseen logo) are negatives. An image far from every known
 * class therefore gets a low confidence. Per-label assumed thresholds are then chosen on the test set.
 */
import { z } from "zod";
import { createRandom, shuffled } from "../demo/prng";
import { extractFeatures, FEATURE_LENGTH, type Pixels } from "./features";

export interface LabeledPixels {
  label: string;
  pixels: Pixels;
}

export interface TrainInput {
  images: LabeledPixels[];
  /** "None of the Above" examples: images that are none of the labels. */
  negatives?: Pixels[];
  /** An explicit test set; when absent one is split off `images` (stratified, from `seed`). */
  testImages?: LabeledPixels[];
  /** Share of each label's images held out for testing when no test set is given (Custom Labels uses 20 %). */
  testFraction?: number;
  seed: number;
  /** "detection" when the images are crops of annotated boxes (min. 1 label, like Custom Labels). */
  task?: "classification" | "detection";
}

/** The training data cannot produce a model (too few labels, no images, …). */
export class TrainingDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TrainingDataError";
  }
}

/** A stored model could not be read back. */
export class InvalidModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidModelError";
  }
}

const ExampleSchema = z.object({ label: z.string(), x: z.array(z.number()).length(FEATURE_LENGTH) });

export const DetectorModelSchema = z.object({
  format: z.literal("secondlook-detector"),
  /** 2: nearest-neighbour model over logo-centred features (version 1 models must be retrained). */
  version: z.literal(2),
  /** Classification scores the whole image; detection scores proposed regions and returns boxes. */
  task: z.enum(["classification", "detection"]).default("classification"),
  labels: z.array(z.string()).min(1),
  featureMean: z.array(z.number()).length(FEATURE_LENGTH),
  featureScale: z.array(z.number().positive()).length(FEATURE_LENGTH),
  /** Every training image's standardised features: a class is all its examples, not their mean. */
  examples: z.array(ExampleSchema).min(1),
  /** Standardised "None of the Above" examples. */
  rejects: z.array(z.array(z.number()).length(FEATURE_LENGTH)).default([]),
  calibration: z.object({ weights: z.array(z.number()).length(3), bias: z.number() }),
  /** Per-label assumed threshold (0..1), as in the summary file. */
  thresholds: z.record(z.string(), z.number().min(0).max(1)),
});

export type DetectorModel = z.infer<typeof DetectorModelSchema>;

export interface LabelMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  /** 0..1 */
  threshold: number;
  testImages: number;
}

export interface Evaluation {
  labels: LabelMetrics[];
  f1: number;
  precision: number;
  recall: number;
  confusion: { groundTruth: string; predicted: string; count: number }[];
  trainingImages: number;
  testingImages: number;
}

export interface LabelScore {
  label: string;
  /** 0..100, like Rekognition's Confidence. */
  confidence: number;
}

/** Neighbours averaged into a class's distance: one stray example cannot make a class look close. */
const NEIGHBOURS = 2;
const MIN_SCALE = 0.01;
const MARGIN_CLAMP = 3;
const FOLDS = 5;
const DEFAULT_THRESHOLD = 0.5;
/** Bounds of a feature's Fisher ratio: no feature is ignored outright or dominates alone. */
const RELEVANCE_MIN = 0.05;
const RELEVANCE_MAX = 20;
/**
 * Weight of a simulated unseen logo (an image compared without its own class) in the calibration.
 * Every training image yields one, so at full weight calibration would assume half of all images
 * are unseen logos; half weight is still far more than the stream shows, so unseen logos stay low.
 */
const OPEN_SET_WEIGHT = 0.5;

function clamp(x: number, lo: number, hi: number) {
  return Math.min(hi, Math.max(lo, x));
}

/** Root-mean-square difference of two standardised vectors. */
function distance(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let j = 0; j < FEATURE_LENGTH; j++) sum += ((a[j] ?? 0) - (b[j] ?? 0)) ** 2;
  return Math.max(1e-6, Math.sqrt(sum / FEATURE_LENGTH));
}

/** Mean of the `k` smallest values (all of them when there are fewer). */
function meanOfSmallest(values: number[], k: number): number {
  if (values.length === 0) return Number.POSITIVE_INFINITY;
  const sorted = [...values].sort((x, y) => x - y);
  const n = Math.min(k, sorted.length);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i] ?? 0;
  return sum / n;
}

/** Calibration inputs for one candidate label given its distance and the competing distances. */
function calibrationFeatures(own: number, nearestOther: number, reject: number | undefined): number[] {
  const margin = Number.isFinite(nearestOther) ? Math.log(own) - Math.log(nearestOther) : -MARGIN_CLAMP;
  return [
    Math.log(own),
    clamp(margin, -MARGIN_CLAMP, MARGIN_CLAMP),
    reject === undefined ? 0 : clamp(Math.log(own) - Math.log(reject), -MARGIN_CLAMP, MARGIN_CLAMP),
  ];
}

function sigmoid(z: number) {
  return 1 / (1 + Math.exp(-z));
}

/** Solves a small dense linear system (Gaussian elimination with partial pivoting). */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i] ?? 0]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++)
      if (Math.abs(m[r]?.[col] ?? 0) > Math.abs(m[pivot]?.[col] ?? 0)) pivot = r;
    [m[col], m[pivot]] = [m[pivot] as number[], m[col] as number[]];
    const p = m[col] as number[];
    const d = p[col] ?? 1;
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const row = m[r] as number[];
      const f = (row[col] ?? 0) / d;
      for (let c = col; c <= n; c++) row[c] = (row[c] ?? 0) - f * (p[c] ?? 0);
    }
  }
  return m.map((row, i) => (row[n] ?? 0) / (row[i] ?? 1));
}

interface CalibrationSample {
  x: number[];
  y: 0 | 1;
  weight: number;
}

/**
 * Weighted, L2-regularised logistic regression fitted by Newton's method (4 parameters, so a
 * dozen exact steps beat hundreds of gradient steps).
 */
function fitLogistic(samples: CalibrationSample[]): { weights: number[]; bias: number } {
  const positives = samples.filter((s) => s.y === 1).length;
  const negatives = samples.length - positives;
  if (positives === 0 || negatives === 0) return { weights: [-4, -2, -1], bias: 4 };
  const total = samples.reduce((acc, s) => acc + s.weight, 0);
  const dim = 4;
  let theta = [0, 0, 0, 0];
  const lambda = 0.001;
  for (let iter = 0; iter < 25; iter++) {
    const grad = new Array<number>(dim).fill(0);
    const hess = Array.from({ length: dim }, () => new Array<number>(dim).fill(0));
    for (const s of samples) {
      const w = s.weight / total;
      const x = [...s.x, 1];
      const p = sigmoid(x.reduce((acc, v, j) => acc + v * (theta[j] ?? 0), 0));
      for (let i = 0; i < dim; i++) {
        grad[i] = (grad[i] ?? 0) + w * (p - s.y) * (x[i] ?? 0);
        const row = hess[i] as number[];
        for (let j = 0; j < dim; j++) row[j] = (row[j] ?? 0) + w * p * (1 - p) * (x[i] ?? 0) * (x[j] ?? 0);
      }
    }
    for (let i = 0; i < dim; i++) {
      grad[i] = (grad[i] ?? 0) + lambda * (theta[i] ?? 0);
      (hess[i] as number[])[i] = ((hess[i] as number[])[i] ?? 0) + lambda;
    }
    const step = solve(hess, grad);
    theta = theta.map((t, i) => t - (step[i] ?? 0));
    if (Math.max(...step.map(Math.abs)) < 1e-8) break;
  }
  return { weights: theta.slice(0, 3), bias: theta[3] ?? 0 };
}

/** One candidate label for an image: its distance-based calibration inputs. */
interface Candidate {
  label: string;
  features: number[];
}

/**
 * Calibration inputs of every label for one image, from its distances to the examples it may be
 * compared with (`examples[i]` at `toExamples[i]`, rejection examples at `toRejects`).
 */
function candidates(
  toExamples: readonly number[],
  examples: readonly { label: string }[],
  toRejects: readonly number[],
  exclude?: string,
): Candidate[] {
  const byLabel = new Map<string, number[]>();
  examples.forEach((e, i) => {
    if (e.label === exclude) return;
    const list = byLabel.get(e.label) ?? [];
    list.push(toExamples[i] ?? Number.POSITIVE_INFINITY);
    byLabel.set(e.label, list);
  });
  const labels = [...byLabel.keys()];
  const distances = labels.map((l) => meanOfSmallest(byLabel.get(l) ?? [], NEIGHBOURS));
  const reject = toRejects.length > 0 ? meanOfSmallest([...toRejects], NEIGHBOURS) : undefined;
  return labels.map((label, i) => {
    let nearestOther = Number.POSITIVE_INFINITY;
    distances.forEach((d, k) => {
      if (k !== i && d < nearestOther) nearestOther = d;
    });
    return { label, features: calibrationFeatures(distances[i] ?? 1, nearestOther, reject) };
  });
}

/** The candidate with the smallest distance (features[0] is its log distance). */
function closest(list: Candidate[]): Candidate | undefined {
  let best: Candidate | undefined;
  for (const c of list) if (!best || (c.features[0] ?? 0) < (best.features[0] ?? 0)) best = c;
  return best;
}

/**
 * How much each feature tells the labels apart: its between-class over within-class variance
 * (Fisher's ratio), bounded and scaled to average 1. A feature that the reviewed hard examples
 * show to vary wildly within a class (background colour, say) loses weight as they accumulate.
 */
function relevance(examples: { label: string; x: number[] }[], mean: number[]): number[] {
  const byLabel = new Map<string, number[][]>();
  for (const e of examples) byLabel.set(e.label, [...(byLabel.get(e.label) ?? []), e.x]);
  const ratios = mean.map((m, j) => {
    let within = 0;
    let between = 0;
    for (const members of byLabel.values()) {
      const classMean = members.reduce((acc, v) => acc + (v[j] ?? 0), 0) / members.length;
      for (const v of members) within += ((v[j] ?? 0) - classMean) ** 2;
      between += members.length * (classMean - m) ** 2;
    }
    const ratio = between / Math.max(1e-9, within);
    return clamp(ratio, RELEVANCE_MIN, RELEVANCE_MAX);
  });
  const average = ratios.reduce((acc, r) => acc + r, 0) / ratios.length;
  return ratios.map((r) => r / average);
}

/** Centres and scales features: unit spread, then weighted by relevance (a divided scale weighs more). */
function standardiser(vectors: number[][], examples: { label: string; x: number[] }[]) {
  const n = vectors.length;
  const mean = new Array<number>(FEATURE_LENGTH).fill(0);
  for (const v of vectors)
    for (let j = 0; j < FEATURE_LENGTH; j++) mean[j] = (mean[j] ?? 0) + (v[j] ?? 0) / n;
  const weights = relevance(examples, mean);
  const scale = mean.map((m, j) => {
    let ss = 0;
    for (const v of vectors) ss += ((v[j] ?? 0) - m) ** 2;
    const spread = Math.max(MIN_SCALE, Math.sqrt(ss / Math.max(1, n - 1)));
    return spread / Math.sqrt(weights[j] ?? 1);
  });
  return { mean, scale, apply: (v: number[]) => v.map((x, j) => (x - (mean[j] ?? 0)) / (scale[j] ?? 1)) };
}

/**
 * Splits images into train and test per label, deterministically from the seed. Every label with at
 * least two images keeps at least one image on each side.
 */
export function splitStratified<T extends { label: string }>(
  images: readonly T[],
  testFraction: number,
  seed: number,
): { train: T[]; test: T[] } {
  if (!(testFraction >= 0 && testFraction < 1)) {
    throw new TrainingDataError(`testFraction must be in [0, 1), got ${testFraction}`);
  }
  const random = createRandom(seed);
  const byLabel = new Map<string, T[]>();
  for (const image of images) byLabel.set(image.label, [...(byLabel.get(image.label) ?? []), image]);
  const train: T[] = [];
  const test: T[] = [];
  for (const label of [...byLabel.keys()].sort()) {
    const group = shuffled(byLabel.get(label) ?? [], random);
    const wanted =
      group.length < 2 || testFraction === 0 ? 0 : Math.max(1, Math.round(group.length * testFraction));
    test.push(...group.slice(0, wanted));
    train.push(...group.slice(wanted));
  }
  return { train, test };
}

/** Scores every label of the model for one image, highest confidence first. */
export function scoreImage(model: DetectorModel, pixels: Pixels): LabelScore[] {
  return scoreFeatures(model, extractFeatures(pixels));
}

function scoreFeatures(model: DetectorModel, raw: number[]): LabelScore[] {
  const x = raw.map((v, j) => (v - (model.featureMean[j] ?? 0)) / (model.featureScale[j] ?? 1));
  const { weights, bias } = model.calibration;
  const toExamples = model.examples.map((e) => distance(x, e.x));
  const toRejects = model.rejects.map((r) => distance(x, r));
  return candidates(toExamples, model.examples, toRejects)
    .map((c) => {
      const z = c.features.reduce((acc, v, j) => acc + v * (weights[j] ?? 0), bias);
      return { label: c.label, confidence: Math.round(sigmoid(z) * 100_000) / 1000 };
    })
    .sort((a, b) => b.confidence - a.confidence || a.label.localeCompare(b.label));
}

function evaluate(
  model: DetectorModel,
  test: { label: string; x: number[] }[],
  trainingImages: number,
): Evaluation {
  const predictions = test.map((t) => ({ truth: t.label, top: scoreFeatures(model, t.x)[0] }));
  const confusion = new Map<string, number>();
  for (const p of predictions) {
    const key = JSON.stringify([p.truth, p.top?.label ?? ""]);
    confusion.set(key, (confusion.get(key) ?? 0) + 1);
  }
  const labels = model.labels.map((label) => {
    const threshold = model.thresholds[label] ?? DEFAULT_THRESHOLD;
    const positives = predictions.filter((p) => p.truth === label).length;
    const predicted = predictions.filter(
      (p) => p.top?.label === label && p.top.confidence / 100 >= threshold,
    );
    const truePositives = predicted.filter((p) => p.truth === label).length;
    const precision = predicted.length === 0 ? 0 : truePositives / predicted.length;
    const recall = positives === 0 ? 0 : truePositives / positives;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { label, precision, recall, f1, threshold, testImages: positives };
  });
  const measured = labels.filter((l) => l.testImages > 0);
  const average = (pick: (l: LabelMetrics) => number) =>
    measured.length === 0 ? 0 : measured.reduce((acc, l) => acc + pick(l), 0) / measured.length;
  return {
    labels,
    f1: average((l) => l.f1),
    precision: average((l) => l.precision),
    recall: average((l) => l.recall),
    confusion: [...confusion.entries()].map(([key, count]) => {
      const [groundTruth, predicted] = JSON.parse(key) as [string, string];
      return { groundTruth, predicted, count };
    }),
    trainingImages: trainingImages,
    testingImages: test.length,
  };
}

/**
 * Per label, the threshold that maximises F1 on the test set; among equally good thresholds the
 * highest, so the assumed threshold sits right at the least confident correct prediction.
 */
function chooseThresholds(
  model: DetectorModel,
  test: { label: string; x: number[] }[],
): Record<string, number> {
  const tops = test.map((t) => ({ truth: t.label, top: scoreFeatures(model, t.x)[0] }));
  const thresholds: Record<string, number> = {};
  for (const label of model.labels) {
    const positives = tops.filter((t) => t.truth === label).length;
    const mine = tops
      .filter((t) => t.top?.label === label)
      .map((t) => ({ correct: t.truth === label, confidence: (t.top?.confidence ?? 0) / 100 }))
      .sort((a, b) => b.confidence - a.confidence);
    if (positives === 0 || mine.length === 0) {
      thresholds[label] = DEFAULT_THRESHOLD;
      continue;
    }
    let best = { f1: -1, threshold: DEFAULT_THRESHOLD };
    let truePositives = 0;
    mine.forEach((p, i) => {
      if (p.correct) truePositives++;
      const precision = truePositives / (i + 1);
      const recall = truePositives / positives;
      const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
      // Strictly better only: ties keep the higher (earlier) threshold.
      if (f1 > best.f1 && (mine[i + 1]?.confidence ?? -1) < p.confidence)
        best = { f1, threshold: p.confidence };
    });
    thresholds[label] = Math.floor(best.threshold * 1000) / 1000;
  }
  return thresholds;
}

/** Trains a model from labeled pixels and evaluates it on the (given or auto-split) test set. */
export function train(input: TrainInput): { model: DetectorModel; evaluation: Evaluation } {
  const { seed, negatives = [], testFraction = 0.2, task = "classification" } = input;
  const labels = [...new Set(input.images.map((i) => i.label))].sort();
  const minimum = task === "classification" ? 2 : 1;
  if (labels.length < minimum) {
    throw new TrainingDataError(
      `Training a ${task} model needs at least ${minimum} labels, got ${labels.length}`,
    );
  }
  const split = input.testImages
    ? { train: input.images, test: input.testImages }
    : splitStratified(input.images, testFraction, seed);
  const unknownTestLabels = split.test.filter((t) => !labels.includes(t.label));
  if (unknownTestLabels.length > 0) {
    throw new TrainingDataError(
      `Test label "${unknownTestLabels[0]?.label}" does not occur in the training data`,
    );
  }
  const trainRaw = split.train.map((i) => ({ label: i.label, x: extractFeatures(i.pixels) }));
  const negativeRaw = negatives.map((p) => extractFeatures(p));
  const std = standardiser([...trainRaw.map((t) => t.x), ...negativeRaw], trainRaw);
  const trainSet = trainRaw.map((t) => ({ label: t.label, x: std.apply(t.x) }));
  const negativeSet = negativeRaw.map((x) => std.apply(x));

  // Cross-fitting: calibration only ever sees distances to examples of other folds.
  const random = createRandom(seed ^ 0x5eed);
  const fold = new Array<number>(trainSet.length).fill(0);
  for (const label of labels) {
    const members = shuffled(
      trainSet.flatMap((t, i) => (t.label === label ? [i] : [])),
      random,
    );
    members.forEach((index, i) => {
      fold[index] = i % FOLDS;
    });
  }
  const negativeFold = new Array<number>(negativeSet.length).fill(0);
  shuffled(
    negativeSet.map((_, i) => i),
    random,
  ).forEach((index, i) => {
    negativeFold[index] = i % FOLDS;
  });
  const toTrain = (x: number[]) => trainSet.map((t) => distance(x, t.x));
  const toNegatives = (x: number[]) => negativeSet.map((n) => distance(x, n));
  const samples: CalibrationSample[] = [];
  for (let k = 0; k < FOLDS; k++) {
    const pool = trainSet.filter((_, i) => fold[i] !== k);
    if (pool.length === 0) continue;
    const keep = <T>(list: T[], folds: number[]) => list.filter((_, i) => folds[i] !== k);
    trainSet.forEach((held, i) => {
      if (fold[i] !== k) return;
      const toPool = keep(toTrain(held.x), fold);
      const toRejects = keep(toNegatives(held.x), negativeFold);
      const best = closest(candidates(toPool, pool, toRejects));
      if (best && pool.some((p) => p.label === held.label)) {
        samples.push({ x: best.features, y: best.label === held.label ? 1 : 0, weight: 1 });
      }
      // The same image compared without its own class is what an unseen logo looks like.
      const open = closest(candidates(toPool, pool, toRejects, held.label));
      if (open) samples.push({ x: open.features, y: 0, weight: OPEN_SET_WEIGHT });
    });
    negativeSet.forEach((neg, i) => {
      if (negativeFold[i] !== k) return;
      const best = closest(candidates(keep(toTrain(neg), fold), pool, keep(toNegatives(neg), negativeFold)));
      if (best) samples.push({ x: best.features, y: 0, weight: 1 });
    });
  }

  const base: DetectorModel = {
    format: "secondlook-detector",
    version: 2,
    task,
    labels,
    featureMean: std.mean,
    featureScale: std.scale,
    examples: trainSet,
    rejects: negativeSet,
    calibration: fitLogistic(samples),
    thresholds: Object.fromEntries(labels.map((l) => [l, DEFAULT_THRESHOLD])),
  };
  const testSet = split.test.map((t) => ({ label: t.label, x: extractFeatures(t.pixels) }));
  const model = {
    ...base,
    thresholds: testSet.length > 0 ? chooseThresholds(base, testSet) : base.thresholds,
  };
  return { model, evaluation: evaluate(model, testSet, split.train.length) };
}

/** Reads a model back from JSON text, rejecting anything that is not a detector model. */
export function parseModel(text: string): DetectorModel {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InvalidModelError("The model file is not JSON");
  }
  if (typeof json === "object" && json !== null && "version" in json && json.version === 1) {
    // Version 1 models kept class means of other features; they cannot be scored by this detector.
    throw new InvalidModelError(
      "The model was trained by an earlier version of the local detector; train a new version",
    );
  }
  const parsed = DetectorModelSchema.safeParse(json);
  if (!parsed.success) throw new InvalidModelError(`The model file is invalid: ${parsed.error.message}`);
  return parsed.data;
}
