#!/usr/bin/env node
// The npm bin: runs the TypeScript CLI through tsx, so there is no build step to forget.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const tsx = join(dirname(require.resolve("tsx/package.json")), "dist", "cli.mjs");
const main = join(dirname(fileURLToPath(import.meta.url)), "..", "src", "cli", "main.ts");
const result = spawnSync(process.execPath, [tsx, main, ...process.argv.slice(2)], { stdio: "inherit" });
process.exit(result.status ?? 1);
