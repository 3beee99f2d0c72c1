import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { generateDemoDataset } from "../../src/demo/dataset";
import { UnsupportedImageFormatError } from "../../src/rekognition/decode";
import { type DetectorModel, train } from "../../src/rekognition/detector";
import { inferLabels } from "../../src/rekognition/inference";
import { createDetectorPool, DetectorPoolClosedError, DetectorWorkerError } from "../../src/rekognition/pool";
import { decodedDemoDataset } from "./fixtures";

const MODEL = "arn:aws:rekognition:us-east-1:000000000000:project/logos/version/v1/1";
const crashing = new URL("./workers/crash-on-detect.mjs", import.meta.url);

let model: DetectorModel;
let images: Buffer[];

beforeAll(async () => {
  const data = await decodedDemoDataset(11, 6);
  ({ model } = train({ images: data.seed.map(({ label, pixels }) => ({ label, pixels })), seed: 11 }));
  images = (await generateDemoDataset({ seed: 12, perClass: 2 })).inference.map((image) => image.body);
});

describe("the detector worker pool (protects: DetectCustomLabels off the main thread, same answers)", () => {
  it("scores every image in a worker exactly as inference does on the main thread", async () => {
    // Arrange
    const pool = createDetectorPool({ size: 2 });
    pool.load(MODEL, model);

    try {
      // Act
      const inWorkers = await Promise.all(images.map((image) => pool.detect(MODEL, image)));
      const here = await Promise.all(images.map((image) => inferLabels(model, image)));

      // Assert
      expect(inWorkers).toEqual(here);
      expect(inWorkers.every((labels) => labels.length > 0)).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it("refuses a file that is not an image with the named error callers check for", async () => {
    // Arrange
    const pool = createDetectorPool({ size: 1 });
    pool.load(MODEL, model);

    try {
      // Act
      const refused = await pool.detect(MODEL, Buffer.from("not an image at all")).catch((e: Error) => e);

      // Assert
      expect(refused).toBeInstanceOf(UnsupportedImageFormatError);
    } finally {
      await pool.close();
    }
  });

  it("refuses an image for a model the workers do not hold, and stops scoring an unloaded one", async () => {
    // Arrange
    const pool = createDetectorPool({ size: 1 });
    pool.load(MODEL, model);
    const image = images[0] as Buffer;

    try {
      // Act
      const before = await pool.detect(MODEL, image);
      pool.unload(MODEL);
      const after = await pool.detect(MODEL, image).catch((e: Error) => e);

      // Assert
      expect(before.length).toBeGreaterThan(0);
      expect(after).toMatchObject({ name: "ModelNotLoadedError" });
    } finally {
      await pool.close();
    }
  });

  it("fails the image of a worker that dies with DetectorWorkerError, and replaces the worker", async () => {
    // Arrange: the first worker dies on its first image; its replacement is a real worker.
    const dir = await mkdtemp(join(tmpdir(), "secondlook-pool-"));
    process.env.SECONDLOOK_TEST_CRASH_MARKER = join(dir, "crashed");
    const pool = createDetectorPool({ size: 1, entry: crashing });
    pool.load(MODEL, model);
    const image = images[0] as Buffer;

    try {
      // Act
      const lost = await pool.detect(MODEL, image).catch((e: Error) => e);
      const next = await pool.detect(MODEL, image);

      // Assert
      expect(lost).toBeInstanceOf(DetectorWorkerError);
      expect((lost as Error).message).toMatch(/exit code 7.*not scored/);
      expect(next).toEqual(await inferLabels(model, image));
    } finally {
      await pool.close();
      delete process.env.SECONDLOOK_TEST_CRASH_MARKER;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("fails what is in flight and refuses new work once closed", async () => {
    // Arrange
    const pool = createDetectorPool({ size: 1 });
    pool.load(MODEL, model);
    const inFlight = pool.detect(MODEL, images[0] as Buffer).catch((e: Error) => e);

    // Act
    await pool.close();
    const late = await pool.detect(MODEL, images[0] as Buffer).catch((e: Error) => e);

    // Assert
    expect(await inFlight).toBeInstanceOf(DetectorPoolClosedError);
    expect(late).toBeInstanceOf(DetectorPoolClosedError);
    expect(() => pool.load(MODEL, model)).toThrow(DetectorPoolClosedError);
  });
});
