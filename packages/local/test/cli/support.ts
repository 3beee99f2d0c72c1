/** Runs the `secondlook` CLI as a child process, the way a user or a script does. */
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { DIST } from "../../build.mjs";
import { REPO_ROOT } from "../../src/paths";

/** The CLI as `npm start` and `npx secondlook` run it: the bundle the global setup built. */
const MAIN = join(DIST, "secondlook.mjs");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * A clean environment: no AWS settings leak in from the test process (the local cloud sets some),
 * HOME points at `home` so no real AWS profile is read, and the SDK never asks EC2's metadata
 * service for credentials (that would leave 127.0.0.1).
 */
export function cliEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    NODE_NO_WARNINGS: "1",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_CONFIG_FILE: join(home, "aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(home, "aws-credentials"),
    ...extra,
  };
}

/** Starts the CLI; `result` resolves when it exits. */
export function startCli(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: REPO_ROOT, env, stdio: "pipe" });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const result = new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  return { child, result, running: () => child.exitCode === null && child.signalCode === null };
}

/** Runs the CLI to completion. */
export function runCli(args: string[], env: NodeJS.ProcessEnv) {
  return startCli(args, env).result;
}

/** A port nothing listens on right now, for a local cloud the test starts. */
export function freePort() {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
