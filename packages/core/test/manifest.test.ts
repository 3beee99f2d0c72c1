import { describe, expect, it } from "vitest";
import {
  createManifestBuilder,
  InvalidManifestError,
  LABEL_ATTRIBUTE,
  labelOfKey,
  parseClassificationManifest,
} from "../src/manifest";

const createdAt = new Date("2026-11-21T10:00:00.123Z");

describe("Ground Truth classification manifests", () => {
  it("writes a Custom Labels classification line for a labeled image", () => {
    // Arrange
    const builder = createManifestBuilder("bucket");

    // Act
    const line = builder.add("images_labeled_by_folder/Acme/loop-1-uuid-a.png", createdAt);

    // Assert
    expect(JSON.parse(line ?? "")).toEqual({
      "source-ref": "s3://bucket/images_labeled_by_folder/Acme/loop-1-uuid-a.png",
      [LABEL_ATTRIBUTE]: 1,
      [`${LABEL_ATTRIBUTE}-metadata`]: {
        confidence: 1,
        "class-name": "Acme",
        "human-annotated": "yes",
        "creation-date": "2026-11-21T10:00:00.123",
        type: "groundtruth/image-classification",
      },
    });
  });

  it("labels only direct children of a label folder, like the labels-by-folder import", () => {
    expect(labelOfKey("images_labeled_by_folder/Acme/a.png")).toBe("Acme");
    expect(labelOfKey("images_labeled_by_folder/Acme/deeper/a.png")).toBeUndefined();
    expect(labelOfKey("images_labeled_by_folder/Acme/")).toBeUndefined();
    expect(labelOfKey("images_labeled_by_folder/a.png")).toBeUndefined();
    expect(labelOfKey("images_for_detection/Acme/a.png")).toBeUndefined();
  });

  it("refuses to finish a data set with fewer than two labels", () => {
    // Arrange
    const builder = createManifestBuilder("bucket");
    builder.add("images_labeled_by_folder/Acme/a.png", createdAt);
    builder.add("images_labeled_by_folder/Acme/b.png", createdAt);

    // Act / Assert
    expect(() => builder.finish()).toThrow(InvalidManifestError);
  });

  it("counts images per label when the data set is valid", () => {
    // Arrange
    const builder = createManifestBuilder("bucket");
    for (const key of ["Acme/a.png", "Acme/b.png", "Globex/c.png"]) {
      builder.add(`images_labeled_by_folder/${key}`, createdAt);
    }

    // Act
    const counts = builder.finish();

    // Assert
    expect(Object.fromEntries(counts)).toEqual({ Acme: 2, Globex: 1 });
  });

  it("parses what it writes and names the first bad line", () => {
    // Arrange
    const builder = createManifestBuilder("bucket");
    const good = builder.add("images_labeled_by_folder/Acme/a.png", createdAt) ?? "";
    const other = good.replace("s3://bucket/", "s3://elsewhere/");

    // Act / Assert
    expect(parseClassificationManifest(`${good}\n\n`)).toHaveLength(1);
    expect(() => parseClassificationManifest(`${good}\n{not json`)).toThrow(/Line 2 is not valid JSON/);
    expect(() => parseClassificationManifest(`${good}\n{"source-ref":"s3://bucket/x"}`)).toThrow(
      /Line 2 is not a classification line/,
    );
    expect(() => parseClassificationManifest(`${good}\n${other}`)).toThrow(/all images must be in bucket/);
  });
});
