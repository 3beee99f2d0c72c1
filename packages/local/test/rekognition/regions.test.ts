import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { generateDemoDataset } from "../../src/demo/dataset";
import { decodeImage, decodeRegion, ImageDimensionsError } from "../../src/rekognition/decode";
import { GRID_SIZE } from "../../src/rekognition/features";
import { intersectionOverUnion, proposeRegions } from "../../src/rekognition/regions";

describe("proposeRegions", () => {
  it("finds the logo's box in at least 90 % of normal demo images", async () => {
    // Arrange
    const data = await generateDemoDataset({ seed: 4, perClass: 6, inferencePerClass: 0, hardPerClass: 0 });

    // Act
    const overlaps = await Promise.all(
      data.seed.map(async (image) => {
        const regions = proposeRegions(await decodeImage(image.body));
        const truth = {
          left: image.box.left / image.width,
          top: image.box.top / image.height,
          width: image.box.width / image.width,
          height: image.box.height / image.height,
        };
        return Math.max(...regions.map((r) => intersectionOverUnion(r, truth)));
      }),
    );

    // Assert
    expect(overlaps.filter((o) => o > 0.5).length / overlaps.length).toBeGreaterThanOrEqual(0.9);
  });

  it("proposes the whole image when nothing differs from the background", async () => {
    // Arrange
    const blank = await sharp({ create: { width: 100, height: 80, channels: 3, background: "#eeeeee" } })
      .png()
      .toBuffer();

    // Act
    const regions = proposeRegions(await decodeImage(blank));

    // Assert
    expect(regions).toEqual([{ left: 0, top: 0, width: 1, height: 1 }]);
  });

  it("separates two objects, largest first", async () => {
    // Arrange
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100"><rect width="200" height="100" fill="#fff"/><rect x="10" y="10" width="60" height="60" fill="#c00"/><rect x="130" y="40" width="40" height="40" fill="#00c"/></svg>`;
    const body = await sharp(Buffer.from(svg)).png().toBuffer();

    // Act
    const regions = proposeRegions(await decodeImage(body));

    // Assert
    const [first, second] = regions;
    if (!first || !second) throw new Error(`expected two regions, got ${regions.length}`);
    expect(regions).toHaveLength(2);
    expect(intersectionOverUnion(first, { left: 0.05, top: 0.1, width: 0.3, height: 0.6 })).toBeGreaterThan(
      0.6,
    );
    expect(intersectionOverUnion(second, { left: 0.65, top: 0.4, width: 0.2, height: 0.4 })).toBeGreaterThan(
      0.6,
    );
  });
});

describe("intersectionOverUnion", () => {
  it("is 1 for identical boxes, 0 for disjoint ones and partial in between", () => {
    // Arrange
    const a = { left: 0, top: 0, width: 0.5, height: 0.5 };

    // Act / Assert
    expect(intersectionOverUnion(a, a)).toBe(1);
    expect(intersectionOverUnion(a, { left: 0.6, top: 0.6, width: 0.2, height: 0.2 })).toBe(0);
    expect(intersectionOverUnion(a, { left: 0.25, top: 0, width: 0.5, height: 0.5 })).toBeCloseTo(1 / 3);
  });
});

describe("decodeRegion", () => {
  it("decodes a clamped crop to the grid and refuses an empty region", async () => {
    // Arrange
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><rect width="100" height="100" fill="#fff"/><rect x="50" y="0" width="50" height="100" fill="#00f"/></svg>`;
    const body = await sharp(Buffer.from(svg)).png().toBuffer();

    // Act
    const right = await decodeRegion(body, { left: 60, top: 10, width: 100, height: 50 });

    // Assert
    expect(right.width).toBe(GRID_SIZE);
    expect([right.data[0], right.data[1], right.data[2]]).toEqual([0, 0, 255]);
    await expect(decodeRegion(body, { left: 0, top: 0, width: 0, height: 10 })).rejects.toBeInstanceOf(
      ImageDimensionsError,
    );
  });
});
