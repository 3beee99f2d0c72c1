import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { generateDemoDataset } from "../../src/demo/dataset";
import { KNOWN_LOGOS, renderLogo, UNSEEN_LOGOS } from "../../src/demo/logos";
import { createRandom, deriveSeed, shuffled } from "../../src/demo/prng";

const small = { perClass: 3, inferencePerClass: 2, hardPerClass: 1, unseenPerClass: 2, negatives: 2 };

describe("demo data set", () => {
  it("renders the same bytes for the same seed", async () => {
    // Arrange
    const options = { seed: 11, ...small };

    // Act
    const first = await generateDemoDataset(options);
    const second = await generateDemoDataset(options);

    // Assert
    expect(first.seed.map((i) => i.name)).toEqual(second.seed.map((i) => i.name));
    first.seed.forEach((image, index) => {
      expect(image.body.equals(second.seed[index]?.body ?? Buffer.alloc(0))).toBe(true);
    });
    first.inference.forEach((image, index) => {
      expect(image.body.equals(second.inference[index]?.body ?? Buffer.alloc(0))).toBe(true);
    });
  });

  it("renders different images for a different seed", async () => {
    // Arrange
    const spec = KNOWN_LOGOS[0];
    if (!spec) throw new Error("no demo classes");

    // Act
    const a = await renderLogo(spec, "normal", 1);
    const b = await renderLogo(spec, "normal", 2);

    // Assert
    expect(a.body.equals(b.body)).toBe(false);
  });

  it("keeps every class of the seed set and never puts an unseen class in it", async () => {
    // Act
    const data = await generateDemoDataset({ seed: 3, ...small });

    // Assert
    const seedLabels = new Set(data.seed.map((i) => i.label));
    expect([...seedLabels].sort()).toEqual(KNOWN_LOGOS.map((l) => l.label).sort());
    for (const unseen of UNSEEN_LOGOS) expect(seedLabels.has(unseen.label)).toBe(false);
    const unseenInference = data.inference.filter((i) => !i.known);
    expect(unseenInference.length).toBe(UNSEEN_LOGOS.length * small.unseenPerClass);
    expect(data.inference.some((i) => i.variation === "hard")).toBe(true);
    expect(data.negatives.every((n) => !seedLabels.has(n.label))).toBe(true);
  });

  it("produces PNG and JPEG files that fit Custom Labels' image limits", async () => {
    // Act
    const data = await generateDemoDataset({ seed: 5, ...small });

    // Assert
    const formats = new Set<string>();
    for (const image of [...data.seed, ...data.inference, ...data.negatives]) {
      const meta = await sharp(image.body).metadata();
      formats.add(meta.format ?? "unknown");
      expect(meta.width).toBeGreaterThanOrEqual(64);
      expect(meta.height).toBeGreaterThanOrEqual(64);
      expect(Math.max(meta.width, meta.height) / Math.min(meta.width, meta.height)).toBeLessThanOrEqual(20);
      expect(image.name.endsWith(meta.format === "png" ? ".png" : ".jpg")).toBe(true);
    }
    expect([...formats].sort()).toEqual(["jpeg", "png"]);
  });
});

describe("seeded random source", () => {
  it("repeats its sequence for the same seed and differs for another", () => {
    // Arrange
    const a = createRandom(42);
    const b = createRandom(42);
    const c = createRandom(43);

    // Act
    const seqA = Array.from({ length: 5 }, () => a.next());
    const seqB = Array.from({ length: 5 }, () => b.next());
    const seqC = Array.from({ length: 5 }, () => c.next());

    // Assert
    expect(seqA).toEqual(seqB);
    expect(seqA).not.toEqual(seqC);
    for (const x of seqA) expect(x >= 0 && x < 1).toBe(true);
  });

  it("shuffles without losing or duplicating items and derives distinct seeds per salt", () => {
    // Arrange
    const items = Array.from({ length: 20 }, (_, i) => i);

    // Act
    const mixed = shuffled(items, createRandom(7));

    // Assert
    expect([...mixed].sort((x, y) => x - y)).toEqual(items);
    expect(mixed).not.toEqual(items);
    expect(deriveSeed(1, "a")).not.toBe(deriveSeed(1, "b"));
    expect(deriveSeed(1, "a")).toBe(deriveSeed(1, "a"));
  });

  it("refuses to pick from an empty list", () => {
    // Arrange
    const random = createRandom(1);

    // Act / Assert
    expect(() => random.pick([])).toThrow(RangeError);
  });
});
