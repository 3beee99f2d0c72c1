import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { Functions } from "@secondlook/core/blueprint";
import { describe, expect, it } from "vitest";
import { HANDLER_MODULES } from "../../src/lambda/handlers";
import { REPO_ROOT } from "../../src/paths";

describe("the handler modules the local Lambda loads (protects: every function is in the bundle)", () => {
  it("names exactly the handlers of packages/functions and of the blueprint", async () => {
    // Arrange
    const files = (await readdir(join(REPO_ROOT, "packages", "functions", "src", "handlers")))
      .filter((file) => file.endsWith(".ts"))
      .map((file) => file.replace(/\.ts$/, ""));
    const declared = Object.values(Functions).map((fn) => fn.handler);

    // Act
    const listed = Object.keys(HANDLER_MODULES);

    // Assert
    expect(listed.sort()).toEqual(files.sort());
    expect([...new Set(declared)].sort()).toEqual(listed.sort());
  });

  it("loads a module exporting a handler function for each", async () => {
    // Act
    const modules = await Promise.all(Object.values(HANDLER_MODULES).map((load) => load()));

    // Assert
    for (const module of modules) expect(typeof module.handler).toBe("function");
  });
});
