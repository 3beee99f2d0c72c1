/**
 * RedriveExecution (AWS "Redriving executions"): a FAILED, TIMED_OUT or ABORTED standard execution
 * continues from its unsuccessful state with the same ARN, definition and input; steps that
 * succeeded are not run again, and for a Parallel or inline Map only the branches and iterations
 * that did not succeed run again. The history keeps the first attempt and records ExecutionRedriven.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Clock } from "../../src/contracts";
import {
  functionArn,
  type Harness,
  namedError,
  run,
  startEngine,
  tokenIn,
  waitFor,
  waitForEvent,
} from "./helpers";
import { memoryObjects } from "./memory-objects";

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const harness of harnesses.splice(0)) await harness.cleanup();
});

async function engine(functions: Parameters<typeof startEngine>[0], options = {}) {
  const harness = await startEngine(functions, options);
  harnesses.push(harness);
  return harness;
}

/** A function that fails until `fixed` is set. */
function flaky() {
  const state = { fixed: false, calls: 0 };
  const body = (payload: unknown) => {
    state.calls++;
    if (!state.fixed) throw namedError("NotYet", "the dependency is down");
    return { ok: payload };
  };
  return { state, body };
}

const lambdaTask = (fn: string, extra: object = {}) => ({
  Type: "Task",
  Resource: "arn:aws:states:::lambda:invoke",
  Parameters: { FunctionName: functionArn(fn), "Payload.$": "$" },
  OutputPath: "$.Payload",
  ...extra,
});

/** What a call rejected with (undefined when it resolved), captured at once so none goes unhandled. */
function failureOf(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => undefined,
    (error: unknown) => error,
  );
}

async function types(h: Harness, executionArn: string) {
  return (await h.engine.getExecutionHistory({ executionArn, maxResults: 1000 })).events;
}

describe("RedriveExecution", () => {
  it("continues a failed execution from the failed task without rerunning the steps that succeeded", async () => {
    // Arrange
    const dependency = flaky();
    let prepared = 0;
    const h = await engine({
      prepare: (p) => {
        prepared++;
        return p;
      },
      call: dependency.body,
    });
    const definition = {
      StartAt: "Prepare",
      States: {
        Prepare: lambdaTask("prepare", { Next: "Call" }),
        Call: lambdaTask("call", { End: true }),
      },
    };
    const executionArn = await run(h.engine, definition, { id: 7 });
    const failed = await waitFor(h.engine, executionArn);
    dependency.state.fixed = true;

    // Act
    const { redriveDate } = await h.engine.redriveExecution(executionArn);
    const result = await waitFor(h.engine, executionArn);
    const events = await types(h, executionArn);

    // Assert
    expect(failed).toMatchObject({ status: "FAILED", error: "NotYet", redriveStatus: "REDRIVABLE" });
    expect(result).toMatchObject({
      status: "SUCCEEDED",
      output: '{"ok":{"id":7}}',
      redriveCount: 1,
      redriveDate,
      redriveStatus: "NOT_REDRIVABLE",
      redriveStatusReason: "Execution is SUCCEEDED and cannot be redriven",
    });
    expect(prepared).toBe(1);
    expect(dependency.state.calls).toBe(2);
    const redriven = events.find((e) => e.type === "ExecutionRedriven");
    expect(redriven).toMatchObject({
      previousEventId: 0,
      executionRedrivenEventDetails: { redriveCount: 1 },
    });
    const after = events.slice(events.indexOf(redriven as (typeof events)[number]) + 1).map((e) => e.type);
    expect(after).toEqual([
      "TaskScheduled",
      "TaskStarted",
      "TaskSucceeded",
      "TaskStateExited",
      "ExecutionSucceeded",
    ]);
    expect(events.filter((e) => e.type === "TaskStateEntered")).toHaveLength(2);
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
  });

  it("redrives the same execution again after the redriven attempt fails, counting each redrive", async () => {
    // Arrange
    const dependency = flaky();
    const h = await engine({ call: dependency.body });
    const definition = { StartAt: "Call", States: { Call: lambdaTask("call", { End: true }) } };
    const executionArn = await run(h.engine, definition, "again");
    await waitFor(h.engine, executionArn);
    await h.engine.redriveExecution(executionArn);
    const failedTwice = await waitFor(h.engine, executionArn, (status) => status === "FAILED");
    dependency.state.fixed = true;

    // Act
    await h.engine.redriveExecution(executionArn);
    const result = await waitFor(h.engine, executionArn, (status) => status === "SUCCEEDED");
    const events = await types(h, executionArn);

    // Assert
    expect(failedTwice.redriveCount).toBe(1);
    expect(result).toMatchObject({ output: '{"ok":"again"}', redriveCount: 2 });
    expect(dependency.state.calls).toBe(3);
    expect(
      events.filter((e) => e.type === "ExecutionRedriven").map((e) => e.executionRedrivenEventDetails),
    ).toEqual([{ redriveCount: 1 }, { redriveCount: 2 }]);
  });

  it("reruns only the Parallel branch that failed", async () => {
    // Arrange
    const dependency = flaky();
    let steady = 0;
    const h = await engine({
      steady: () => ++steady,
      call: dependency.body,
    });
    const definition = {
      StartAt: "Both",
      States: {
        Both: {
          Type: "Parallel",
          Branches: [
            { StartAt: "Steady", States: { Steady: lambdaTask("steady", { End: true }) } },
            {
              StartAt: "Pause",
              States: {
                Pause: { Type: "Wait", Seconds: 50, Next: "Call" },
                Call: lambdaTask("call", { End: true }),
              },
            },
          ],
          End: true,
        },
      },
    };
    const executionArn = await run(h.engine, definition, "x");
    await waitFor(h.engine, executionArn);
    dependency.state.fixed = true;

    // Act
    await h.engine.redriveExecution(executionArn);
    const result = await waitFor(h.engine, executionArn);

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect(JSON.parse(result.output ?? "null")).toEqual([1, { ok: "x" }]);
    expect(steady).toBe(1);
    expect(dependency.state.calls).toBe(2);
  });

  it("reruns only the inline Map iterations that failed", async () => {
    // Arrange
    const seen: number[] = [];
    let healthy = false;
    const h = await engine({
      check: (n) => {
        seen.push(n as number);
        if (n === 2 && !healthy) throw namedError("Flaky", "item 2 failed");
        return (n as number) * 10;
      },
    });
    const definition = {
      StartAt: "Each",
      States: {
        Each: {
          Type: "Map",
          ItemsPath: "$",
          MaxConcurrency: 1,
          ItemProcessor: { StartAt: "Check", States: { Check: lambdaTask("check", { End: true }) } },
          End: true,
        },
      },
    };
    const executionArn = await run(h.engine, definition, [1, 2, 3]);
    const failed = await waitFor(h.engine, executionArn);
    healthy = true;

    // Act
    await h.engine.redriveExecution(executionArn);
    const result = await waitFor(h.engine, executionArn);

    // Assert
    expect(failed.error).toBe("Flaky");
    expect(result.status).toBe("SUCCEEDED");
    expect(JSON.parse(result.output ?? "null")).toEqual([10, 20, 30]);
    expect(seen).toEqual([1, 2, 2, 3]);
  });

  it("runs a failed Distributed Map again as a new map run", async () => {
    // Arrange
    const dependency = flaky();
    const h = await engine({ call: dependency.body }, { objects: memoryObjects() });
    const definition = {
      StartAt: "Each",
      States: {
        Each: {
          Type: "Map",
          ItemsPath: "$",
          ItemProcessor: {
            ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
            StartAt: "Call",
            States: { Call: lambdaTask("call", { End: true }) },
          },
          End: true,
        },
      },
    };
    const executionArn = await run(h.engine, definition, [1, 2]);
    const failed = await waitFor(h.engine, executionArn);
    dependency.state.fixed = true;

    // Act
    await h.engine.redriveExecution(executionArn);
    const result = await waitFor(h.engine, executionArn);
    const { mapRuns } = await h.engine.listMapRuns({ executionArn });

    // Assert
    expect(failed.error).toBe("States.ExceedToleratedFailureThreshold");
    expect(result.status).toBe("SUCCEEDED");
    expect(JSON.parse(result.output ?? "null")).toEqual([{ ok: 1 }, { ok: 2 }]);
    expect(mapRuns).toHaveLength(2);
  });

  it("gives a stopped callback task a new attempt with a new token", async () => {
    // Arrange
    const tokens: string[] = [];
    const h = await engine({
      ask: (p) => {
        tokens.push(tokenIn(p));
        return {};
      },
    });
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
    const executionArn = await run(h.engine, definition, {});
    await waitForEvent(h.engine, executionArn, "TaskSubmitted");
    await h.engine.stopExecution(executionArn, "Paused", "by the operator");

    // Act
    await h.engine.redriveExecution(executionArn);
    const deadline = Date.now() + 5_000;
    while (tokens.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const stale = await failureOf(h.engine.sendTaskSuccess(tokens[0] as string, '"old"'));
    await h.engine.sendTaskSuccess(tokens[1] as string, '"answered"');
    const result = await waitFor(h.engine, executionArn);

    // Assert
    expect(stale).toMatchObject({ code: "TaskTimedOut" });
    expect(tokens).toHaveLength(2);
    expect(tokens[1]).not.toBe(tokens[0]);
    expect(result).toMatchObject({ status: "SUCCEEDED", output: '"answered"', redriveCount: 1 });
  });

  it("keeps a redriven execution across a restart and reports its redrive once closed", async () => {
    // Arrange
    const dependency = flaky();
    const first = await startEngine({ call: dependency.body });
    const definition = {
      StartAt: "Pause",
      States: {
        Pause: { Type: "Wait", Seconds: 100, Next: "Call" },
        Call: lambdaTask("call", { End: true }),
      },
    };
    const executionArn = await run(first.engine, definition, 1);
    await waitFor(first.engine, executionArn);
    await first.engine.redriveExecution(executionArn);
    await first.engine.close();
    dependency.state.fixed = true;

    // Act
    const second = await engine({ call: dependency.body }, { dataDir: first.dataDir });
    await second.engine.resume();
    const result = await waitFor(second.engine, executionArn);
    await second.engine.close();
    const third = await engine({}, { dataDir: first.dataDir });
    const reloaded = await third.engine.describeExecution(executionArn);
    const listed = await third.engine.listExecutions({ stateMachineArn: result.stateMachineArn });

    // Assert
    expect(result).toMatchObject({ status: "SUCCEEDED", redriveCount: 1 });
    expect(reloaded).toMatchObject({ status: "SUCCEEDED", redriveCount: 1, redriveDate: result.redriveDate });
    expect(listed.executions[0]).toMatchObject({ redriveCount: 1, redriveDate: result.redriveDate });
    const redrivenOnly = await third.engine.listExecutions({
      stateMachineArn: result.stateMachineArn,
      redriveFilter: "REDRIVEN",
    });
    const neverRedriven = await third.engine.listExecutions({
      stateMachineArn: result.stateMachineArn,
      redriveFilter: "NOT_REDRIVEN",
    });
    expect(redrivenOnly.executions.map((e) => e.executionArn)).toEqual([executionArn]);
    expect(neverRedriven.executions).toEqual([]);
  });

  it("refuses running and succeeded executions with ExecutionNotRedrivable", async () => {
    // Arrange
    const h = await engine({});
    const waiting = await run(
      h.engine,
      { StartAt: "Hold", States: { Hold: { Type: "Wait", Seconds: 1_000_000, End: true } } },
      {},
      "holding",
    );
    const done = await run(
      h.engine,
      { StartAt: "P", States: { P: { Type: "Pass", End: true } } },
      {},
      "done",
    );
    await waitFor(h.engine, done);

    // Act
    const running = await failureOf(h.engine.redriveExecution(waiting));
    const succeeded = await failureOf(h.engine.redriveExecution(done));
    const unknown = await failureOf(h.engine.redriveExecution(`${waiting}-missing`));

    // Assert
    expect(running).toMatchObject({
      code: "ExecutionNotRedrivable",
      message: "Execution is RUNNING and cannot be redriven",
    });
    expect(succeeded).toMatchObject({
      code: "ExecutionNotRedrivable",
      message: "Execution is SUCCEEDED and cannot be redriven",
    });
    expect(unknown).toMatchObject({ code: "ExecutionDoesNotExist" });
  });

  it("refuses an execution that closed more than 14 days ago", async () => {
    // Arrange
    let now = Date.parse("2026-01-01T00:00:00Z");
    const clock: Clock = { now: () => new Date(now) };
    const h = await engine({}, { clock });
    const executionArn = await run(
      h.engine,
      { StartAt: "Boom", States: { Boom: { Type: "Fail", Error: "E", Cause: "c" } } },
      {},
    );
    await waitFor(h.engine, executionArn);
    now += 15 * 24 * 3600 * 1000;

    // Act
    const described = await h.engine.describeExecution(executionArn);
    const redrive = await failureOf(h.engine.redriveExecution(executionArn));

    // Assert
    expect(described).toMatchObject({
      redriveStatus: "NOT_REDRIVABLE",
      redriveStatusReason: "Execution redrivable period exceeded",
    });
    expect(redrive).toMatchObject({
      code: "ExecutionNotRedrivable",
      message: "Execution redrivable period exceeded",
    });
  });
});
