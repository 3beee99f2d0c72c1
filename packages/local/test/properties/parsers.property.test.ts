/**
 * Property-based tests for the request parsers and readers every entry point relies on: S3 key ↔
 * file mapping, event key encoding, aws-chunked body decoding, Liquid escaping of worker templates,
 * the Ground Truth manifest reader, and ASL path processing.
 */
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import fc from "fast-check";
import { JSONPath } from "jsonpath-plus";
import { describe, expect, it } from "vitest";
import { renderTaskTemplate } from "../../src/a2i/template";
import { ServiceError } from "../../src/edge/protocol";
import { classificationLine, ManifestValidationError, parseManifest } from "../../src/rekognition/manifest";
import { AwsChunkedDecoder } from "../../src/s3/body";
import { decodeSegment, encodeEventKey, encodeSegment, keyToSegments } from "../../src/s3/keys";
import type { StatesError } from "../../src/states/errors";
import { applyResultPath, readPath, selectPath } from "../../src/states/paths";

const RUNS = { numRuns: 300 };

/** Any Unicode text, including "/", ".", "..", "%", spaces and astral characters. */
const keyText = fc.string({ unit: "grapheme", minLength: 1, maxLength: 60 });
const segment = fc.oneof(
  fc.constantFrom("", ".", "..", "...", " ", "%", "%!", "a.", "a "),
  fc.string({ unit: "grapheme", maxLength: 30 }),
);

describe("S3 key ↔ file name mapping (protects: two keys never share one file, no key escapes its bucket)", () => {
  it("decodes every encoded segment back to the same segment", () => {
    // Arrange / Act / Assert
    fc.assert(
      fc.property(segment, (value) => {
        expect(decodeSegment(encodeSegment(value))).toBe(value);
      }),
      RUNS,
    );
  });

  it("never produces a file name that is empty, '.', '..' or contains a path separator", () => {
    fc.assert(
      fc.property(keyText, (key) => {
        // Act
        const { folders, name } = keyToSegments(key);

        // Assert
        for (const part of [...folders, name]) {
          expect(part).not.toBe("");
          expect(part).not.toBe(".");
          expect(part).not.toBe("..");
          expect(part).not.toMatch(/[/\\]/);
        }
      }),
      RUNS,
    );
  });

  it("maps two different keys to two different paths", () => {
    fc.assert(
      fc.property(keyText, keyText, (a, b) => {
        fc.pre(a !== b);
        // Act
        const pathOf = (key: string) => {
          const { folders, name } = keyToSegments(key);
          return [...folders, name].join("/");
        };

        // Assert
        expect(pathOf(a)).not.toBe(pathOf(b));
      }),
      RUNS,
    );
  });
});

describe("S3 event key encoding (protects: handlers decode the exact uploaded key)", () => {
  it("round-trips through the decoding the handlers apply (+ is a space, then URI-decode)", () => {
    fc.assert(
      fc.property(keyText, (key) => {
        // Act
        const encoded = encodeEventKey(key);

        // Assert
        expect(encoded).toMatch(/^[A-Za-z0-9\-_.~/+%]*$/);
        expect(decodeURIComponent(encoded.replace(/\+/g, " "))).toBe(key);
      }),
      RUNS,
    );
  });
});

/** Frames a body as aws-chunked with the given chunk sizes and optional trailers. */
function awsChunked(body: Buffer, sizes: number[], trailers: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  let index = 0;
  while (offset < body.length) {
    const size = Math.max(1, Math.min(sizes[index++ % sizes.length] ?? 1, body.length - offset));
    parts.push(Buffer.from(`${size.toString(16)};chunk-signature=${"0".repeat(64)}\r\n`));
    parts.push(body.subarray(offset, offset + size), Buffer.from("\r\n"));
    offset += size;
  }
  parts.push(Buffer.from(`0;chunk-signature=${"0".repeat(64)}\r\n`));
  for (const [name, value] of Object.entries(trailers)) parts.push(Buffer.from(`${name}:${value}\r\n`));
  parts.push(Buffer.from("\r\n"));
  return Buffer.concat(parts);
}

/** Feeds the framed bytes to the decoder in arbitrary network-sized pieces. */
async function decode(framed: Buffer, cuts: number[]) {
  const pieces: Buffer[] = [];
  let offset = 0;
  for (const cut of cuts) {
    if (offset >= framed.length) break;
    pieces.push(framed.subarray(offset, offset + cut));
    offset += cut;
  }
  if (offset < framed.length) pieces.push(framed.subarray(offset));
  const decoder = new AwsChunkedDecoder();
  const chunks: Buffer[] = [];
  decoder.on("data", (chunk: Buffer) => chunks.push(chunk));
  await new Promise<void>((resolve, reject) => {
    decoder.on("end", resolve);
    decoder.on("error", reject);
    Readable.from(pieces).pipe(decoder);
  });
  return { body: Buffer.concat(chunks), trailers: decoder.trailers };
}

describe("aws-chunked body decoding (protects: signed SDK uploads store exactly the bytes sent)", () => {
  it("yields the original bytes and trailers whatever the chunk sizes and network splits", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 4096 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 97 }), { maxLength: 40 }),
        fc.boolean(),
        async (bytes, sizes, cuts, withTrailer) => {
          // Arrange
          const body = Buffer.from(bytes);
          const trailers: Record<string, string> = withTrailer ? { "x-amz-checksum-crc32": "AAAAAA==" } : {};

          // Act
          const decoded = await decode(awsChunked(body, sizes, trailers), cuts);

          // Assert
          expect(decoded.body.equals(body)).toBe(true);
          expect(decoded.trailers).toEqual(trailers);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("rejects a body cut off anywhere before its final chunk with a named error", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 512 }), fc.nat(), async (bytes, at) => {
        // Arrange
        const framed = awsChunked(Buffer.from(bytes), [64], {});
        const cut = framed.subarray(0, at % (framed.length - 2));

        // Act
        const outcome = await decode(cut, []).then(
          () => "decoded",
          (error: unknown) => (error instanceof ServiceError ? error.code : String(error)),
        );

        // Assert
        expect(["IncompleteBody", "InvalidRequest"]).toContain(outcome);
      }),
      { numRuns: 150 },
    );
  });
});

describe("Liquid worker templates (protects: a reviewer never runs markup that came from task input)", () => {
  const grantReadAccess = (uri: string) => `/files/${encodeURIComponent(uri)}`;

  it("never emits a '<' from input through an autoescaped output", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 80 }).map((s) => `${s}<script>alert(1)</script><img src=x onerror=y>`),
        fc.string({ maxLength: 40 }),
        async (value, label) => {
          // Arrange
          const template = `<p>{{ task.input.value }}</p><p title="{{ task.input.label }}">{{ task.input.list | join: "," }}</p>`;

          // Act
          const rendered = await renderTaskTemplate(
            template,
            { value, label, list: [value, label] },
            { grantReadAccess },
          );

          // Assert
          const withoutTemplateTags = rendered
            .replaceAll("<p>", "")
            .replaceAll("</p>", "")
            .replace('<p title="', "");
          expect(withoutTemplateTags).not.toContain("<");
        },
      ),
      { numRuns: 200 },
    );
  });

  it("keeps to_json output free of a raw '<', and of a raw quote once escaped for an attribute", async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 3 }), async (value) => {
        // Arrange
        const input = { value, evil: "</crowd-x><script>x</script>\"'" };

        // Act
        const json = await renderTaskTemplate(`{{ task.input | to_json }}`, input, { grantReadAccess });
        const attribute = await renderTaskTemplate(`{{ task.input | to_json | escape }}`, input, {
          grantReadAccess,
        });

        // Assert
        expect(json).not.toContain("<");
        expect(attribute).not.toContain("<");
        expect(attribute).not.toContain('"');
      }),
      { numRuns: 200 },
    );
  });
});

const labelArb = fc.stringMatching(/^[a-z][a-z0-9_-]{0,15}$/);
const keyArb = fc.stringMatching(/^[a-z0-9][a-z0-9/_.-]{0,40}[a-z0-9]$/);

describe("the Ground Truth manifest reader (protects: training reads exactly the lines written)", () => {
  it("reads back every classification line it is given, with its label", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(keyArb, labelArb), { minLength: 2, maxLength: 30, selector: ([key]) => key }),
        (pairs) => {
          fc.pre(new Set(pairs.map(([, label]) => label)).size >= 2);
          // Arrange
          const lines = pairs.map(([key, label]) =>
            classificationLine({ bucket: "bucket-a", key, label, creationDate: "2026-01-01T00:00:00.000Z" }),
          );

          // Act
          const parsed = parseManifest(lines.join("\n"));

          // Assert
          expect(parsed.invalid).toEqual([]);
          expect(parsed.entries.map((e) => [e.key, e.labels[0]])).toEqual(pairs);
        },
      ),
      RUNS,
    );
  });

  it("either parses arbitrary text or refuses it with ManifestValidationError, never anything else", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 400 }),
          fc.array(fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v))),
        ),
        (input) => {
          // Arrange
          const textInput = Array.isArray(input) ? input.join("\n") : input;

          // Act
          let outcome: unknown;
          try {
            outcome = parseManifest(textInput);
          } catch (error) {
            outcome = error;
          }

          // Assert
          if (outcome instanceof Error) expect(outcome).toBeInstanceOf(ManifestValidationError);
          else expect((outcome as { entries: unknown[] }).entries.length).toBeGreaterThan(0);
        },
      ),
      RUNS,
    );
  });
});

const fieldName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,10}$/).filter((name) => name !== "__proto__");

/** True when a field on the way to the last one exists and is not a JSON object. */
function blockedAt(input: unknown, fields: string[]): boolean {
  let current: unknown = input;
  for (const field of fields.slice(0, -1)) {
    const next = (current as Record<string, unknown>)[field];
    if (next === undefined || !Object.hasOwn(current as object, field)) return false;
    if (next === null || typeof next !== "object" || Array.isArray(next)) return true;
    current = next;
  }
  return false;
}

describe("ASL path processing (protects: InputPath/ResultPath/OutputPath move data exactly)", () => {
  it("reads back through a path what ResultPath wrote at it, leaving the other fields alone", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fieldName, fc.jsonValue({ maxDepth: 2 })),
        fc.array(fieldName, { minLength: 1, maxLength: 3 }),
        fc.jsonValue({ maxDepth: 2 }),
        (input, fields, result) => {
          // Arrange
          const path = `$.${fields.join(".")}`;

          // Act
          let output: Record<string, unknown>;
          try {
            output = applyResultPath(structuredClone(input), path, result) as Record<string, unknown>;
          } catch (error) {
            // Assert: AWS refuses to write through a value that is not an object, and says so.
            expect((error as StatesError).error).toBe("States.ResultPathMatchFailure");
            expect(blockedAt(input, fields)).toBe(true);
            return;
          }

          // Assert
          expect(blockedAt(input, fields)).toBe(false);
          expect(readPath(output, path)).toEqual(result);
          const [first] = fields;
          for (const [name, value] of Object.entries(input)) {
            if (name !== first) expect(output[name]).toEqual(value);
          }
        },
      ),
      RUNS,
    );
  });

  it("reads every plain path as jsonpath-plus does, or refuses it as missing", () => {
    // Paths that mostly hit something: field names and indexes drawn from a small pool.
    const name = fc.constantFrom("a", "b", "c", "length", "0", "1");
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: "small" },
        fc.jsonValue({ maxDepth: 0 }),
        fc.dictionary(name, tie("node"), { maxKeys: 3 }),
        fc.array(tie("node"), { maxLength: 3 }),
      ),
    })).node;
    const step = fc.oneof(
      name.map((n) => (/^\d/.test(n) ? `[${n}]` : `.${n}`)),
      name.map((n) => `['${n}']`),
    );
    fc.assert(
      fc.property(value, fc.array(step, { minLength: 1, maxLength: 4 }), (data, steps) => {
        // Arrange
        const path = `$${steps.join("")}`;
        const expected =
          (JSONPath({ path, json: data as object, wrap: true }) as unknown[] | undefined) ?? [];

        // Act
        let actual: unknown;
        let refused: string | undefined;
        try {
          actual = readPath(data, path);
        } catch (error) {
          refused = (error as StatesError).error;
        }

        // Assert
        if (expected.length === 0) expect(refused).toBe("States.Runtime");
        else expect({ path, actual }).toEqual({ path, actual: expected[0] });
      }),
      RUNS,
    );
  });

  it("never changes the input it writes a result into", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fieldName, fc.jsonValue({ maxDepth: 3 })),
        fc.array(fieldName, { minLength: 1, maxLength: 3 }),
        fc.jsonValue({ maxDepth: 2 }),
        (input, fields, result) => {
          // Arrange
          const before = structuredClone(input);

          // Act
          try {
            applyResultPath(input, `$.${fields.join(".")}`, result);
          } catch {
            // Refusals are the test above's; here only the input matters.
          }

          // Assert
          expect(input).toEqual(before);
        },
      ),
      RUNS,
    );
  });

  it("selects the whole input for '$' and the result alone for ResultPath '$'", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), fc.jsonValue({ maxDepth: 3 }), (input, result) => {
        // Act / Assert
        expect(selectPath(input, "$")).toEqual(input);
        expect(applyResultPath(input, "$", result)).toEqual(result);
      }),
      RUNS,
    );
  });

  it("discards the result and keeps the input for ResultPath null", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), fc.jsonValue({ maxDepth: 3 }), (input, result) => {
        // Act / Assert
        expect(applyResultPath(input, null, result)).toEqual(input);
      }),
      RUNS,
    );
  });
});

describe("stream helpers", () => {
  it("decodes an empty aws-chunked body to no bytes", async () => {
    // Arrange
    const framed = awsChunked(Buffer.alloc(0), [1], {});
    const decoder = new AwsChunkedDecoder();

    // Act
    const decoded = await text(Readable.from([framed]).pipe(decoder));

    // Assert
    expect(decoded).toBe("");
  });
});
