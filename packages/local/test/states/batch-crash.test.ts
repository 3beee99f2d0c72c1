/**
 * Crash test for Distributed Map: a batch of 240 items runs in a child process that is SIGKILLed
 * at random moments several times and restarted each time. Every item must end exactly once in
 * its right branch, no child execution may exist twice, and each item sent to a human has exactly one loop.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createStatesEngine } from "../../src/states/engine";
import { BATCH_ITEMS } from "./fixtures/batch-machine";

const EXECUTION = "arn:aws:states:us-east-1:000000000000:execution:batch:crash-batch";
const KILLS = 5;

function startChild(dataDir: string): { child: ChildProcess; running: Promise<void>; done: Promise<string> } {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "fixtures/batch-child.ts"), dataDir],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  let markRunning: () => void = () => {};
  let markDone: (status: string) => void = () => {};
  const running = new Promise<void>((resolve) => {
    markRunning = resolve;
  });
  const done = new Promise<string>((resolve) => {
    markDone = resolve;
  });
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
    if (out.includes("STARTED")) markRunning();
    const match = /DONE (\w+)/.exec(out);
    if (match) markDone(match[1] as string);
  });
  child.on("exit", () => {
    markRunning();
    markDone("EXITED");
  });
  return { child, running, done };
}

async function kill(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.on("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

describe("a Distributed Map batch killed with SIGKILL", () => {
  it("ends every item exactly once in its branch across repeated crashes and restarts", async () => {
    // Arrange
    const dataDir = await mkdtemp(join(tmpdir(), "secondlook-batch-crash-"));
    let current: ChildProcess | undefined;
    try {
      // Act: kill at random moments while the batch runs, then let the last process finish.
      let status = "";
      let killedWhileRunning = 0;
      for (let round = 0; round <= KILLS && !status; round++) {
        const { child, running, done } = startChild(dataDir);
        current = child;
        if (round === KILLS) {
          status = await done;
          break;
        }
        // Killed at a random moment after the engine resumed, while children start, run and wait.
        await running;
        // The whole batch runs in a few hundred ms once starts share one journal flush, so the
        // kills fall early enough that most rounds interrupt it.
        const killAfter = 10 + Math.floor(Math.random() * 50);
        const outcome = await Promise.race([
          done,
          new Promise<string>((resolve) => setTimeout(() => resolve(""), killAfter)),
        ]);
        await kill(child);
        if (outcome && outcome !== "EXITED") status = outcome;
        if (!outcome) killedWhileRunning++;
      }
      await kill(current as ChildProcess);
      const engine = await createStatesEngine({ dataDir, invoker: { invoke: async () => ({}) } });

      // Assert
      expect(status).toBe("SUCCEEDED");
      expect(killedWhileRunning).toBeGreaterThanOrEqual(3);
      const described = await engine.describeExecution(EXECUTION);
      const expected = Array.from({ length: BATCH_ITEMS }, (_, id) => ({
        id,
        branch: id % 2 === 1 ? "human" : "auto",
      }));
      expect(JSON.parse(described.output ?? "")).toEqual(expected);
      const [mapRun] = (await engine.listMapRuns({ executionArn: EXECUTION })).mapRuns;
      const children = (
        await engine.listExecutions({ mapRunArn: mapRun?.mapRunArn as string, maxResults: 1000 })
      ).executions;
      expect(children).toHaveLength(BATCH_ITEMS);
      expect(new Set(children.map((c) => c.name)).size).toBe(BATCH_ITEMS);
      expect(children.every((c) => c.status === "SUCCEEDED")).toBe(true);
      // One execution file per child plus the parent: nothing was started twice under another name.
      expect(readdirSync(join(dataDir, "states", "executions"))).toHaveLength(BATCH_ITEMS + 1);
      for (const child of children) {
        const { events } = await engine.getExecutionHistory({
          executionArn: child.executionArn,
          maxResults: 1000,
        });
        const branches = events
          .filter((e) => e.type === "TaskStateEntered")
          .map((e) => (e.stateEnteredEventDetails as { name: string }).name);
        const input = JSON.parse((await engine.describeExecution(child.executionArn)).input) as {
          id: number;
        };
        expect(branches).toEqual(["Classify", input.id % 2 === 1 ? "AskHuman" : "AutoLabel"]);
      }
      // One loop per item sent to a human, none for the others (loops are keyed by item, as A2I's by name).
      const loops = readdirSync(join(dataDir, "loops"))
        .map((file) => Number(file.replace(/\.json$/, "")))
        .sort((a, b) => a - b);
      expect(loops).toEqual(expected.filter((e) => e.branch === "human").map((e) => e.id));
      const calls = readFileSync(join(dataDir, "calls.log"), "utf8").trim().split("\n");
      expect(calls.length).toBeGreaterThanOrEqual(BATCH_ITEMS * 2);
      await engine.close();
    } finally {
      if (current) await kill(current);
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
