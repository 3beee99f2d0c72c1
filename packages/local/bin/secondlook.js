#!/usr/bin/env node
// The npm bin: runs the TypeScript CLI through tsx, so there is no build step to forget.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const tsx = join(dirname(require.resolve("tsx/package.json")), "dist", "cli.mjs");
const main = join(dirname(fileURLToPath(import.meta.url)), "..", "src", "cli", "main.ts");
// libuv sizes its thread pool once, at first use, from UV_THREADPOOL_SIZE; its default of 4 threads
// is shared by history fdatasyncs, every local S3 file operation and sharp, and left the local cloud
// idle waiting for a thread (bench/perf.ts). glibc gives each thread that allocates its own malloc
// arenas, and sharp's buffers spread over 16 threads' arenas raised peak RSS; two arenas keep it
// flat. Both are read only at startup, so the child gets them unless the user chose otherwise.
const env = {
  ...process.env,
  UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE || "16",
  MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX || "2",
};
const result = spawnSync(process.execPath, [tsx, main, ...process.argv.slice(2)], { stdio: "inherit", env });
process.exit(result.status ?? 1);
