import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { StatesEngine } from "../../src/states/engine";
import { LOOP_COUNT } from "./fixtures/loop";
import { functionArn, type Harness, run, startEngine, tokenIn, waitFor, waitForEvent } from "./helpers";

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.cleanup();
});

async function engineOn(dataDir: string | undefined, functions = {}, timeScale = 0.001) {
  const h = await startEngine(functions, { ...(dataDir ? { dataDir } : {}), timeScale });
  harnesses.push(h);
  return h;
}

/** How often each state was entered, from the history. */
async function entries(engine: StatesEngine, executionArn: string): Promise<Record<string, number>> {
  const { events } = await engine.getExecutionHistory({ executionArn, maxResults: 1000 });
  const counts: Record<string, number> = {};
  for (const event of events) {
    const details = event.stateEnteredEventDetails as { name: string } | undefined;
    if (details) counts[details.name] = (counts[details.name] ?? 0) + 1;
  }
  return counts;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("resuming after a restart", () => {
  it("keeps a submitted callback waiting on its original token without re-invoking the function", async () => {
    // Arrange
    const first = await engineOn(undefined, { ask: () => ({}) });
    const definition = {
      StartAt: "Prepare",
      States: {
        Prepare: { Type: "Pass", Next: "Ask" },
        Ask: {
          Type: "Task",
          Resource: "arn:aws:states:::lambda:invoke.waitForTaskToken",
          Parameters: { FunctionName: functionArn("ask"), Payload: { "token.$": "$$.Task.Token" } },
          Next: "After",
        },
        After: { Type: "Pass", End: true },
      },
    };
    const executionArn = await run(first.engine, definition, {});
    await waitForEvent(first.engine, executionArn, "TaskSubmitted");
    const token = tokenIn(first.lambda.calls[0]?.payload);
    await first.engine.close();

    // Act
    const second = await engineOn(first.dataDir, { ask: () => ({}) });
    await second.engine.resume();
    await second.engine.sendTaskSuccess(token, '{"answer":"acme"}');
    const result = await waitFor(second.engine, executionArn);

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect(result.output).toBe('{"answer":"acme"}');
    expect(second.lambda.calls).toHaveLength(0);
    expect(await entries(second.engine, executionArn)).toEqual({ Prepare: 1, Ask: 1, After: 1 });
    const { events } = await second.engine.getExecutionHistory({ executionArn });
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
  });

  it("re-invokes a function whose result was not recorded (at-least-once) without re-entering the state", async () => {
    // Arrange
    const first = await engineOn(undefined, { slow: () => new Promise(() => {}) });
    const definition = {
      StartAt: "Call",
      States: {
        Call: { Type: "Task", Resource: functionArn("slow"), Next: "After" },
        After: { Type: "Pass", End: true },
      },
    };
    const executionArn = await run(first.engine, definition, { x: 1 });
    await waitForEvent(first.engine, executionArn, "LambdaFunctionStarted");
    await first.engine.close();

    // Act
    const second = await engineOn(first.dataDir, { slow: (p: unknown) => ({ again: p }) });
    await second.engine.resume();
    const result = await waitFor(second.engine, executionArn);

    // Assert
    expect(result.output).toBe('{"again":{"x":1}}');
    expect(second.lambda.calls).toHaveLength(1);
    expect(await entries(second.engine, executionArn)).toEqual({ Call: 1, After: 1 });
    const types = (await second.engine.getExecutionHistory({ executionArn })).events.map((e) => e.type);
    expect(types.filter((t) => t === "LambdaFunctionScheduled")).toHaveLength(1);
  });

  it("finishes a Wait at the deadline recorded before the restart", async () => {
    // Arrange: Wait 10 s at timeScale 0.02 = 200 ms.
    const first = await engineOn(undefined, {}, 0.02);
    const definition = { StartAt: "Pause", States: { Pause: { Type: "Wait", Seconds: 10, End: true } } };
    const executionArn = await run(first.engine, definition, {});
    const started = Date.now();
    await sleep(50);
    await first.engine.close();

    // Act
    const second = await engineOn(first.dataDir, {}, 0.02);
    await second.engine.resume();
    const result = await waitFor(second.engine, executionArn);

    // Assert
    const elapsed = Date.now() - started;
    expect(result.status).toBe("SUCCEEDED");
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(1_000);
    expect(await entries(second.engine, executionArn)).toEqual({ Pause: 1 });
  });

  it("carries retry counts across the restart so MaxAttempts still holds", async () => {
    // Arrange: fail twice, then restart while the second retry is pending (5 s × 0.02 = 100 ms).
    const failing = () => {
      throw Object.assign(new Error("busy"), { name: "Busy" });
    };
    const first = await engineOn(undefined, { f: failing }, 0.02);
    const definition = {
      StartAt: "Call",
      States: {
        Call: {
          Type: "Task",
          Resource: functionArn("f"),
          Retry: [{ ErrorEquals: ["Busy"], IntervalSeconds: 5, BackoffRate: 1, MaxAttempts: 3 }],
          End: true,
        },
      },
    };
    const executionArn = await run(first.engine, definition, {});
    while (first.lambda.calls.length < 2) await sleep(5);
    await first.engine.close();

    // Act
    const second = await engineOn(first.dataDir, { f: failing }, 0.02);
    await second.engine.resume();
    const result = await waitFor(second.engine, executionArn);

    // Assert: 4 attempts in all (1 + MaxAttempts 3), split across the two engines.
    expect(result).toMatchObject({ status: "FAILED", error: "Busy" });
    expect(first.lambda.calls.length + second.lambda.calls.length).toBe(4);
    expect(await entries(second.engine, executionArn)).toEqual({ Call: 1 });
  });

  it("resumes a Parallel state without re-running the branch that already finished", async () => {
    // Arrange
    const first = await engineOn(undefined, { quick: () => "q", ask: () => ({}) });
    const definition = {
      StartAt: "Both",
      States: {
        Both: {
          Type: "Parallel",
          Branches: [
            {
              StartAt: "Quick",
              States: { Quick: { Type: "Task", Resource: functionArn("quick"), End: true } },
            },
            {
              StartAt: "Ask",
              States: {
                Ask: {
                  Type: "Task",
                  Resource: "arn:aws:states:::lambda:invoke.waitForTaskToken",
                  Parameters: { FunctionName: functionArn("ask"), Payload: { "token.$": "$$.Task.Token" } },
                  End: true,
                },
              },
            },
          ],
          End: true,
        },
      },
    };
    const executionArn = await run(first.engine, definition, {});
    await waitForEvent(first.engine, executionArn, "TaskSubmitted");
    await waitForEvent(first.engine, executionArn, "LambdaFunctionSucceeded");
    const token = tokenIn(first.lambda.calls.find((c) => c.name === "ask")?.payload);
    await first.engine.close();

    // Act
    const second = await engineOn(first.dataDir, { quick: () => "again", ask: () => ({}) });
    await second.engine.resume();
    await second.engine.sendTaskSuccess(token, '"answer"');
    const result = await waitFor(second.engine, executionArn);

    // Assert
    expect(result.output).toBe('["q","answer"]');
    expect(second.lambda.calls).toHaveLength(0);
    expect(await entries(second.engine, executionArn)).toEqual({ Both: 1, Quick: 1, Ask: 1 });
  });

  it("answers a callback that arrives before resume() by resuming its execution first", async () => {
    // Arrange
    const first = await engineOn(undefined, { ask: () => ({}) });
    const definition = {
      StartAt: "Ask",
      States: {
        Ask: {
          Type: "Task",
          Resource: "arn:aws:states:::lambda:invoke.waitForTaskToken",
          Parameters: { FunctionName: functionArn("ask"), Payload: { "token.$": "$$.Task.Token" } },
          End: true,
        },
      },
    };
    const executionArn = await run(first.engine, definition, {});
    await waitForEvent(first.engine, executionArn, "TaskSubmitted");
    const token = tokenIn(first.lambda.calls[0]?.payload);
    await first.engine.close();

    // Act
    const second = await engineOn(first.dataDir, { ask: () => ({}) });
    await second.engine.sendTaskSuccess(token, '"early bird"');
    const result = await waitFor(second.engine, executionArn);

    // Assert
    expect(result.output).toBe('"early bird"');
    expect(second.lambda.calls).toHaveLength(0);
  });

  it("waits for a long replay to reach the task before answering an early callback, instead of dropping it", async () => {
    // Arrange: many recorded states before the callback, so the replay takes many turns of the event loop.
    const steps = 60;
    const states: Record<string, unknown> = {};
    for (let i = 0; i < steps; i++)
      states[`Step${i}`] = { Type: "Pass", Next: i + 1 < steps ? `Step${i + 1}` : "Ask" };
    const definition = {
      StartAt: "Step0",
      States: {
        ...states,
        Ask: {
          Type: "Task",
          Resource: "arn:aws:states:::lambda:invoke.waitForTaskToken",
          Parameters: { FunctionName: functionArn("ask"), Payload: { "token.$": "$$.Task.Token" } },
          End: true,
        },
      },
    };
    const first = await engineOn(undefined, { ask: () => ({}) });
    const executionArn = await run(first.engine, definition, {});
    await waitForEvent(first.engine, executionArn, "TaskSubmitted");
    const token = tokenIn(first.lambda.calls[0]?.payload);
    await first.engine.close();

    // Act
    const second = await engineOn(first.dataDir, { ask: () => ({}) });
    await second.engine.sendTaskSuccess(token, '"kept"');
    const result = await waitFor(second.engine, executionArn);

    // Assert
    expect(result.output).toBe('"kept"');
    expect(second.lambda.calls).toHaveLength(0);
    await expect(second.engine.sendTaskSuccess(token, '"again"')).rejects.toMatchObject({
      code: "TaskTimedOut",
    });
  });

  it("runs an execution once when resume() comes while its StartExecution is still being made durable", async () => {
    // Arrange: resume() is called from inside the start, after ExecutionStarted is written and before the start launches it.
    const h = await engineOn(undefined, { work: () => ({ done: true }) });
    const definition = {
      StartAt: "Work",
      States: {
        Work: { Type: "Task", Resource: functionArn("work"), Next: "Done" },
        Done: { Type: "Pass", End: true },
      },
    };
    const { stateMachineArn } = await h.engine.createStateMachine({
      name: "once",
      definition: JSON.stringify(definition),
    });
    let resumed = false;
    const stop = h.engine.onExecutionChange(() => {
      if (resumed) return;
      resumed = true;
      void h.engine.resume();
    });

    // Act
    const { executionArn } = await h.engine.startExecution({ stateMachineArn, input: "{}" });
    const result = await waitFor(h.engine, executionArn);
    stop();

    // Assert
    expect(resumed).toBe(true);
    expect(result.status).toBe("SUCCEEDED");
    expect(h.lambda.calls).toHaveLength(1);
    expect(await entries(h.engine, executionArn)).toEqual({ Work: 1, Done: 1 });
  });

  it("keeps state machines across a restart", async () => {
    // Arrange
    const first = await engineOn(undefined);
    const { stateMachineArn } = await first.engine.createStateMachine({
      name: "kept",
      definition: JSON.stringify({ StartAt: "P", States: { P: { Type: "Pass", End: true } } }),
      roleArn: "arn:aws:iam::000000000000:role/kept",
    });
    await first.engine.close();

    // Act
    const second = await engineOn(first.dataDir);
    const described = await second.engine.describeStateMachine(stateMachineArn);
    const { executionArn } = await second.engine.startExecution({ stateMachineArn, input: '{"k":1}' });

    // Assert
    expect(described).toMatchObject({ name: "kept", roleArn: "arn:aws:iam::000000000000:role/kept" });
    expect((await waitFor(second.engine, executionArn)).output).toBe('{"k":1}');
  });

  it("keeps closed executions listable and describable after a restart", async () => {
    // Arrange
    const first = await engineOn(undefined);
    const executionArn = await run(
      first.engine,
      { StartAt: "P", States: { P: { Type: "Pass", End: true } } },
      { a: 1 },
    );
    await waitFor(first.engine, executionArn);
    await first.engine.close();

    // Act
    const second = await engineOn(first.dataDir);
    const described = await second.engine.describeExecution(executionArn);
    const history = await second.engine.getExecutionHistory({ executionArn });

    // Assert
    expect(described).toMatchObject({ status: "SUCCEEDED", output: '{"a":1}' });
    expect(history.events.at(-1)?.type).toBe("ExecutionSucceeded");
  });
});

describe("crash recovery", () => {
  it("resumes a loop after the process is SIGKILLed, entering no state twice", async () => {
    // Arrange
    const dataDir = await mkdtemp(join(tmpdir(), "secondlook-crash-"));
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "fixtures/crash-child.ts"), dataDir],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      const executionArn = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (chunk: Buffer) => resolve(chunk.toString().trim()));
        child.on("exit", (code) => reject(new Error(`child exited early with ${code}`)));
      });
      // Steps reach the journal first and the execution's own log a checkpoint later: read both.
      const states = join(dataDir, "states");
      const executions = join(states, "executions");
      const passesEntered = () => {
        const ids = new Set<number>();
        const files = [
          ...readdirSync(executions).map((f) => join(executions, f)),
          ...readdirSync(states)
            .filter((f) => f.startsWith("journal-"))
            .map((f) => join(states, f)),
        ];
        for (const line of files.flatMap((file) => readFileSync(file, "utf8").split("\n"))) {
          let parsed: { events?: { id: number; type: string }[]; id?: number; type?: string };
          try {
            parsed = JSON.parse(line);
          } catch {
            continue; // a line being written
          }
          for (const e of parsed.events ?? [parsed])
            if (e.type === "PassStateEntered") ids.add(e.id as number);
        }
        return ids.size;
      };
      while (passesEntered() < 5) await sleep(5);

      // Act
      child.kill("SIGKILL");
      await new Promise((resolve) => child.on("exit", resolve));
      const enteredBeforeCrash = passesEntered();
      const after = await engineOn(dataDir, {}, 0.002);
      await after.engine.resume();
      const result = await waitFor(after.engine, executionArn, undefined, 30_000);

      // Assert
      expect(enteredBeforeCrash).toBeLessThan(LOOP_COUNT);
      expect(result.status).toBe("SUCCEEDED");
      expect(result.output).toBe(`{"n":${LOOP_COUNT}}`);
      expect(await entries(after.engine, executionArn)).toEqual({
        Increment: LOOP_COUNT,
        Pause: LOOP_COUNT,
        Enough: LOOP_COUNT,
        Done: 1,
      });
    } finally {
      child.kill("SIGKILL");
      // The resumed engine checkpoints into the folder until it is closed: close it before removing it.
      for (const h of harnesses.splice(0)) await h.cleanup();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
