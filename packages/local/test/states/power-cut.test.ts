/**
 * Power cuts, imitated in-process: the engine never checkpoints, so its execution logs are never
 * written behind (or flushed) and a power cut could take all of them. A copy of the data folder without the execution
 * logs is what such a cut could leave; a fresh engine on it must still know every acknowledged
 * answer, from the journal. (Each restarted harness removes its copy.)
 */
import { cp, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { functionArn, type Harness, run, startEngine, tokenIn, waitFor, waitForEvent } from "./helpers";

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.cleanup();
});

const NEVER = 3_600_000;

const ask = {
  StartAt: "Ask",
  States: {
    Ask: {
      Type: "Task",
      Resource: "arn:aws:states:::lambda:invoke.waitForTaskToken",
      Parameters: { FunctionName: functionArn("ask"), Payload: { "token.$": "$$.Task.Token" } },
      Next: "After",
    },
    After: { Type: "Pass", End: true },
  },
};

/** Copies the data folder as a power cut could leave it: every unflushed execution log gone. */
async function afterPowerCut(dataDir: string): Promise<string> {
  const copy = await mkdtemp(join(tmpdir(), "secondlook-power-cut-"));
  await cp(join(dataDir, "states"), join(copy, "states"), {
    recursive: true,
    filter: (source) => !source.endsWith(".jsonl"),
  });
  return copy;
}

async function engineOn(dataDir: string | undefined, functions = {}) {
  const harness = await startEngine(functions, {
    ...(dataDir ? { dataDir } : {}),
    checkpointIntervalMs: NEVER,
  });
  harnesses.push(harness);
  return harness;
}

describe("acknowledgements across a power cut", () => {
  it("keeps an acknowledged SendTaskSuccess: the execution finishes with the answer, asking no one again", async () => {
    // Arrange
    const first = await engineOn(undefined, { ask: () => ({}) });
    const executionArn = await run(first.engine, ask, {});
    await waitForEvent(first.engine, executionArn, "TaskSubmitted");
    const token = tokenIn(first.lambda.calls[0]?.payload);
    await first.engine.sendTaskSuccess(token, '{"answer":"acme"}');
    const copy = await afterPowerCut(first.dataDir);

    // Act
    const second = await engineOn(copy, { ask: () => ({}) });
    await second.engine.resume();
    const result = await waitFor(second.engine, executionArn);

    // Assert
    expect(result).toMatchObject({ status: "SUCCEEDED", output: '{"answer":"acme"}' });
    expect(second.lambda.calls).toHaveLength(0);
  });

  it("keeps an acknowledged StopExecution: the execution stays aborted", async () => {
    // Arrange
    const first = await engineOn(undefined, { ask: () => ({}) });
    const executionArn = await run(first.engine, ask, {});
    await waitForEvent(first.engine, executionArn, "TaskSubmitted");
    await first.engine.stopExecution(executionArn, "Operator", "stopped by hand");
    const copy = await afterPowerCut(first.dataDir);

    // Act
    const second = await engineOn(copy, { ask: () => ({}) });
    await second.engine.resume();
    const described = await second.engine.describeExecution(executionArn);

    // Assert
    expect(described).toMatchObject({ status: "ABORTED", error: "Operator", cause: "stopped by hand" });
    expect(second.lambda.calls).toHaveLength(0);
  });

  it("keeps an acknowledged StartExecution: the execution runs from its start", async () => {
    // Arrange
    const first = await engineOn(undefined, { ask: () => ({}) });
    const executionArn = await run(first.engine, ask, { n: 1 });
    const copy = await afterPowerCut(first.dataDir);

    // Act
    const second = await engineOn(copy, { ask: () => ({}) });
    await second.engine.resume();
    await waitForEvent(second.engine, executionArn, "TaskSubmitted");
    const described = await second.engine.describeExecution(executionArn);
    const { events } = await second.engine.getExecutionHistory({ executionArn, maxResults: 1000 });

    // Assert: the journal may hold the first engine's unflushed steps too (a power cut may keep
    // them or not); either way the execution asks once, from its acknowledged input.
    expect(described).toMatchObject({ status: "RUNNING", input: '{"n":1}' });
    expect(events.filter((e) => e.type === "TaskStateEntered")).toHaveLength(1);
    expect(events.filter((e) => e.type === "TaskSubmitted")).toHaveLength(1);
  });
});
