/**
 * The embedded detector: learns logo classes from scratch from labeled pixels and scores new images
 * with an open-set-aware confidence. Pure: given decoded pixels and a seed, training is deterministic.
 *
 * How it works: every image becomes a feature vector (features.ts), standardised over the training
 * set. Each class is a diagonal Gaussian (mean and shrunk variance), so the distance of an image to
 * a class is measured in units of that class's own spread. Confidence for a label is a logistic
 * calibration of (a) the distance to that class, (b) the margin to the nearest other class and
 * (c) the margin to the "None of the Above" prototype when negatives were given. The calibration is
 * fitted on cross-fitted held-out training images: correct predictions are positives; wrong ones,
 * negatives and every image scored against the classes *without its own* (a simulated unseen logo)
 * are negatives. An image far from every known class therefore gets a low confidence.
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

const GaussianSchema = z.object({
  mean: z.array(z.number()),
  variance: z.array(z.number().positive()),
  count: z.number().int().positive(),
});

export const DetectorModelSchema = z.object({
  format: z.literal("secondlook-detector"),
  version: z.literal(1),
  /** Classification scores the whole image; detection scores proposed regions and returns boxes. */
  task: z.enum(["classification", "detection"]).default("classification"),
  labels: z.array(z.string()).min(1),
  featureMean: z.array(z.number()).length(FEATURE_LENGTH),
  featureScale: z.array(z.number().positive()).length(FEATURE_LENGTH),
  classes: z.array(GaussianSchema.extend({ label: z.string() })),
  reject: GaussianSchema.optional(),
  calibration: z.object({ weights: z.array(z.number()).length(3), bias: z.number() }),
  /** Per-label assumed threshold (0..1), as in the summary file. */
  thresholds: z.record(z.string(), z.number().min(0).max(1)),
});

export type DetectorModel = z.infer<typeof DetectorModelSchema>;
type Gaussian = z.infer<typeof GaussianSchema>;

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

/** Prior strength (in images) pulling each class's variance towards the global one: small classes stay sane. */
const VARIANCE_PRIOR = 4;
const MIN_VARIANCE = 0.02;
const MIN_SCALE = 0.01;
const MARGIN_CLAMP = 3;
const FOLDS = 5;
const DEFAULT_THRESHOLD = 0.5;

function clamp(x: number, lo: number, hi: number) {
  return Math.min(hi, Math.max(lo, x));
}

function fitGaussian(vectors: number[][], globalVariance: number[]): Gaussian {
  const n = vectors.length;
  const mean = new Array<number>(FEATURE_LENGTH).fill(0);
  for (const v of vectors)
    for (let j = 0; j < FEATURE_LENGTH; j++) mean[j] = (mean[j] ?? 0) + (v[j] ?? 0) / n;
  const variance = mean.map((m, j) => {
    let ss = 0;
    for (const v of vectors) ss += ((v[j] ?? 0) - m) ** 2;
    const prior = globalVariance[j] ?? 1;
    return Math.max(MIN_VARIANCE, (ss + VARIANCE_PRIOR * prior) / (n - 1 + VARIANCE_PRIOR));
  });
  return { mean, variance, count: n };
}

/** Root-mean-square z-score: ~1 for a typical member of the class, large for strangers. */
function distance(x: number[], g: Gaussian): number {
  let sum = 0;
  for (let j = 0; j < FEATURE_LENGTH; j++)
    sum += ((x[j] ?? 0) - (g.mean[j] ?? 0)) ** 2 / (g.variance[j] ?? 1);
  return Math.max(1e-6, Math.sqrt(sum / FEATURE_LENGTH));
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

/**
 * Class-balanced, L2-regularised logistic regression fitted by Newton's method (4 parameters, so a
 * dozen exact steps beat hundreds of gradient steps).
 */
function fitLogistic(samples: { x: number[]; y: 0 | 1 }[]): { weights: number[]; bias: number } {
  const positives = samples.filter((s) => s.y === 1).length;
  const negatives = samples.length - positives;
  if (positives === 0 || negatives === 0) return { weights: [-4, -2, -1], bias: 4 };
  const dim = 4;
  let theta = [0, 0, 0, 0];
  const lambda = 0.001;
  for (let iter = 0; iter < 25; iter++) {
    const grad = new Array<number>(dim).fill(0);
    const hess = Array.from({ length: dim }, () => new Array<number>(dim).fill(0));
    for (const s of samples) {
      const w = s.y === 1 ? 0.5 / positives : 0.5 / negatives;
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

interface FittedClasses {
  classes: (Gaussian & { label: string })[];
  reject?: Gaussian;
}

function fitClasses(
  examples: { label: string; x: number[] }[],
  negatives: number[][],
  labels: string[],
  globalVariance: number[],
): FittedClasses {
  const classes = labels.flatMap((label) => {
    const members = examples.filter((e) => e.label === label).map((e) => e.x);
    return members.length === 0 ? [] : [{ label, ...fitGaussian(members, globalVariance) }];
  });
  return negatives.length > 0 ? { classes, reject: fitGaussian(negatives, globalVariance) } : { classes };
}

/** Distances from x to every class, and the raw calibration features of each label. */
function candidates(x: number[], fitted: FittedClasses, exclude?: string) {
  const pool = fitted.classes.filter((c) => c.label !== exclude);
  const distances = pool.map((c) => distance(x, c));
  const reject = fitted.reject ? distance(x, fitted.reject) : undefined;
  return pool.map((c, i) => {
    let nearestOther = Number.POSITIVE_INFINITY;
    distances.forEach((d, k) => {
      if (k !== i && d < nearestOther) nearestOther = d;
    });
    return { label: c.label, features: calibrationFeatures(distances[i] ?? 1, nearestOther, reject) };
  });
}

/** The candidate with the smallest distance (features[0] is its log distance). */
function closest<T extends { features: number[] }>(list: T[]): T | undefined {
  let best: T | undefined;
  for (const c of list) if (!best || (c.features[0] ?? 0) < (best.features[0] ?? 0)) best = c;
  return best;
}

function standardiser(vectors: number[][]) {
  const n = vectors.length;
  const mean = new Array<number>(FEATURE_LENGTH).fill(0);
  for (const v of vectors)
    for (let j = 0; j < FEATURE_LENGTH; j++) mean[j] = (mean[j] ?? 0) + (v[j] ?? 0) / n;
  const scale = mean.map((m, j) => {
    let ss = 0;
    for (const v of vectors) ss += ((v[j] ?? 0) - m) ** 2;
    return Math.max(MIN_SCALE, Math.sqrt(ss / Math.max(1, n - 1)));
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
  return candidates(x, { classes: model.classes, reject: model.reject })
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
  const std = standardiser([...trainRaw.map((t) => t.x), ...negativeRaw]);
  const trainSet = trainRaw.map((t) => ({ label: t.label, x: std.apply(t.x) }));
  const negativeSet = negativeRaw.map((x) => std.apply(x));
  const globalVariance = new Array<number>(FEATURE_LENGTH).fill(1);

  // Cross-fitting: calibration only ever sees distances to classes fitted without that image.
  const random = createRandom(seed ^ 0x5eed);
  const fold = new Map<object, number>();
  for (const label of labels) {
    const members = shuffled(
      trainSet.filter((t) => t.label === label),
      random,
    );
    members.forEach((t, i) => {
      fold.set(t, i % FOLDS);
    });
  }
  const negativeFolds = shuffled(
    negativeSet.map((x, i) => ({ x, fold: i % FOLDS })),
    random,
  );
  const samples: { x: number[]; y: 0 | 1 }[] = [];
  for (let k = 0; k < FOLDS; k++) {
    const fitted = fitClasses(
      trainSet.filter((t) => fold.get(t) !== k),
      negativeFolds.filter((n) => n.fold !== k).map((n) => n.x),
      labels,
      globalVariance,
    );
    if (fitted.classes.length === 0) continue;
    for (const held of trainSet.filter((t) => fold.get(t) === k)) {
      const all = candidates(held.x, fitted);
      const best = closest(all);
      if (best && fitted.classes.some((c) => c.label === held.label)) {
        samples.push({ x: best.features, y: best.label === held.label ? 1 : 0 });
      }
      // The same image scored without its own class is what an unseen logo looks like.
      const open = closest(candidates(held.x, fitted, held.label));
      if (open) samples.push({ x: open.features, y: 0 });
    }
    for (const neg of negativeFolds.filter((n) => n.fold === k)) {
      const best = closest(candidates(neg.x, fitted));
      if (best) samples.push({ x: best.features, y: 0 });
    }
  }

  const fitted = fitClasses(trainSet, negativeSet, labels, globalVariance);
  const base: DetectorModel = {
    format: "secondlook-detector",
    version: 1,
    task,
    labels,
    featureMean: std.mean,
    featureScale: std.scale,
    classes: fitted.classes,
    ...(fitted.reject ? { reject: fitted.reject } : {}),
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
  const parsed = DetectorModelSchema.safeParse(json);
  if (!parsed.success) throw new InvalidModelError(`The model file is invalid: ${parsed.error.message}`);
  return parsed.data;
}
