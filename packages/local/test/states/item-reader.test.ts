/**
 * ItemReader with `InputType: JSON`: a top-level array (or the one `ItemsPointer` names) is parsed
 * element by element from the object's byte stream, so a 100,000-item manifest is never held whole.
 */
import { describe, expect, it } from "vitest";
import { StatesError } from "../../src/states/errors";
import { readItems } from "../../src/states/item-reader";
import { memoryObjects } from "./memory-objects";

const ITEMS = 100_000;
const CHUNK_ITEMS = 500;

/** A JSON array of `ITEMS` objects served in chunks, counting the bytes handed out so far. */
function chunkedArray(prefix = "", suffix = "") {
  const state = { served: 0, total: 0 };
  const chunks: Buffer[] = [Buffer.from(`${prefix}[`)];
  for (let from = 0; from < ITEMS; from += CHUNK_ITEMS) {
    const part = Array.from({ length: CHUNK_ITEMS }, (_, i) =>
      JSON.stringify({ n: from + i, key: `images/${from + i}.png` }),
    ).join(",");
    chunks.push(Buffer.from(`${from === 0 ? "" : ","}${part}`));
  }
  chunks.push(Buffer.from(`]${suffix}`));
  state.total = chunks.reduce((sum, c) => sum + c.length, 0);
  const objects = memoryObjects();
  objects.stream = async () =>
    (async function* () {
      for (const chunk of chunks) {
        state.served += chunk.length;
        yield chunk;
      }
    })();
  return { objects, state };
}

const reader = (config: Record<string, unknown>) => ({
  resource: "arn:aws:states:::s3:getObject",
  parameters: { Bucket: "data", Key: "manifest.json" },
  config: { InputType: "JSON", ...config },
});

async function collect(source: AsyncIterable<unknown>): Promise<unknown[]> {
  const items: unknown[] = [];
  for await (const item of source) items.push(item);
  return items;
}

async function failureOf(source: AsyncIterable<unknown>): Promise<StatesError> {
  try {
    await collect(source);
  } catch (error) {
    if (error instanceof StatesError) return error;
    throw error;
  }
  throw new Error("the reader did not fail");
}

describe("ItemReader JSON arrays are streamed", () => {
  it("yields the first of 100,000 items after reading only the start of the object", async () => {
    // Arrange
    const { objects, state } = chunkedArray();
    const items = readItems(objects, reader({}));

    // Act
    const first = await items.next();
    const servedAtFirst = state.served;
    await items.return(undefined);

    // Assert
    expect(first.value).toEqual({ n: 0, key: "images/0.png" });
    expect(servedAtFirst).toBeLessThan(state.total / 20);
  });

  it("reads all 100,000 items in order while holding only a bounded window of the object", async () => {
    // Arrange
    const { objects, state } = chunkedArray();
    let count = 0;
    let inOrder = true;
    let worstAhead = 0;
    const bytesPerItem = state.total / ITEMS;

    // Act
    for await (const item of readItems(objects, reader({}))) {
      if ((item as { n: number }).n !== count) inOrder = false;
      count++;
      worstAhead = Math.max(worstAhead, state.served / bytesPerItem - count);
    }

    // Assert
    expect(count).toBe(ITEMS);
    expect(inOrder).toBe(true);
    // Never more than a few chunks of items read ahead of the consumer, out of 100,000.
    expect(worstAhead).toBeLessThan(10 * CHUNK_ITEMS);
  }, 60_000);

  it("streams the array ItemsPointer names inside a larger document", async () => {
    // Arrange
    const { objects, state } = chunkedArray('{"meta":{"source":"batch"},"data":{"rows":', '},"tail":[1,2]}');
    const items = readItems(objects, reader({ ItemsPointer: "/data/rows", MaxItems: 3 }));

    // Act
    const read = await collect(items);

    // Assert
    expect(read).toEqual([
      { n: 0, key: "images/0.png" },
      { n: 1, key: "images/1.png" },
      { n: 2, key: "images/2.png" },
    ]);
    expect(state.served).toBeLessThan(state.total / 20);
  });

  it("follows escaped pointer segments and array indices", async () => {
    // Arrange
    const objects = memoryObjects({
      "data/manifest.json": JSON.stringify({ "a/b": [{ skip: true }, ["x", "y"]], "m~n": [1] }),
    });

    // Act
    const nested = await collect(readItems(objects, reader({ ItemsPointer: "/a~1b/1" })));
    const tilde = await collect(readItems(objects, reader({ ItemsPointer: "/m~0n" })));

    // Assert
    expect(nested).toEqual(["x", "y"]);
    expect(tilde).toEqual([1]);
  });
});

describe("ItemReader JSON errors", () => {
  it("fails with States.ItemReaderFailed when the document is not a JSON array", async () => {
    // Arrange
    const objects = memoryObjects({ "data/manifest.json": '{"rows":[1]}' });

    // Act
    const error = await failureOf(readItems(objects, reader({})));

    // Assert
    expect(error.error).toBe("States.ItemReaderFailed");
    expect(error.cause).toBe("s3://data/manifest.json must contain a JSON array");
  });

  it("fails naming the ItemsPointer when it selects something that is not an array", async () => {
    // Arrange
    const objects = memoryObjects({ "data/manifest.json": '{"rows":{"a":1}}' });

    // Act
    const error = await failureOf(readItems(objects, reader({ ItemsPointer: "/rows" })));

    // Assert
    expect(error.error).toBe("States.ItemReaderFailed");
    expect(error.cause).toBe("s3://data/manifest.json must contain a JSON array at /rows");
  });

  it("fails when the ItemsPointer does not exist in the document", async () => {
    // Arrange
    const objects = memoryObjects({ "data/manifest.json": '{"rows":[1,2]}' });

    // Act
    const error = await failureOf(readItems(objects, reader({ ItemsPointer: "/missing" })));

    // Assert
    expect(error.error).toBe("States.ItemReaderFailed");
    expect(error.cause).toBe("ItemsPointer /missing does not exist in s3://data/manifest.json");
  });

  it("fails on a truncated document after yielding the items before the damage", async () => {
    // Arrange
    const objects = memoryObjects({ "data/manifest.json": '[{"n":1},{"n":2},{"n":' });
    const seen: unknown[] = [];

    // Act
    const error = await failureOf(
      (async function* () {
        for await (const item of readItems(objects, reader({}))) {
          seen.push(item);
          yield item;
        }
      })(),
    );

    // Assert
    expect(error.error).toBe("States.ItemReaderFailed");
    expect(error.cause).toMatch(/^s3:\/\/data\/manifest\.json is not valid JSON: /);
    expect(seen).toEqual([{ n: 1 }, { n: 2 }]);
  });
});
