#!/usr/bin/env node
// The npm bin. It builds the local cloud into plain JavaScript when a source changed since the last
// build (build.mjs: a few file stats otherwise, so there is no build step to forget) and runs it in
// a child process with the settings build.mjs gives it (thread pool, malloc arenas, heap growth).
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { ensureBuilt, runSettings } from "../build.mjs";

const main = await ensureBuilt();
const { execArgv, env } = runSettings();
const child = spawn(process.execPath, [...execArgv, main, ...process.argv.slice(2)], {
  stdio: "inherit",
  env,
});
// Ctrl-C in a terminal reaches both processes; a signal sent to this one alone (a process manager's
// SIGTERM, npm's) is passed on, and this process exits when the CLI has stopped, with its code.
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
