import { describe, expect, it } from "vitest";
import {
  CLASSIFICATION_TYPE,
  classificationLine,
  DETECTION_TYPE,
  ManifestValidationError,
  parseManifest,
  parseS3Uri,
} from "../../src/rekognition/manifest";

const line = (label: string, key = `img/${label}.png`, bucket = "data") =>
  classificationLine({ bucket, key, label, creationDate: "2026-01-02T03:04:05.000" });

const detectionLine = (overrides: Record<string, unknown> = {}) =>
  JSON.stringify({
    "source-ref": "s3://data/img/echo.png",
    "bounding-box": {
      image_size: [{ width: 640, height: 480, depth: 3 }],
      annotations: [
        { class_id: 1, top: 251, left: 399, width: 155, height: 101 },
        { class_id: 0, top: 65, left: 86, width: 220, height: 334 },
      ],
    },
    "bounding-box-metadata": {
      objects: [{ confidence: 1 }, { confidence: 1 }],
      "class-map": { "0": "Echo", "1": "Echo Dot" },
      type: DETECTION_TYPE,
      "human-annotated": "yes",
      "creation-date": "2013-11-18T02:53:27",
      "job-name": "my job",
    },
    ...overrides,
  });

describe("parseManifest", () => {
  it("accepts classification lines with every required metadata field", () => {
    // Arrange
    const text = [line("Acme"), line("Globex"), ""].join("\n");

    // Act
    const manifest = parseManifest(text);

    // Assert
    expect(manifest.type).toBe("classification");
    expect(manifest.labels).toEqual(["Acme", "Globex"]);
    expect(manifest.entries.map((e) => [e.bucket, e.key, e.labels])).toEqual([
      ["data", "img/Acme.png", ["Acme"]],
      ["data", "img/Globex.png", ["Globex"]],
    ]);
    expect(manifest.invalid).toEqual([]);
  });

  it("writes lines in the exact Custom Labels classification shape", () => {
    // Act
    const parsed = JSON.parse(line("Acme")) as Record<string, Record<string, unknown>>;

    // Assert
    expect(parsed["source-ref"]).toBe("s3://data/img/Acme.png");
    expect(parsed.class).toBe(1);
    expect(parsed["class-metadata"]).toEqual({
      confidence: 1,
      "class-name": "Acme",
      "human-annotated": "yes",
      "creation-date": "2026-01-02T03:04:05.000",
      type: CLASSIFICATION_TYPE,
    });
  });

  it("accepts object-detection lines with aligned objects and a class map", () => {
    // Act
    const manifest = parseManifest(detectionLine());

    // Assert
    expect(manifest.type).toBe("detection");
    expect(manifest.labels).toEqual(["Echo", "Echo Dot"]);
    expect(manifest.entries[0]?.boxes).toEqual([
      { label: "Echo Dot", top: 251, left: 399, width: 155, height: 101 },
      { label: "Echo", top: 65, left: 86, width: 220, height: 334 },
    ]);
  });

  it.each([
    ["confidence above 1", { confidence: 1.5 }],
    ["a missing class-name", { "class-name": undefined }],
    ["human-annotated other than yes/no", { "human-annotated": "maybe" }],
    ["a creation-date that is not a date", { "creation-date": "yesterday" }],
    ["a missing creation-date", { "creation-date": undefined }],
  ])("marks a classification line with %s invalid", (_name, change) => {
    // Arrange
    const bad = JSON.parse(line("Acme", "img/bad.png")) as Record<string, Record<string, unknown>>;
    bad["class-metadata"] = { ...bad["class-metadata"], ...change };
    const good = Array.from({ length: 8 }, (_, i) => line(i % 2 ? "Acme" : "Globex", `img/${i}.png`));

    // Act
    const manifest = parseManifest([...good, JSON.stringify(bad)].join("\n"));

    // Assert
    expect(manifest.entries).toHaveLength(8);
    expect(manifest.invalid).toHaveLength(1);
    expect(manifest.invalid[0]?.line).toBe(9);
  });

  it.each([
    ["objects not aligned with annotations", { objects: [{ confidence: 1 }] }],
    ["a class_id missing from the class map", { "class-map": { "0": "Echo" } }],
    ["a missing type", { type: undefined }],
  ])("marks a detection line with %s invalid", (_name, change) => {
    // Arrange
    const bad = JSON.parse(detectionLine()) as Record<string, Record<string, unknown>>;
    bad["bounding-box-metadata"] = { ...bad["bounding-box-metadata"], ...change };
    const good = Array.from({ length: 5 }, () => detectionLine());

    // Act
    const manifest = parseManifest([...good, JSON.stringify(bad)].join("\n"));

    // Assert
    expect(manifest.invalid).toHaveLength(1);
  });

  it("marks a detection line whose image_size is not a one-element array invalid", () => {
    // Arrange
    const bad = JSON.parse(detectionLine()) as Record<string, Record<string, unknown>>;
    bad["bounding-box"] = { ...bad["bounding-box"], image_size: [] };

    // Act
    const manifest = parseManifest(
      [...Array.from({ length: 5 }, () => detectionLine()), JSON.stringify(bad)].join("\n"),
    );

    // Assert
    expect(manifest.invalid[0]?.reason).toContain("bounding-box");
  });

  it("rejects a classification manifest with fewer than two labels", () => {
    // Arrange
    const text = [line("Acme", "a.png"), line("Acme", "b.png")].join("\n");

    // Act / Assert
    expect(() => parseManifest(text)).toThrow(ManifestValidationError);
    expect(() => parseManifest(text)).toThrow(/at least 2 labels/);
  });

  it("rejects images spread over several buckets", () => {
    // Arrange
    const text = [line("Acme", "a.png", "bucket-one"), line("Globex", "b.png", "bucket-two")].join("\n");

    // Act / Assert
    expect(() => parseManifest(text)).toThrow(/same S3 bucket/);
  });

  it("rejects a manifest with more than 20 % invalid lines", () => {
    // Arrange
    const text = [line("Acme", "a.png"), line("Globex", "b.png"), "not json", line("Acme", "c.png")].join(
      "\n",
    );

    // Act / Assert
    expect(() => parseManifest(text)).toThrow(/more than 20 %/);
  });

  it("rejects an empty manifest and one mixing classification and detection", () => {
    // Arrange
    const mixed = [
      line("Acme", "a.png"),
      line("Globex", "b.png"),
      ...Array.from({ length: 3 }, () => detectionLine()),
    ];

    // Act / Assert
    expect(() => parseManifest("\n\n")).toThrow(/empty/);
    expect(() => parseManifest(mixed.join("\n"))).toThrow(/mixes/);
  });

  it.each([
    ["a line that is not JSON", "{nope"],
    ["a JSON array", "[1,2]"],
    ["a line without source-ref", JSON.stringify({ class: 1 })],
    ["a source-ref that is not an s3 URI", JSON.stringify({ "source-ref": "https://x/y.png" })],
    ["a line without any label attribute", JSON.stringify({ "source-ref": "s3://data/x.png" })],
  ])("explains why %s is invalid", (_name, bad) => {
    // Arrange
    const good = Array.from({ length: 8 }, (_, i) => line(i % 2 ? "Acme" : "Globex", `img/${i}.png`));

    // Act
    const manifest = parseManifest([bad, ...good].join("\n"));

    // Assert
    expect(manifest.invalid).toEqual([{ line: 1, reason: expect.any(String) }]);
    expect(manifest.invalid[0]?.reason.length).toBeGreaterThan(5);
  });
});

describe("parseS3Uri", () => {
  it("splits bucket and key and refuses other schemes", () => {
    // Act / Assert
    expect(parseS3Uri("s3://my-bucket/a/b.png")).toEqual({ bucket: "my-bucket", key: "a/b.png" });
    expect(parseS3Uri("s3://my-bucket/")).toBeUndefined();
    expect(parseS3Uri("https://my-bucket/a.png")).toBeUndefined();
  });
});
