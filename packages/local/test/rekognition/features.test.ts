import { describe, expect, it } from "vitest";
import { extractFeatures, FEATURE_GROUPS, FEATURE_LENGTH, type Pixels } from "../../src/rekognition/features";

type Rgb = [number, number, number];

/** A 64×64 image of one background colour with a shape painted where `inside(dx, dy)` holds (offsets from the centre). */
function paint(
  background: Rgb,
  colour: Rgb,
  inside: (dx: number, dy: number) => boolean,
  centre = 32,
): Pixels {
  const size = 64;
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const [r, g, b] = inside(x - centre, y - centre) ? colour : background;
      data.set([r, g, b], (y * size + x) * 3);
    }
  }
  return { width: size, height: size, data };
}

const square = (half: number) => (dx: number, dy: number) => Math.abs(dx) <= half && Math.abs(dy) <= half;
/** The same square turned by 45°. */
const diamond = (half: number) => (dx: number, dy: number) =>
  Math.abs(dx) + Math.abs(dy) <= half * Math.SQRT2;
const disc = (radius: number) => (dx: number, dy: number) => dx * dx + dy * dy <= radius * radius;

function groupDistance(a: number[], b: number[], group: keyof typeof FEATURE_GROUPS): number {
  const [start, end] = FEATURE_GROUPS[group];
  let sum = 0;
  for (let j = start; j < end; j++) sum += ((a[j] ?? 0) - (b[j] ?? 0)) ** 2;
  return Math.sqrt(sum);
}

const RED: Rgb = [214, 40, 40];
const BLUE: Rgb = [40, 80, 200];
const GREEN: Rgb = [60, 160, 70];
const PALE: Rgb = [240, 236, 228];

describe("extractFeatures", () => {
  it("lays its groups out back to back over the whole vector", () => {
    // Arrange
    const groups = Object.values(FEATURE_GROUPS);

    // Act
    const covered = groups.reduce((sum, [start, end]) => sum + (end - start), 0);

    // Assert
    expect(groups[0]?.[0]).toBe(0);
    expect(groups.at(-1)?.[1]).toBe(FEATURE_LENGTH);
    expect(covered).toBe(FEATURE_LENGTH);
  });

  it("describes a logo's colours the same on a busy background as on a pale one", () => {
    // Arrange
    const onPale = extractFeatures(paint(PALE, RED, square(12)));
    const onBlue = extractFeatures(paint(BLUE, RED, square(12)));
    const greenLogo = extractFeatures(paint(PALE, GREEN, square(12)));

    // Act
    const sameLogo = groupDistance(onPale, onBlue, "logoColour");
    const otherLogo = groupDistance(onPale, greenLogo, "logoColour");

    // Assert
    expect(sameLogo).toBeLessThan(0.05);
    expect(otherLogo).toBeGreaterThan(1);
  });

  it("describes a silhouette the same when it is turned or moved, and a different shape differently", () => {
    // Arrange
    const upright = extractFeatures(paint(PALE, RED, square(14)));
    const turned = extractFeatures(paint(PALE, RED, diamond(14), 26));
    const round = extractFeatures(paint(PALE, RED, disc(14)));

    // Act
    const sameShape = groupDistance(upright, turned, "silhouette");
    const otherShape = groupDistance(upright, round, "silhouette");

    // Assert
    expect(sameShape).toBeLessThan(otherShape / 3);
  });

  it("still describes an image in which nothing stands out from the background", () => {
    // Arrange
    const blank = paint(PALE, PALE, () => false);

    // Act
    const features = extractFeatures(blank);

    // Assert
    expect(features).toHaveLength(FEATURE_LENGTH);
    expect(features.every(Number.isFinite)).toBe(true);
  });
});
