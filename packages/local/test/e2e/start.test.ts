/**
 * `npm start` as users run it: the npm bin builds the bundle if needed and starts the local cloud
 * from it (not from the TypeScript sources the other suites import), runs the demo on the first
 * start, stops on Ctrl-C, and resumes on the next start with nothing done twice.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListExecutionsCommand } from "@aws-sdk/client-sfn";
import { afterAll, describe, expect, it } from "vitest";
import { cloudClients } from "../../src/demo/bootstrap";
import { REPO_ROOT } from "../../src/paths";
import { freePort } from "../cli/support";

const BIN = join(REPO_ROOT, "packages", "local", "bin", "secondlook.js");
const children: ChildProcess[] = [];
let dataDir: string | undefined;

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  output: () => string;
  counts: Record<string, number>;
}

/** Starts `secondlook start` and resolves once it prints its summary (the demo has run). */
async function start(args: string[], home: string): Promise<Started> {
  const child = spawn(process.execPath, [BIN, "start", ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: home, NODE_NO_WARNINGS: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    out += chunk.toString("utf8");
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no summary within 150 s:\n${out}`)), 150_000);
    const check = () => {
      if (!/Press Ctrl-C to stop/.test(out)) return;
      clearTimeout(timer);
      resolve();
    };
    child.stdout?.on("data", check);
    child.on("exit", (code) => reject(new Error(`secondlook start exited with ${code}:\n${out}`)));
  });
  const counts: Record<string, number> = {};
  for (const [, name, value] of out.matchAll(/^ {2}(Auto-labeled|Waiting for review|Failed) +(\d+)$/gm)) {
    counts[name as string] = Number(value);
  }
  return { child, output: () => out, counts };
}

async function interrupt(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  child.kill("SIGINT");
  return exited;
}

describe("npm start from the built bundle (protects: the main job works as shipped)", () => {
  it("runs the demo on first start, stops on Ctrl-C, and resumes without redoing anything", async () => {
    // Arrange
    dataDir = await mkdtemp(join(tmpdir(), "secondlook-start-"));
    const [port, webPort] = [await freePort(), await freePort()];
    const args = ["--data", dataDir, "--port", String(port), "--web-port", String(webPort)];
    const executions = async () => {
      const { sfn } = cloudClients(`http://127.0.0.1:${port}`);
      const listed = await sfn.send(
        new ListExecutionsCommand({
          stateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:review-image",
          maxResults: 1000,
        }),
      );
      return listed.executions ?? [];
    };

    // Act
    const first = await start(args, dataDir);
    const ranFirst = await executions();
    const firstExit = await interrupt(first.child);
    const second = await start(args, dataDir);
    const ranSecond = await executions();
    const secondExit = await interrupt(second.child);

    // Assert: the demo sends its 80 images; the model is sure of some, a reviewer gets the rest.
    expect(first.counts["Auto-labeled"]).toBeGreaterThan(0);
    expect(first.counts["Waiting for review"]).toBeGreaterThan(0);
    expect((first.counts["Auto-labeled"] ?? 0) + (first.counts["Waiting for review"] ?? 0)).toBe(80);
    expect(first.counts.Failed).toBe(0);
    expect(first.output()).toMatch(/Sign in as +reviewer \/ \S{12,}/);
    expect(ranFirst).toHaveLength(80);
    expect(firstExit).toBe(0);
    // The second start finds everything where it was: same counts, no new execution, no new password.
    expect(second.counts).toEqual(first.counts);
    expect(ranSecond.map((e) => e.executionArn).sort()).toEqual(ranFirst.map((e) => e.executionArn).sort());
    expect(second.output()).not.toMatch(/Sign in as +reviewer \/ \S{12,}/);
    expect(secondExit).toBe(0);
  }, 360_000);
});
