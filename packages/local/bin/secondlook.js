#!/usr/bin/env node
// The npm bin. It builds the local cloud into plain JavaScript when a source changed since the last
// build (build.mjs: a few file stats otherwise, so there is no build step to forget) and runs it in
// a child process with the settings below.
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { ensureBuilt } from "../build.mjs";

const main = await ensureBuilt();
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
const child = spawn(process.execPath, [main, ...process.argv.slice(2)], { stdio: "inherit", env });
// Ctrl-C in a terminal reaches both processes; a signal sent to this one alone (a process manager's
// SIGTERM, npm's) is passed on, and this process exits when the CLI has stopped, with its code.
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
