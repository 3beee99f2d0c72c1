import sharp from "sharp";
import { describe, expect, it } from "vitest";
import {
  decodeImage,
  ImageDimensionsError,
  sniffFormat,
  UnsupportedImageFormatError,
} from "../../src/rekognition/decode";
import { GRID_SIZE } from "../../src/rekognition/features";

async function solid(width: number, height: number, format: "png" | "jpeg" | "webp" | "gif") {
  return sharp({ create: { width, height, channels: 3, background: "#3366cc" } })
    .toFormat(format)
    .toBuffer();
}

describe("decodeImage", () => {
  it("decodes a PNG and a JPEG to the detector's RGB grid", async () => {
    // Arrange
    const png = await solid(120, 80, "png");
    const jpeg = await solid(80, 120, "jpeg");

    // Act
    const a = await decodeImage(png);
    const b = await decodeImage(jpeg);

    // Assert
    for (const decoded of [a, b]) {
      expect(decoded.width).toBe(GRID_SIZE);
      expect(decoded.height).toBe(GRID_SIZE);
      expect(decoded.data.length).toBe(GRID_SIZE * GRID_SIZE * 3);
    }
    expect(a.original).toEqual({ width: 120, height: 80 });
    expect([a.data[0], a.data[1], a.data[2]]).toEqual([0x33, 0x66, 0xcc]);
  });

  it("flattens a transparent PNG onto white", async () => {
    // Arrange
    const transparent = await sharp({
      create: { width: 64, height: 64, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    })
      .png()
      .toBuffer();

    // Act
    const decoded = await decodeImage(transparent);

    // Assert
    expect([decoded.data[0], decoded.data[1], decoded.data[2]]).toEqual([255, 255, 255]);
  });

  it.each([
    ["zero bytes", async () => Buffer.alloc(0)],
    ["a WebP image", async () => solid(100, 100, "webp")],
    ["a GIF image", async () => solid(100, 100, "gif")],
    ["plain text", async () => Buffer.from("definitely not an image")],
    [
      "a PNG signature followed by garbage",
      async () => Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.alloc(200, 7)]),
    ],
    [
      "a truncated PNG",
      async () => {
        const noisy = await sharp(
          Buffer.from(Array.from({ length: 200 * 200 * 3 }, (_, i) => (i * 7919) % 256)),
          {
            raw: { width: 200, height: 200, channels: 3 },
          },
        )
          .png()
          .toBuffer();
        return noisy.subarray(0, Math.floor(noisy.length / 2));
      },
    ],
    [
      "a truncated JPEG",
      async () => {
        const noisy = await sharp(
          Buffer.from(Array.from({ length: 200 * 200 * 3 }, (_, i) => (i * 7919) % 256)),
          {
            raw: { width: 200, height: 200, channels: 3 },
          },
        )
          .jpeg()
          .toBuffer();
        return noisy.subarray(0, Math.floor(noisy.length / 2));
      },
    ],
  ])("rejects %s as an unsupported image format", async (_name, make) => {
    // Arrange
    const body = await make();

    // Act
    const attempt = decodeImage(body);

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(UnsupportedImageFormatError);
  });

  it.each([
    ["smaller than 64×64", 63, 100],
    ["wider than 4096", 4097, 300],
    ["taller than 4096", 300, 4097],
    ["more elongated than 20:1", 64, 1300],
  ])("rejects an image %s", async (_name, width, height) => {
    // Arrange
    const body = await solid(width, height, "png");

    // Act
    const attempt = decodeImage(body);

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(ImageDimensionsError);
  });

  it("accepts the extreme sizes Custom Labels allows", async () => {
    // Arrange
    const smallest = await solid(64, 64, "png");
    const elongated = await solid(64, 1280, "png");

    // Act
    const results = await Promise.all([decodeImage(smallest), decodeImage(elongated)]);

    // Assert
    expect(results.map((r) => r.original)).toEqual([
      { width: 64, height: 64 },
      { width: 64, height: 1280 },
    ]);
  });

  it("recognises formats by their magic bytes", () => {
    // Act / Assert
    expect(sniffFormat(Buffer.from("89504e470d0a1a0a00", "hex"))).toBe("png");
    expect(sniffFormat(Buffer.from("ffd8ffe0", "hex"))).toBe("jpeg");
    expect(sniffFormat(Buffer.from("GIF89a"))).toBeUndefined();
  });
});
