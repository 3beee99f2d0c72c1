import { beforeAll, describe, expect, it } from "vitest";
import { generateDemoDataset } from "../../src/demo/dataset";
import { decodeImage } from "../../src/rekognition/decode";
import {
  InvalidModelError,
  parseModel,
  scoreImage,
  splitStratified,
  TrainingDataError,
  train,
} from "../../src/rekognition/detector";
import { extractFeatures, FEATURE_LENGTH, PixelDataError } from "../../src/rekognition/features";
import { type DecodedDemoImage, decodedDemoDataset } from "./fixtures";

const DEFAULT_THRESHOLD = 70;
let data: Awaited<ReturnType<typeof decodedDemoDataset>>;

const labeled = (images: DecodedDemoImage[]) => images.map((i) => ({ label: i.label, pixels: i.pixels }));

beforeAll(async () => {
  data = await decodedDemoDataset(1);
});

describe("train and scoreImage on the demo logos", () => {
  it("recognises at least 90 % of held-out known logos at the default threshold", () => {
    // Arrange
    const { model } = train({ images: labeled(data.seed), seed: 1 });
    const known = data.inference.filter((i) => i.known && i.variation === "normal");

    // Act
    const hits = known.filter((i) => {
      const top = scoreImage(model, i.pixels)[0];
      return top?.label === i.label && top.confidence >= DEFAULT_THRESHOLD;
    });

    // Assert
    expect(known.length).toBeGreaterThanOrEqual(40);
    expect(hits.length / known.length).toBeGreaterThanOrEqual(0.9);
  });

  it("gives at least 80 % of never-seen logos a confidence below the default threshold", () => {
    // Arrange
    const { model } = train({ images: labeled(data.seed), seed: 1 });
    const unseen = data.inference.filter((i) => !i.known);

    // Act
    const rejected = unseen.filter(
      (i) => (scoreImage(model, i.pixels)[0]?.confidence ?? 0) < DEFAULT_THRESHOLD,
    );

    // Assert
    expect(unseen.length).toBeGreaterThanOrEqual(10);
    expect(rejected.length / unseen.length).toBeGreaterThanOrEqual(0.8);
  });

  it("scores every label, highest confidence first, on the 0..100 scale", () => {
    // Arrange
    const { model } = train({ images: labeled(data.seed), seed: 1 });
    const image = data.inference[0];
    if (!image) throw new Error("no inference images");

    // Act
    const scores = scoreImage(model, image.pixels);

    // Assert
    expect(scores.map((s) => s.label).sort()).toEqual([...model.labels].sort());
    for (let i = 1; i < scores.length; i++) {
      expect(scores[i - 1]?.confidence ?? 0).toBeGreaterThanOrEqual(scores[i]?.confidence ?? 0);
    }
    for (const s of scores) expect(s.confidence >= 0 && s.confidence <= 100).toBe(true);
  });

  it("learns the same model from the same images and seed", () => {
    // Act
    const first = train({
      images: labeled(data.seed),
      negatives: data.negatives.map((n) => n.pixels),
      seed: 9,
    });
    const second = train({
      images: labeled(data.seed),
      negatives: data.negatives.map((n) => n.pixels),
      seed: 9,
    });

    // Assert
    expect(JSON.stringify(first.model)).toBe(JSON.stringify(second.model));
    expect(first.evaluation).toEqual(second.evaluation);
  });

  it("lowers confidence for images like the 'None of the Above' examples it was given", () => {
    // Arrange: half the negatives teach, the other half play new uploads of the same kind.
    const teach = data.negatives.slice(0, 5).map((n) => n.pixels);
    const probe = data.negatives.slice(5);
    const without = train({ images: labeled(data.seed), seed: 1 }).model;
    const withNegatives = train({ images: labeled(data.seed), negatives: teach, seed: 1 }).model;
    const meanTop = (model: typeof without) =>
      probe.reduce((acc, p) => acc + (scoreImage(model, p.pixels)[0]?.confidence ?? 0), 0) / probe.length;

    // Act
    const before = meanTop(without);
    const after = meanTop(withNegatives);

    // Assert
    expect(withNegatives.rejects.length).toBe(5);
    // The near miss shares Acme's colours: without negatives it still scores far above a stranger
    // (its round shape already keeps it from being auto-labeled outright).
    expect(before).toBeGreaterThanOrEqual(40);
    expect(after).toBeLessThan(before - 20);
    expect(after).toBeLessThan(DEFAULT_THRESHOLD);
  });

  it("evaluates on an auto-split test set like Custom Labels", () => {
    // Act
    const { model, evaluation } = train({ images: labeled(data.seed), seed: 1, testFraction: 0.2 });

    // Assert
    expect(evaluation.testingImages).toBe(20);
    expect(evaluation.trainingImages).toBe(80);
    expect(evaluation.labels.map((l) => l.label)).toEqual(model.labels);
    for (const l of evaluation.labels) {
      expect(l.testImages).toBe(4);
      expect(l.threshold).toBe(model.thresholds[l.label]);
      expect(l.threshold >= 0 && l.threshold <= 1).toBe(true);
    }
    expect(evaluation.f1).toBeGreaterThan(0.8);
    const confusionTotal = evaluation.confusion.reduce((acc, c) => acc + c.count, 0);
    expect(confusionTotal).toBe(20);
  });

  it("refuses training data with fewer than two labels", () => {
    // Arrange
    const one = labeled(data.seed.filter((i) => i.label === "Acme"));

    // Act / Assert
    expect(() => train({ images: one, seed: 1 })).toThrow(TrainingDataError);
  });

  it("trains a detection model from crops of a single label, as Custom Labels allows", () => {
    // Arrange
    const one = labeled(data.seed.filter((i) => i.label === "Acme"));

    // Act
    const { model } = train({ images: one, seed: 1, task: "detection" });

    // Assert
    expect(model.task).toBe("detection");
    expect(model.labels).toEqual(["Acme"]);
    const acme = data.inference.find((i) => i.label === "Acme" && i.variation === "normal");
    const globex = data.inference.find((i) => i.label === "Globex" && i.variation === "normal");
    if (!acme || !globex) throw new Error("missing inference images");
    const acmeScore = scoreImage(model, acme.pixels)[0]?.confidence ?? 0;
    const globexScore = scoreImage(model, globex.pixels)[0]?.confidence ?? 0;
    expect(acmeScore).toBeGreaterThan(globexScore);
    expect(globexScore).toBeLessThan(DEFAULT_THRESHOLD);
  });

  it("refuses a test label that never occurs in training", () => {
    // Arrange
    const images = labeled(data.seed.filter((i) => i.label === "Acme" || i.label === "Globex"));
    const testImages = labeled(data.seed.filter((i) => i.label === "Hooli").slice(0, 2));

    // Act / Assert
    expect(() => train({ images, testImages, seed: 1 })).toThrow(/does not occur/);
  });

  it("round-trips a model through JSON and rejects a damaged one", () => {
    // Arrange
    const { model } = train({ images: labeled(data.seed), seed: 1 });

    // Act
    const restored = parseModel(JSON.stringify(model));

    // Assert
    expect(restored).toEqual(model);
    expect(() => parseModel("{")).toThrow(InvalidModelError);
    expect(() => parseModel(JSON.stringify({ ...model, featureMean: [1, 2] }))).toThrow(InvalidModelError);
  });

  it("refuses a model of the earlier detector format with a message that says to retrain", () => {
    // Arrange
    const { model } = train({ images: labeled(data.seed), seed: 1 });
    const earlier = JSON.stringify({ ...model, version: 1 });

    // Act / Assert
    expect(() => parseModel(earlier)).toThrow(InvalidModelError);
    expect(() => parseModel(earlier)).toThrow(/earlier version of the local detector; train a new version/);
  });
});

describe("learning hard renderings from reviewed examples", () => {
  let hard: { taught: DecodedDemoImage[]; probes: DecodedDemoImage[] };

  beforeAll(async () => {
    // Hard renderings (small, tilted, translucent, noisy, on busy backgrounds) of the known logos.
    const generated = await generateDemoDataset({
      seed: 2,
      perClass: 0,
      inferencePerClass: 0,
      hardPerClass: 14,
      unseenPerClass: 0,
      negatives: 0,
    });
    const decoded = await Promise.all(
      generated.inference.map(async (image) => ({ ...image, pixels: await decodeImage(image.body) })),
    );
    const byLabel = new Map<string, DecodedDemoImage[]>();
    for (const image of decoded) byLabel.set(image.label, [...(byLabel.get(image.label) ?? []), image]);
    hard = {
      taught: [...byLabel.values()].flatMap((images) => images.slice(0, 8)),
      probes: [...byLabel.values()].flatMap((images) => images.slice(8)),
    };
  });

  const confidentHits = (model: ReturnType<typeof train>["model"], images: DecodedDemoImage[]) =>
    images.filter((i) => {
      const top = scoreImage(model, i.pixels)[0];
      return top?.label === i.label && top.confidence >= DEFAULT_THRESHOLD;
    }).length / images.length;

  it("auto-labels most unseen hard renderings once reviewers labeled other hard renderings", () => {
    // Arrange
    const seedOnly = train({ images: labeled(data.seed), seed: 1 }).model;

    // Act
    const taught = train({ images: labeled([...data.seed, ...hard.taught]), seed: 1 }).model;

    // Assert
    const before = confidentHits(seedOnly, hard.probes);
    const after = confidentHits(taught, hard.probes);
    expect(hard.probes.length).toBe(30);
    expect(after).toBeGreaterThanOrEqual(0.7);
    expect(after).toBeGreaterThan(before);
  });

  it("still keeps never-seen logos below the default threshold after learning hard renderings", () => {
    // Arrange
    const unseen = data.inference.filter((i) => !i.known);

    // Act
    const { model } = train({ images: labeled([...data.seed, ...hard.taught]), seed: 1 });

    // Assert
    const rejected = unseen.filter(
      (i) => (scoreImage(model, i.pixels)[0]?.confidence ?? 0) < DEFAULT_THRESHOLD,
    );
    expect(rejected.length / unseen.length).toBeGreaterThanOrEqual(0.8);
  });

  it("never auto-labels a hard rendering as the wrong known logo", () => {
    // Arrange
    const { model } = train({ images: labeled([...data.seed, ...hard.taught]), seed: 1 });

    // Act
    const wrong = hard.probes.filter((i) => {
      const top = scoreImage(model, i.pixels)[0];
      return top !== undefined && top.label !== i.label && top.confidence >= DEFAULT_THRESHOLD;
    });

    // Assert
    expect(wrong.map((i) => i.name)).toEqual([]);
  });
});

describe("splitStratified", () => {
  it("holds out a share of every label and keeps at least one training image per label", () => {
    // Arrange
    const images = [
      ...Array.from({ length: 10 }, (_, i) => ({ label: "a", id: i })),
      ...Array.from({ length: 2 }, (_, i) => ({ label: "b", id: 10 + i })),
      { label: "c", id: 12 },
    ];

    // Act
    const split = splitStratified(images, 0.2, 4);
    const again = splitStratified(images, 0.2, 4);

    // Assert
    expect(split.test.filter((i) => i.label === "a")).toHaveLength(2);
    expect(split.test.filter((i) => i.label === "b")).toHaveLength(1);
    expect(split.test.filter((i) => i.label === "c")).toHaveLength(0);
    expect(split.train.length + split.test.length).toBe(images.length);
    expect(again).toEqual(split);
  });

  it("rejects a test fraction outside [0, 1)", () => {
    // Act / Assert
    expect(() => splitStratified([{ label: "a" }], 1, 1)).toThrow(TrainingDataError);
    expect(() => splitStratified([{ label: "a" }], -0.1, 1)).toThrow(TrainingDataError);
  });
});

describe("extractFeatures", () => {
  it("returns a fixed-length vector and rejects pixel data of the wrong size", () => {
    // Arrange
    const image = data.seed[0];
    if (!image) throw new Error("no images");

    // Act
    const features = extractFeatures(image.pixels);

    // Assert
    expect(features).toHaveLength(FEATURE_LENGTH);
    expect(features.every(Number.isFinite)).toBe(true);
    expect(() => extractFeatures({ width: 4, height: 4, data: new Uint8Array(10) })).toThrow(PixelDataError);
  });
});
