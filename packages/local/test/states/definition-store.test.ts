import { readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DefinitionStore, MissingDefinitionError } from "../../src/states/definition-store";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "secondlook-definitions-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const text = JSON.stringify({ StartAt: "P", States: { P: { Type: "Pass", End: true } } });

describe("the definition store", () => {
  it("stores a text once under its hash and reads it back in a new process", () => {
    // Arrange
    const store = new DefinitionStore(dir);

    // Act
    const hash = store.put(text);
    const again = store.put(text);
    const reread = new DefinitionStore(dir).get(hash);

    // Assert
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(again).toBe(hash);
    expect(reread).toBe(text);
    expect(readdirSync(dir)).toEqual([`${hash}.json`]);
  });

  it("refuses a hash it does not hold with MissingDefinitionError", () => {
    // Arrange
    const store = new DefinitionStore(dir);

    // Act / Assert
    expect(() => store.get("0".repeat(64))).toThrow(MissingDefinitionError);
    expect(() => store.get("../state-machines")).toThrow(/is missing from the definitions folder/);
  });
});
