/**
 * Aborted-state histories: what AWS records when a failing Parallel branch or Map iteration cuts
 * its siblings short (`…StateAborted`, `MapIterationAborted`, all linked to the failure's last
 * event), and when StopExecution stops an execution (one `ExecutionAborted` linked to event 0,
 * as a history exported from AWS shows). Compared type by type and link by link.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateStatuses } from "../../../src/console/graph";
import type { Definition } from "../../../src/states/definition";
import type { HistoryEvent } from "../../../src/states/engine";
import { StatesError } from "../../../src/states/errors";
import type { StoredEvent } from "../../../src/states/history";
import type { RunServices } from "../../../src/states/run-types";
import { ExecutionRun } from "../../../src/states/runtime";
import {
  functionArn,
  type Harness,
  namedError,
  run,
  runToEnd,
  startEngine,
  waitFor,
  waitForEvent,
} from "../helpers";

let harness: Harness;
beforeAll(async () => {
  harness = await startEngine({
    boom: () => {
      throw namedError("Boom", "it broke");
    },
    echo: (payload) => payload,
  });
});
afterAll(async () => {
  await harness.cleanup();
});

let machines = 0;
const machineName = () => `aborted-${++machines}`;

async function history(executionArn: string): Promise<HistoryEvent[]> {
  return (await harness.engine.getExecutionHistory({ executionArn, maxResults: 1000 })).events;
}

function only(events: HistoryEvent[], type: string): HistoryEvent {
  const found = events.filter((e) => e.type === type);
  expect(found.map((e) => e.type)).toEqual([type]);
  return found[0] as HistoryEvent;
}

/** A Wait that outlasts every test (the harness scales time by 0.001: 10^6 s is ~17 minutes). */
const longWait = { Type: "Wait", Seconds: 1_000_000, End: true };
const failingTask = {
  Type: "Task",
  Resource: "arn:aws:states:::lambda:invoke",
  Parameters: { FunctionName: functionArn("boom"), "Payload.$": "$" },
  End: true,
};

describe("a failing Parallel branch cuts its siblings (AWS aborted-state history)", () => {
  it("records TaskStateAborted for the failed task and WaitStateAborted for the sibling, linked to TaskFailed", async () => {
    // Arrange
    const definition = {
      StartAt: "Both",
      States: {
        Both: {
          Type: "Parallel",
          Branches: [
            { StartAt: "Fails", States: { Fails: failingTask } },
            { StartAt: "Waits", States: { Waits: longWait } },
          ],
          End: true,
        },
      },
    };

    // Act
    const { executionArn, result } = await runToEnd(harness.engine, definition, { a: 1 }, machineName());
    const events = await history(executionArn);

    // Assert
    expect(result.status).toBe("FAILED");
    expect(result.error).toBe("Boom");
    const failed = only(events, "TaskFailed");
    const tail = events.slice(events.indexOf(failed));
    expect(tail.map((e) => e.type)).toEqual([
      "TaskFailed",
      "TaskStateAborted",
      "WaitStateAborted",
      "ParallelStateFailed",
      "ExecutionFailed",
    ]);
    for (const event of tail.slice(1, 4)) expect(event.previousEventId).toBe(failed.id);
    expect(Object.keys(tail[1] as HistoryEvent).sort()).toEqual([
      "id",
      "previousEventId",
      "timestamp",
      "type",
    ]);
    expect(tail[4]?.executionFailedEventDetails).toEqual({
      error: "Boom",
      cause: expect.stringContaining("it broke"),
    });
  });

  it("leaves the Parallel through its Catch with ParallelStateExited linked to ParallelStateFailed", async () => {
    // Arrange
    const definition = {
      StartAt: "Both",
      States: {
        Both: {
          Type: "Parallel",
          Branches: [
            {
              StartAt: "Settle",
              States: {
                Settle: { Type: "Wait", Seconds: 20, Next: "Fails" },
                Fails: { Type: "Fail", Error: "Mine", Cause: "on purpose" },
              },
            },
            { StartAt: "Waits", States: { Waits: longWait } },
          ],
          Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "Handled" }],
          End: true,
        },
        Handled: { Type: "Pass", End: true },
      },
    };

    // Act
    const { executionArn, result } = await runToEnd(harness.engine, definition, { a: 1 }, machineName());
    const events = await history(executionArn);

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect(JSON.parse(result.output ?? "null")).toEqual({
      a: 1,
      error: { Error: "Mine", Cause: "on purpose" },
    });
    const failEntered = only(events, "FailStateEntered");
    const tail = events.slice(events.indexOf(failEntered));
    expect(tail.map((e) => e.type)).toEqual([
      "FailStateEntered",
      "WaitStateAborted",
      "ParallelStateFailed",
      "ParallelStateExited",
      "PassStateEntered",
      "PassStateExited",
      "ExecutionSucceeded",
    ]);
    expect(tail[1]?.previousEventId).toBe(failEntered.id);
    expect(tail[2]?.previousEventId).toBe(failEntered.id);
    expect(tail[3]?.previousEventId).toBe(tail[2]?.id);
  });

  it("aborts the states of a nested Parallel in a cut sibling, outer state first", async () => {
    // Arrange
    const definition = {
      StartAt: "Outer",
      States: {
        Outer: {
          Type: "Parallel",
          Branches: [
            {
              StartAt: "Inner",
              States: {
                Inner: {
                  Type: "Parallel",
                  Branches: [{ StartAt: "Deep", States: { Deep: longWait } }],
                  End: true,
                },
              },
            },
            {
              StartAt: "Settle",
              States: {
                Settle: { Type: "Wait", Seconds: 20, Next: "Fails" },
                Fails: { Type: "Fail", Error: "Late", Cause: "after a while" },
              },
            },
          ],
          End: true,
        },
      },
    };

    // Act
    const { executionArn, result } = await runToEnd(harness.engine, definition, {}, machineName());
    const events = await history(executionArn);

    // Assert
    expect(result.error).toBe("Late");
    const failEntered = only(events, "FailStateEntered");
    const tail = events.slice(events.indexOf(failEntered));
    expect(tail.map((e) => e.type)).toEqual([
      "FailStateEntered",
      "ParallelStateAborted",
      "WaitStateAborted",
      "ParallelStateFailed",
      "ExecutionFailed",
    ]);
    expect(new Set(tail.slice(1, 4).map((e) => e.previousEventId))).toEqual(new Set([failEntered.id]));
  });
});

describe("a failing Map iteration cuts the running iterations", () => {
  it("records MapIterationAborted and the cut Wait before MapIterationFailed and MapStateFailed", async () => {
    // Arrange
    const definition = {
      StartAt: "M",
      States: {
        M: {
          Type: "Map",
          ItemsPath: "$.items",
          ItemProcessor: {
            ProcessorConfig: { Mode: "INLINE" },
            StartAt: "Route",
            States: {
              Route: {
                Type: "Choice",
                Choices: [{ Variable: "$.kind", StringEquals: "fail", Next: "Pause" }],
                Default: "Long",
              },
              Long: longWait,
              Pause: { Type: "Wait", Seconds: 20, Next: "Boom" },
              Boom: { Type: "Fail", Error: "Boom", Cause: "sibling failed" },
            },
          },
          End: true,
        },
      },
    };

    // Act
    const { executionArn, result } = await runToEnd(
      harness.engine,
      definition,
      { items: [{ kind: "long" }, { kind: "fail" }] },
      machineName(),
    );
    const events = await history(executionArn);

    // Assert
    expect(result.status).toBe("FAILED");
    expect(result.error).toBe("Boom");
    const failEntered = only(events, "FailStateEntered");
    const tail = events.slice(events.indexOf(failEntered));
    expect(tail.map((e) => e.type)).toEqual([
      "FailStateEntered",
      "MapIterationAborted",
      "WaitStateAborted",
      "MapIterationFailed",
      "MapStateFailed",
      "ExecutionFailed",
    ]);
    for (const event of tail.slice(1, 5)) expect(event.previousEventId).toBe(failEntered.id);
    expect(tail[1]?.mapIterationAbortedEventDetails).toEqual({ name: "M", index: 0 });
    expect(tail[3]?.mapIterationFailedEventDetails).toEqual({ name: "M", index: 1 });
  });

  it("records nothing for iterations MaxConcurrency had not started yet", async () => {
    // Arrange
    const definition = {
      StartAt: "M",
      States: {
        M: {
          Type: "Map",
          ItemsPath: "$.items",
          MaxConcurrency: 1,
          ItemProcessor: {
            StartAt: "Fails",
            States: { Fails: { Type: "Fail", Error: "First", Cause: "item 0" } },
          },
          End: true,
        },
      },
    };

    // Act
    const { executionArn, result } = await runToEnd(
      harness.engine,
      definition,
      { items: [1, 2, 3] },
      machineName(),
    );
    const events = await history(executionArn);

    // Assert
    expect(result.error).toBe("First");
    expect(events.map((e) => e.type)).toEqual([
      "ExecutionStarted",
      "MapStateEntered",
      "MapStateStarted",
      "MapIterationStarted",
      "FailStateEntered",
      "MapIterationFailed",
      "MapStateFailed",
      "ExecutionFailed",
    ]);
  });
});

describe("StopExecution (as an execution stopped on AWS records it)", () => {
  it("ends the history with one ExecutionAborted linked to event 0, carrying only what was given", async () => {
    // Arrange
    const definition = {
      StartAt: "AwaitAnswer",
      States: {
        AwaitAnswer: {
          Type: "Task",
          Resource: "arn:aws:states:::lambda:invoke.waitForTaskToken",
          Parameters: { FunctionName: functionArn("echo"), Payload: { "token.$": "$$.Task.Token" } },
          End: true,
        },
      },
    };
    const executionArn = await run(harness.engine, definition, {}, machineName());
    await waitForEvent(harness.engine, executionArn, "TaskSubmitted");

    // Act
    await harness.engine.stopExecution(executionArn, undefined, "Stopped by the operator");
    await waitFor(harness.engine, executionArn);
    const events = await history(executionArn);

    // Assert
    expect(events.map((e) => e.type)).toEqual([
      "ExecutionStarted",
      "TaskStateEntered",
      "TaskScheduled",
      "TaskStarted",
      "TaskSubmitted",
      "ExecutionAborted",
    ]);
    const aborted = events.at(-1) as HistoryEvent;
    expect(aborted.previousEventId).toBe(0);
    expect(aborted.executionAbortedEventDetails).toEqual({ cause: "Stopped by the operator" });
  });

  it("records no state events for the branches of a stopped Parallel", async () => {
    // Arrange
    const definition = {
      StartAt: "Both",
      States: {
        Both: {
          Type: "Parallel",
          Branches: [
            { StartAt: "A", States: { A: longWait } },
            { StartAt: "B", States: { B: longWait } },
          ],
          End: true,
        },
      },
    };
    const executionArn = await run(harness.engine, definition, {}, machineName());
    await waitForEvent(harness.engine, executionArn, "WaitStateEntered");

    // Act
    await harness.engine.stopExecution(executionArn, "Halt", "stop now");
    const events = await history(executionArn);

    // Assert
    expect(events.filter((e) => e.type.endsWith("Aborted")).map((e) => e.type)).toEqual(["ExecutionAborted"]);
    expect(events.at(-1)?.executionAbortedEventDetails).toEqual({ error: "Halt", cause: "stop now" });
  });
});

describe("the console reads aborted histories", () => {
  it("colours a Parallel whose branch failed as failed and a stopped task as aborted", async () => {
    // Arrange
    const parallel = {
      StartAt: "Both",
      States: {
        Both: {
          Type: "Parallel",
          Branches: [
            { StartAt: "Fails", States: { Fails: failingTask } },
            { StartAt: "Waits", States: { Waits: longWait } },
          ],
          Next: "After",
        },
        After: { Type: "Pass", End: true },
      },
    };
    const stopped = { StartAt: "Hold", States: { Hold: longWait } };
    const failedRun = await runToEnd(harness.engine, parallel, {}, machineName());
    const stoppedArn = await run(harness.engine, stopped, {}, machineName());
    await waitForEvent(harness.engine, stoppedArn, "WaitStateEntered");
    await harness.engine.stopExecution(stoppedArn);

    // Act
    const failedStatuses = stateStatuses(["Both", "After"], await history(failedRun.executionArn), "FAILED");
    const stoppedStatuses = stateStatuses(["Hold"], await history(stoppedArn), "ABORTED");

    // Assert
    expect(failedStatuses.get("Both")).toBe("failed");
    expect(failedStatuses.get("After")).toBe("not-run");
    expect(stoppedStatuses.get("Hold")).toBe("aborted");
  });
});

describe("a restart while a cut was being recorded", () => {
  it("fails the Parallel from the recorded cut without running its branches again", async () => {
    // Arrange: the history stops after the first cut event, before ParallelStateFailed.
    const definition = {
      StartAt: "Both",
      States: {
        Both: {
          Type: "Parallel",
          Branches: [
            { StartAt: "Fails", States: { Fails: { Type: "Fail", Error: "Mine", Cause: "on purpose" } } },
            { StartAt: "Waits", States: { Waits: { Type: "Wait", Seconds: 1, End: true } } },
          ],
          End: true,
        },
      },
    };
    const event = (
      id: number,
      previousEventId: number,
      type: string,
      scope: string,
      extra = {},
    ): StoredEvent => ({
      id,
      previousEventId,
      timestamp: 1_000 + id,
      type,
      scope,
      ...extra,
    });
    const recorded = [
      event(1, 0, "ExecutionStarted", ""),
      event(2, 0, "ParallelStateEntered", "", { details: { name: "Both", input: "{}" } }),
      event(3, 2, "ParallelStateStarted", ""),
      event(4, 3, "FailStateEntered", "/3:0", { details: { name: "Fails", input: "{}" } }),
      event(5, 3, "WaitStateEntered", "/3:1", { details: { name: "Waits", input: "{}" } }),
      event(6, 4, "WaitStateAborted", "", { meta: { cut: { error: "Mine", cause: "on purpose" } } }),
    ];
    const emitted: StoredEvent[] = [];
    const services: RunServices = {
      invoker: { invoke: async () => ({}) },
      clock: { now: () => new Date(2_000) },
      timeScale: 0.001,
      tokens: new Map(),
      startChild: async () => {
        throw new Error("no child executions here");
      },
      waitForChild: async () => {
        throw new Error("no child executions here");
      },
    };
    const runner = new ExecutionRun(
      services,
      {
        executionArn: "arn:aws:states:us-east-1:000000000000:execution:m:e",
        name: "e",
        stateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:m",
        stateMachineName: "m",
        roleArn: "arn:aws:iam::000000000000:role/r",
        input: {},
        startDate: 1_000,
        definition: definition as unknown as Definition,
      },
      (partial) => {
        const stored = { ...partial, id: 7 + emitted.length };
        emitted.push(stored);
        return stored;
      },
      recorded,
    );

    // Act
    const outcome = await runner.runTopLevel(new AbortController().signal).then(
      () => undefined,
      (error: unknown) => error,
    );

    // Assert
    expect(outcome).toBeInstanceOf(StatesError);
    expect((outcome as StatesError).error).toBe("Mine");
    expect(emitted.map((e) => [e.type, e.previousEventId])).toEqual([["ParallelStateFailed", 4]]);
  });
});
