/**
 * Crash right after a burst of acknowledged StartExecutions. The child never checkpoints, so its
 * acknowledgements are durable only through the shared journal's group commit. A SIGKILL keeps the
 * page cache (the execution logs survive); a power cut may not, which the second case imitates by
 * deleting every execution log, leaving only what was fdatasync'ed: the journal.
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BURST } from "./fixtures/burst-machine";
import { type Harness, startEngine, waitFor } from "./helpers";

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.cleanup();
});

const ARN_PREFIX = "arn:aws:states:us-east-1:000000000000:execution:hold:";

/** Runs the burst child, SIGKILLs it once `killAfterAcks` starts are acknowledged; returns their names. */
async function burstThenKill(dataDir: string, killAfterAcks: number): Promise<string[]> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "fixtures/burst-child.ts"), dataDir],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const acked: string[] = [];
  let out = "";
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const lines = out.split("\n");
        out = lines.pop() ?? "";
        for (const line of lines) if (line.startsWith("ACK ")) acked.push(line.slice(4));
        if (acked.length >= killAfterAcks) {
          // Killed mid-stream: acknowledgements still in the pipe are not counted as acknowledged.
          child.kill("SIGKILL");
          resolve();
        }
      });
      child.on("exit", (code) => reject(new Error(`burst child exited early with ${code}`)));
    });
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.on("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
  }
  return acked;
}

/** How often each state was entered, and whether the event ids run 1..n without a gap. */
async function historyOf(harness: Harness, executionArn: string) {
  const { events } = await harness.engine.getExecutionHistory({ executionArn, maxResults: 1000 });
  const entered: Record<string, number> = {};
  for (const event of events) {
    const details = event.stateEnteredEventDetails as { name: string } | undefined;
    if (details) entered[details.name] = (entered[details.name] ?? 0) + 1;
  }
  return { entered, contiguous: events.every((e, i) => e.id === i + 1) };
}

describe("a burst of StartExecutions killed right after acknowledgement", () => {
  it.each([
    { crash: "SIGKILL", loseLogs: false },
    { crash: "SIGKILL, then the unflushed execution logs lost as in a power cut", loseLogs: true },
  ])("keeps and resumes every acknowledged execution after $crash", async ({ loseLogs }) => {
    // Arrange
    const dataDir = await mkdtemp(join(tmpdir(), "secondlook-burst-crash-"));
    try {
      const acked = await burstThenKill(dataDir, BURST / 2);
      const executionsDir = join(dataDir, "states", "executions");
      if (loseLogs) {
        for (const file of readdirSync(executionsDir)) await rm(join(executionsDir, file));
      }

      // Act
      const harness = await startEngine({}, { dataDir });
      harnesses.push(harness);
      await harness.engine.resume();
      const results = await Promise.all(
        acked.map((name) => waitFor(harness.engine, `${ARN_PREFIX}${name}`, undefined, 30_000)),
      );
      const histories = await Promise.all(acked.map((name) => historyOf(harness, `${ARN_PREFIX}${name}`)));

      // Assert
      expect(acked.length).toBeGreaterThanOrEqual(BURST / 2);
      for (const [i, result] of results.entries()) {
        expect(result).toMatchObject({ status: "SUCCEEDED", name: acked[i] });
        expect(JSON.parse(result.output ?? "null")).toEqual({
          i: Number(acked[i]?.slice("burst-".length)),
          begin: "begun",
        });
      }
      for (const history of histories) {
        expect(history).toEqual({ entered: { Begin: 1, Hold: 1, End: 1 }, contiguous: true });
      }
    } finally {
      // The engine checkpoints into the folder until it is closed: close it before removing it.
      for (const h of harnesses.splice(0)) await h.cleanup();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
