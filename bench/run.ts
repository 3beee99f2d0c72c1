/**
 * `npm run bench`: runs every module in bench/ that exports `run()`, one after another, each as the
 * local cloud runs under `npm start`: bundled into plain JavaScript (packages/local/build.mjs) and
 * started in a process of its own with the same process settings as the npm bin.
 * `npm run bench -- engine perf` runs only those.
 */
import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { buildBundles, runSettings, WORKER_ENTRIES } from "@secondlook/local/build.mjs";
import { REPO_ROOT } from "@secondlook/local/paths";

const dir = import.meta.dirname;
const BUILD = join(REPO_ROOT, ".build", "bench");
const only = process.argv.slice(2);
// Modules are picked by their text, not by importing them: a script that runs on import
// (bench/loop.ts has its own npm script) must not start here.
const EXPORTS_RUN = /export\s+(async\s+)?function\s+run\s*\(/;

/** The process settings packages/local/bin/secondlook.js gives the local cloud. */
const { execArgv, env } = runSettings();

const files: string[] = [];
for (const file of (await readdir(dir)).sort()) {
  if (!file.endsWith(".ts") || file === "run.ts") continue;
  if (only.length > 0 && !only.includes(file.replace(/\.ts$/, ""))) continue;
  if (EXPORTS_RUN.test(await readFile(join(dir, file), "utf8"))) files.push(file);
}
for (const file of files) {
  const name = file.replace(/\.ts$/, "");
  // The worker threads' modules go beside the benchmark, where the bundled cloud looks for them.
  await buildBundles({ entries: { [name]: join(dir, file), ...WORKER_ENTRIES }, outdir: BUILD });
  console.log(`\n== bench/${file} ==`);
  const child = spawn(process.execPath, [...execArgv, join(BUILD, `${name}.mjs`)], { stdio: "inherit", env });
  const code = await new Promise<number | null>((done, fail) => {
    child.on("error", fail);
    child.on("exit", done);
  });
  if (code !== 0) throw new Error(`bench/${file} exited with code ${code}`);
}
