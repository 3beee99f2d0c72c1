import { describe, expect, it } from "vitest";
import { generateDemoDataset } from "../../src/demo/dataset";
import { decodeImage, UnsupportedImageFormatError } from "../../src/rekognition/decode";
import { scoreImage } from "../../src/rekognition/detector";
import { trainFromImages } from "../../src/rekognition/training";

describe("trainFromImages", () => {
  it("trains from encoded images and recognises a held-out one", async () => {
    // Arrange
    const data = await generateDemoDataset({ seed: 8, perClass: 10, inferencePerClass: 1, hardPerClass: 0 });
    const probe = data.inference.find((i) => i.known);
    if (!probe) throw new Error("no known inference image");

    // Act
    const { model, evaluation } = await trainFromImages({
      images: data.seed.map((i) => ({ label: i.label, body: i.body })),
      negatives: data.negatives.map((n) => n.body),
      seed: 8,
    });
    const top = scoreImage(model, await decodeImage(probe.body))[0];

    // Assert
    expect(evaluation.testingImages).toBe(10);
    expect(model.rejects.length).toBe(data.negatives.length);
    expect(top?.label).toBe(probe.label);
  });

  it("refuses a training image that is not a PNG or JPEG", async () => {
    // Act
    const attempt = trainFromImages({
      images: [
        { label: "a", body: Buffer.from("not an image") },
        { label: "b", body: Buffer.from("also not") },
      ],
      seed: 1,
    });

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(UnsupportedImageFormatError);
  });
});
