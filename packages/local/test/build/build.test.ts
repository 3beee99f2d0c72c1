import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildBundles, DIST, isStale } from "../../build.mjs";

const run = promisify(execFile);
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "secondlook-build-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the local cloud's bundle (protects: npm start runs current code, without a TypeScript loader)", () => {
  it("rebuilds only when a source the last build read has changed or an output is missing", async () => {
    // Arrange
    await writeFile(join(dir, "main.ts"), 'import { greeting } from "./greeting";\nconsole.log(greeting);\n');
    await writeFile(join(dir, "greeting.ts"), 'export const greeting: string = "hello";\n');
    const entries = { main: join(dir, "main.ts") };
    const outdir = join(dir, "out");
    const staleBefore = isStale(outdir, entries);
    await buildBundles({ entries, outdir });
    const staleAfterBuild = isStale(outdir, entries);

    // Act
    const later = new Date(Date.now() + 5_000);
    await utimes(join(dir, "greeting.ts"), later, later);
    const staleAfterEdit = isStale(outdir, entries);
    await buildBundles({ entries, outdir });
    const { stdout } = await run(process.execPath, [join(outdir, "main.mjs")]);
    await rm(join(outdir, "main.mjs"));
    const staleWithoutOutput = isStale(outdir, entries);

    // Assert
    expect([staleBefore, staleAfterBuild, staleAfterEdit, staleWithoutOutput]).toEqual([
      true,
      false,
      true,
      true,
    ]);
    expect(stdout.trim()).toBe("hello");
  });

  it("leaves dependencies external and needs no TypeScript loader to run", async () => {
    // Arrange: the global setup built dist/ the way the npm bin does.
    const cli = join(DIST, "secondlook.mjs");

    // Act
    const { stdout } = await run(process.execPath, [cli, "--help"], {
      env: { ...process.env, NODE_OPTIONS: "" },
    });
    const text = await readFile(cli, "utf8");

    // Assert
    expect(stdout).toContain("Usage: secondlook");
    expect(text).toMatch(/from "commander"/);
    expect(text).not.toMatch(/\btsx\b/);
  });
});
