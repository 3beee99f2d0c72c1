/** What `secondlook run` reads from a folder or a manifest, and how it refuses bad input. */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InvalidInputPathError, ManifestError } from "../../src/cli/errors";
import { readRunInput } from "../../src/cli/inputs";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "secondlook-cli-inputs-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function files(paths: string[]) {
  for (const path of paths) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), "x");
  }
}

describe("reading a folder", () => {
  it("takes every PNG and JPEG, in subfolders too, and names the files it leaves out", async () => {
    // Arrange
    await files(["b.png", "a/c.JPG", "a/d.jpeg", "notes.txt", ".hidden.png", ".git/x.png"]);

    // Act
    const input = await readRunInput(dir);

    // Assert
    expect(input.kind).toBe("folder");
    expect(input.items.map((item) => [item.name, item.contentType])).toEqual([
      ["a/c.JPG", "image/jpeg"],
      ["a/d.jpeg", "image/jpeg"],
      ["b.png", "image/png"],
    ]);
    expect(input.skipped).toEqual(["notes.txt"]);
  });

  it("refuses a folder without images", async () => {
    // Arrange
    await files(["notes.txt"]);

    // Act
    const error = await readRunInput(dir).catch((caught: Error) => caught);

    // Assert
    expect(error).toBeInstanceOf(InvalidInputPathError);
    expect((error as Error).message).toContain("has no PNG or JPEG images");
  });

  it("names a path that does not exist", async () => {
    // Act
    const error = await readRunInput(join(dir, "nope")).catch((caught: Error) => caught);

    // Assert
    expect(error).toBeInstanceOf(InvalidInputPathError);
    expect((error as Error).message).toMatch(/nope: no such folder or manifest file/);
  });
});

describe("reading a manifest", () => {
  it("reads Ground Truth JSON Lines: local paths relative to the manifest, and s3:// URIs", async () => {
    // Arrange
    await files(["images/one.png"]);
    await writeFile(
      join(dir, "batch.manifest"),
      [
        JSON.stringify({ "source-ref": "images/one.png", "other-attribute": 1 }),
        "",
        JSON.stringify({ "source-ref": "s3://some-bucket/folder/two.jpg" }),
      ].join("\n"),
    );

    // Act
    const input = await readRunInput(join(dir, "batch.manifest"));

    // Assert
    expect(input.kind).toBe("manifest");
    expect(input.items).toEqual([
      {
        label: "images/one.png",
        name: "00001-one.png",
        source: { kind: "file", path: join(dir, "images/one.png") },
        contentType: "image/png",
      },
      {
        label: "s3://some-bucket/folder/two.jpg",
        name: "00002-two.jpg",
        source: { kind: "s3", bucket: "some-bucket", key: "folder/two.jpg" },
        contentType: "image/jpeg",
      },
    ]);
  });

  it("reads a CSV with a source-ref column", async () => {
    // Arrange
    await files(["one.png"]);
    await writeFile(join(dir, "batch.csv"), 'id,source-ref\n1,one.png\n2,"s3://b/k with, comma.png"\n');

    // Act
    const input = await readRunInput(join(dir, "batch.csv"));

    // Assert
    expect(input.items.map((item) => item.label)).toEqual(["one.png", "s3://b/k with, comma.png"]);
  });

  it("reads a JSON array of strings or objects", async () => {
    // Arrange
    await files(["one.png", "two.png"]);
    await writeFile(join(dir, "batch.json"), JSON.stringify(["one.png", { "source-ref": "two.png" }]));

    // Act
    const input = await readRunInput(join(dir, "batch.json"));

    // Assert
    expect(input.items.map((item) => item.name)).toEqual(["00001-one.png", "00002-two.png"]);
  });

  it("names the line that is not JSON", async () => {
    // Arrange
    await writeFile(join(dir, "bad.manifest"), '{"source-ref":"s3://b/a.png"}\nnot json\n');

    // Act
    const error = await readRunInput(join(dir, "bad.manifest")).catch((caught: Error) => caught);

    // Assert
    expect(error).toBeInstanceOf(ManifestError);
    expect((error as Error).message).toMatch(/bad\.manifest line 2 is not a JSON object/);
  });

  it("names the item without a source-ref", async () => {
    // Arrange
    await writeFile(join(dir, "bad.json"), JSON.stringify([{ "source-ref": "s3://b/a.png" }, { ref: "x" }]));

    // Act
    const error = await readRunInput(join(dir, "bad.json")).catch((caught: Error) => caught);

    // Assert
    expect(error).toBeInstanceOf(ManifestError);
    expect((error as Error).message).toMatch(/bad\.json item 2 has no source-ref/);
  });

  it("refuses a CSV without a source-ref column, listing the columns it has", async () => {
    // Arrange
    await writeFile(join(dir, "bad.csv"), "path,label\na.png,x\n");

    // Act
    const error = await readRunInput(join(dir, "bad.csv")).catch((caught: Error) => caught);

    // Assert
    expect(error).toBeInstanceOf(ManifestError);
    expect((error as Error).message).toContain(
      "needs a source-ref column in its header row (found path, label)",
    );
  });

  it("lists the image files that do not exist before anything is sent", async () => {
    // Arrange
    await files(["here.png"]);
    await writeFile(join(dir, "batch.json"), JSON.stringify(["here.png", "gone.png", "also-gone.jpg"]));

    // Act
    const error = await readRunInput(join(dir, "batch.json")).catch((caught: Error) => caught);

    // Assert
    expect(error).toBeInstanceOf(ManifestError);
    expect((error as Error).message).toMatch(
      /2 image file\(s\).*item 2: gone\.png; .*item 3: also-gone\.jpg/,
    );
  });

  it("refuses an item that is not a PNG or JPEG", async () => {
    // Arrange
    await files(["doc.pdf"]);
    await writeFile(join(dir, "batch.json"), JSON.stringify(["doc.pdf"]));

    // Act
    const error = await readRunInput(join(dir, "batch.json")).catch((caught: Error) => caught);

    // Assert
    expect(error).toBeInstanceOf(ManifestError);
    expect((error as Error).message).toContain("doc.pdf is not a PNG or JPEG file");
  });

  it("refuses an s3:// item that is not a PNG or JPEG", async () => {
    // Arrange
    await writeFile(join(dir, "batch.manifest"), JSON.stringify({ "source-ref": "s3://b/animation.gif" }));

    // Act
    const error = await readRunInput(join(dir, "batch.manifest")).catch((caught: Error) => caught);

    // Assert
    expect(error).toBeInstanceOf(ManifestError);
    expect((error as Error).message).toContain("line 1: s3://b/animation.gif is not a PNG or JPEG image");
  });

  it("refuses an empty manifest", async () => {
    // Arrange
    await writeFile(join(dir, "empty.manifest"), "\n\n");

    // Act
    const error = await readRunInput(join(dir, "empty.manifest")).catch((caught: Error) => caught);

    // Assert
    expect(error).toBeInstanceOf(ManifestError);
    expect((error as Error).message).toContain("lists no images");
  });
});
