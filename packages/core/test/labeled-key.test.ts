import { describe, expect, it } from "vitest";
import { InvalidKeyError, InvalidLoopNameError, LabeledKey, Prefixes } from "../src/index";

const loopName = "review-0123456789abcdef0123456789abcdef-0";
const uuid = "3f2c1d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f";

/** The folder and file a key lands in, checked the way a path resolver would see them. */
const partsOf = (key: string) => key.slice(Prefixes.labeled.length).split("/");

describe("LabeledKey.build", () => {
  it("puts the image in its label folder with loop name, uuid and base name", () => {
    // Arrange
    const input = { label: "AWS", loopName, uuid, sourceKey: "images_for_detection/sub/logo.png" };

    // Act
    const key = LabeledKey.build(input);

    // Assert
    expect(key).toBe(`images_labeled_by_folder/AWS/${loopName}-${uuid}-logo.png`);
  });

  it.each(["../../etc", "a/../../b", "..\\..\\x", ".hidden", "a\u0000b\nc", "..foo"])(
    "keeps label %j inside one folder below the prefix",
    (label) => {
      // Arrange
      const input = { label, loopName, uuid, sourceKey: "images_for_detection/../x.png" };

      // Act
      const key = LabeledKey.build(input);

      // Assert
      const parts = partsOf(key);
      expect(key.startsWith(Prefixes.labeled)).toBe(true);
      expect(parts).toHaveLength(2);
      expect(parts.every((part) => part !== "" && !part.startsWith("."))).toBe(true);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting no control characters survive
      expect(key).not.toMatch(/[\u0000-\u001f\\]/);
    },
  );

  it("keeps HTML in a label as data inside its folder", () => {
    // Arrange
    const input = {
      label: "<script>alert(1)</script>",
      loopName,
      uuid,
      sourceKey: "images_for_detection/a.png",
    };

    // Act
    const key = LabeledKey.build(input);

    // Assert
    expect(partsOf(key)).toEqual(["<script>alert(1)<_script>", `${loopName}-${uuid}-a.png`]);
  });

  it.each(["", "..", "/", "\\\\", " . ", "  ..  ", "\u0000"])(
    "refuses label %j that sanitises to nothing",
    (label) => {
      // Arrange
      const input = { label, loopName, uuid, sourceKey: "images_for_detection/a.png" };

      // Act
      const build = () => LabeledKey.build(input);

      // Assert
      expect(build).toThrow(InvalidKeyError);
    },
  );

  it("refuses an invalid loop name and a malformed uuid", () => {
    // Arrange
    const badLoop = { label: "AWS", loopName: "../x", uuid, sourceKey: "k.png" };
    const badUuid = { label: "AWS", loopName, uuid: "../../x", sourceKey: "k.png" };

    // Act
    const buildBadLoop = () => LabeledKey.build(badLoop);
    const buildBadUuid = () => LabeledKey.build(badUuid);

    // Assert
    expect(buildBadLoop).toThrow(InvalidLoopNameError);
    expect(buildBadUuid).toThrow(InvalidKeyError);
  });

  it("names a source key ending in a separator 'image'", () => {
    // Arrange
    const input = { label: "AWS", loopName, uuid, sourceKey: "images_for_detection/.." };

    // Act
    const key = LabeledKey.build(input);

    // Assert
    expect(key.endsWith(`${uuid}-image`)).toBe(true);
  });
});

describe("LabeledKey.uuidFor", () => {
  it("derives the same valid uuid for the same loop and image, so a retried copy overwrites", () => {
    // Arrange
    const sourceKey = "images_for_detection/a.png";

    // Act
    const first = LabeledKey.uuidFor(loopName, sourceKey);
    const again = LabeledKey.uuidFor(loopName, sourceKey);
    const other = LabeledKey.uuidFor(loopName, "images_for_detection/b.png");

    // Assert
    expect(first).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(again).toBe(first);
    expect(other).not.toBe(first);
  });
});

describe("LabeledKey.negative", () => {
  it("puts a None of the Above image directly under the negatives prefix, outside every label folder", () => {
    // Arrange
    const input = { loopName, uuid, sourceKey: "images_for_detection/sub/../cat.png" };

    // Act
    const key = LabeledKey.negative(input);

    // Assert
    expect(key).toBe(`${Prefixes.negatives}${loopName}-${uuid}-cat.png`);
    expect(key.startsWith(Prefixes.labeled)).toBe(false);
  });

  it("refuses an invalid loop name and a malformed uuid", () => {
    // Arrange
    const badLoop = { loopName: "../x", uuid, sourceKey: "k.png" };
    const badUuid = { loopName, uuid: "../../x", sourceKey: "k.png" };

    // Act
    const buildBadLoop = () => LabeledKey.negative(badLoop);
    const buildBadUuid = () => LabeledKey.negative(badUuid);

    // Assert
    expect(buildBadLoop).toThrow(InvalidLoopNameError);
    expect(buildBadUuid).toThrow(InvalidKeyError);
  });
});
