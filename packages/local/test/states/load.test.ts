import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Harness, startEngine, waitFor } from "./helpers";

const harnesses: Harness[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.cleanup();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const pass = { StartAt: "P", States: { P: { Type: "Pass", Next: "Q" }, Q: { Type: "Pass", End: true } } };
const MACHINE = "arn:aws:states:us-east-1:000000000000:stateMachine:legacy";

/** A log as the engine wrote it before definitions were stored by hash: the text inline. */
function legacyLog(name: string, closed: boolean) {
  const executionArn = `arn:aws:states:us-east-1:000000000000:execution:legacy:${name}`;
  const started = {
    id: 1,
    previousEventId: 0,
    timestamp: 1_700_000_000_000,
    type: "ExecutionStarted",
    scope: "",
    details: {
      input: '{"legacy":true}',
      inputDetails: { truncated: false },
      roleArn: "arn:aws:iam::000000000000:role/r",
    },
    meta: {
      executionArn,
      name,
      stateMachineArn: MACHINE,
      stateMachineName: "legacy",
      definition: JSON.stringify(pass),
      type: "STANDARD",
    },
  };
  const succeeded = {
    id: 2,
    previousEventId: 0,
    timestamp: 1_700_000_000_500,
    type: "ExecutionSucceeded",
    scope: "",
    details: { output: '{"done":1}', outputDetails: { truncated: false } },
  };
  const file = `${createHash("sha256").update(executionArn).digest("hex").slice(0, 40)}.jsonl`;
  const events = closed ? [started, succeeded] : [started];
  return { executionArn, file, text: events.map((e) => `${JSON.stringify(e)}\n`).join("") };
}

describe("loading executions at startup", () => {
  it("reads logs written before definitions were stored by hash, closed and running", async () => {
    // Arrange
    const dataDir = await mkdtemp(join(tmpdir(), "secondlook-legacy-"));
    dirs.push(dataDir);
    const executionsDir = join(dataDir, "states", "executions");
    await mkdir(executionsDir, { recursive: true });
    const closed = legacyLog("closed", true);
    const running = legacyLog("running", false);
    for (const log of [closed, running]) await writeFile(join(executionsDir, log.file), log.text);

    // Act
    const harness = await startEngine({}, { dataDir });
    harnesses.push(harness);
    await harness.engine.resume();
    const closedDescription = await harness.engine.describeExecution(closed.executionArn);
    const resumed = await waitFor(harness.engine, running.executionArn);

    // Assert
    expect(closedDescription).toMatchObject({
      status: "SUCCEEDED",
      input: '{"legacy":true}',
      output: '{"done":1}',
    });
    expect(resumed).toMatchObject({ status: "SUCCEEDED", output: '{"legacy":true}' });
  });

  it("lists executions newest first after a restart, as before it", async () => {
    // Arrange
    const first = await startEngine();
    harnesses.push(first);
    const { stateMachineArn } = await first.engine.createStateMachine({
      name: "order",
      definition: JSON.stringify(pass),
    });
    for (let i = 0; i < 12; i++) {
      const { executionArn } = await first.engine.startExecution({ stateMachineArn, name: `e${i}` });
      await waitFor(first.engine, executionArn);
      // Distinct start times: the order after a restart comes from them.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const before = (await first.engine.listExecutions({ stateMachineArn })).executions.map((e) => e.name);
    await first.engine.close();

    // Act
    const second = await startEngine({}, { dataDir: first.dataDir });
    harnesses.push(second);
    const after = (await second.engine.listExecutions({ stateMachineArn })).executions.map((e) => e.name);

    // Assert
    expect(before).toEqual(Array.from({ length: 12 }, (_, i) => `e${11 - i}`));
    expect(after).toEqual(before);
  });
});
