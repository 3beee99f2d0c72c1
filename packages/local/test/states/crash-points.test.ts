/**
 * Crash at every point: one execution's full history is cut after each event in turn, as if the
 * process died right there, and a fresh engine resumes it. Every resumption must reach the same
 * output, enter each state exactly as often as the uninterrupted run, and keep ids contiguous.
 */
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { StatesEngine } from "../../src/states/engine";
import { functionArn, namedError, run, startEngine, waitFor } from "./helpers";

const functions = {
  // Fails on the first attempt of each visit, so the Retry path is part of every history.
  flaky: (p: unknown) => {
    if ((p as { retry: number }).retry === 0) throw namedError("Flaky");
    return { ok: true };
  },
  double: (p: unknown) => (p as number) * 2,
  missing: () => {
    throw namedError("NotFound", "no such thing");
  },
};

const definition = {
  StartAt: "Start",
  States: {
    Start: { Type: "Pass", Result: [1, 2, 3], ResultPath: "$.items", Next: "Call" },
    Call: {
      Type: "Task",
      Resource: "arn:aws:states:::lambda:invoke",
      Parameters: { FunctionName: functionArn("flaky"), Payload: { "retry.$": "$$.State.RetryCount" } },
      ResultSelector: { "ok.$": "$.Payload.ok" },
      ResultPath: "$.call",
      Retry: [{ ErrorEquals: ["Flaky"], IntervalSeconds: 1, MaxAttempts: 2 }],
      Next: "Pause",
    },
    Pause: { Type: "Wait", Seconds: 1, Next: "Probe" },
    Probe: {
      Type: "Task",
      Resource: functionArn("missing"),
      Catch: [{ ErrorEquals: ["NotFound"], ResultPath: "$.probe", Next: "Fan" }],
      Next: "Fan",
    },
    Fan: {
      Type: "Parallel",
      Branches: [
        {
          StartAt: "Each",
          States: {
            Each: {
              Type: "Map",
              ItemsPath: "$.items",
              MaxConcurrency: 1,
              ItemProcessor: {
                StartAt: "Double",
                States: { Double: { Type: "Task", Resource: functionArn("double"), End: true } },
              },
              End: true,
            },
          },
        },
        { StartAt: "Side", States: { Side: { Type: "Pass", Result: "side", End: true } } },
      ],
      ResultSelector: { "doubled.$": "$[0]", "side.$": "$[1]" },
      ResultPath: "$.fan",
      OutputPath: "$.fan",
      Next: "Decide",
    },
    Decide: {
      Type: "Choice",
      Choices: [{ Variable: "$.side", StringEquals: "side", Next: "Done" }],
      Default: "Broken",
    },
    Broken: { Type: "Fail", Error: "Broken" },
    Done: { Type: "Succeed" },
  },
};

async function entries(engine: StatesEngine, executionArn: string) {
  const { events } = await engine.getExecutionHistory({ executionArn, maxResults: 1000 });
  const counts: Record<string, number> = {};
  for (const event of events) {
    const name = (event.stateEnteredEventDetails as { name?: string } | undefined)?.name;
    if (name) counts[name] = (counts[name] ?? 0) + 1;
  }
  return { counts, ids: events.map((e) => e.id) };
}

describe("resuming from every crash point", () => {
  it("reaches the same result from a history cut after any event", async () => {
    // Arrange: one uninterrupted run.
    const reference = await startEngine(functions);
    const executionArn = await run(reference.engine, definition, {});
    const expected = await waitFor(reference.engine, executionArn);
    const expectedEntries = await entries(reference.engine, executionArn);
    // Closing writes the history behind into its file (journal.ts).
    await reference.engine.close();
    const dir = join(reference.dataDir, "states", "executions");
    const [file] = await readdir(dir);
    const lines = (await readFile(join(dir, file as string), "utf8")).trim().split("\n");
    const registry = join(reference.dataDir, "states", "state-machines.json");

    // Act / Assert: resume from each prefix (the last event is the closing one, so stop before it).
    for (let cut = 1; cut < lines.length; cut++) {
      const dataDir = await mkdtemp(join(tmpdir(), "secondlook-cut-"));
      await mkdir(join(dataDir, "states", "executions"), { recursive: true });
      await copyFile(registry, join(dataDir, "states", "state-machines.json"));
      await cp(join(reference.dataDir, "states", "definitions"), join(dataDir, "states", "definitions"), {
        recursive: true,
      });
      await writeFile(
        join(dataDir, "states", "executions", file as string),
        `${lines.slice(0, cut).join("\n")}\n`,
      );
      const resumed = await startEngine(functions, { dataDir });
      await resumed.engine.resume();
      const result = await waitFor(resumed.engine, executionArn);
      const actual = await entries(resumed.engine, executionArn);
      expect({ cut, status: result.status, output: result.output }).toEqual({
        cut,
        status: expected.status,
        output: expected.output,
      });
      expect({ cut, counts: actual.counts }).toEqual({ cut, counts: expectedEntries.counts });
      expect(actual.ids).toEqual(actual.ids.map((_, i) => i + 1));
      await resumed.cleanup();
    }
    await rm(reference.dataDir, { recursive: true, force: true });
  });
});
