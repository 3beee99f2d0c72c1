/**
 * `npm run bench`: runs every module in bench/ that exports `run()`, one after another, so each
 * benchmark can be added as its own file. `npm run bench -- engine perf` runs only those.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const dir = import.meta.dirname;
const only = process.argv.slice(2);
// Modules are picked by their text, not by importing them: a script that runs on import
// (bench/loop.ts has its own npm script) must not start here.
const EXPORTS_RUN = /export\s+(async\s+)?function\s+run\s*\(/;

const files: string[] = [];
for (const file of (await readdir(dir)).sort()) {
  if (!file.endsWith(".ts") || file === "run.ts") continue;
  if (only.length > 0 && !only.includes(file.replace(/\.ts$/, ""))) continue;
  if (EXPORTS_RUN.test(await readFile(join(dir, file), "utf8"))) files.push(file);
}
for (const file of files) {
  const module = (await import(pathToFileURL(join(dir, file)).href)) as { run: () => Promise<void> };
  console.log(`\n== bench/${file} ==`);
  await module.run();
}
