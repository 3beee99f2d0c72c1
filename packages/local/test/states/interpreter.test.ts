import { afterEach, describe, expect, it } from "vitest";
import { createStatesEngine } from "../../src/states/engine";
import { eventTypes, functionArn, type Harness, runToEnd, startEngine } from "./helpers";

let h: Harness;
afterEach(async () => h?.cleanup());

const pass = (extra: object = {}) => ({ Type: "Pass", End: true, ...extra });

describe("Pass and input/output processing", () => {
  it("applies InputPath, Parameters, Result, ResultPath and OutputPath in AWS order", async () => {
    // Arrange
    h = await startEngine();
    const definition = {
      StartAt: "Shape",
      States: {
        Shape: pass({
          InputPath: "$.inner",
          Parameters: { "picked.$": "$.value", fixed: 1 },
          ResultPath: "$.result",
          OutputPath: "$.result",
        }),
      },
    };

    // Act
    const { result } = await runToEnd(h.engine, definition, { inner: { value: "v" }, outer: true });

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect(JSON.parse(result.output as string)).toEqual({ picked: "v", fixed: 1 });
  });

  it("puts a static Result at the ResultPath of the raw input", async () => {
    // Arrange
    h = await startEngine();

    // Act
    const { result } = await runToEnd(
      h.engine,
      { StartAt: "P", States: { P: pass({ Result: { x: 1 }, ResultPath: "$.added" }) } },
      { kept: true },
    );

    // Assert
    expect(JSON.parse(result.output as string)).toEqual({ kept: true, added: { x: 1 } });
  });

  it("exposes the context object to Parameters", async () => {
    // Arrange
    h = await startEngine();
    const definition = {
      StartAt: "Ctx",
      States: {
        Ctx: pass({
          Parameters: {
            "id.$": "$$.Execution.Id",
            "name.$": "$$.Execution.Name",
            "input.$": "$$.Execution.Input",
            "role.$": "$$.Execution.RoleArn",
            "start.$": "$$.Execution.StartTime",
            "state.$": "$$.State.Name",
            "entered.$": "$$.State.EnteredTime",
            "retry.$": "$$.State.RetryCount",
            "machine.$": "$$.StateMachine.Id",
            "machineName.$": "$$.StateMachine.Name",
          },
        }),
      },
    };

    // Act
    const { executionArn, result } = await runToEnd(h.engine, definition, { a: 1 }, "ctx-machine");

    // Assert
    const output = JSON.parse(result.output as string);
    expect(output).toMatchObject({
      id: executionArn,
      name: executionArn.split(":").at(-1),
      input: { a: 1 },
      role: "arn:aws:iam::000000000000:role/secondlook-local-states",
      state: "Ctx",
      retry: 0,
      machine: "arn:aws:states:us-east-1:000000000000:stateMachine:ctx-machine",
      machineName: "ctx-machine",
    });
    expect(Date.parse(output.start)).toBe(result.startDate * 1000);
    expect(Date.parse(output.entered)).toBeGreaterThanOrEqual(Date.parse(output.start));
  });

  it("fails the execution with States.Runtime when a path is missing", async () => {
    // Arrange
    h = await startEngine();

    // Act
    const { result } = await runToEnd(h.engine, {
      StartAt: "P",
      States: { P: pass({ InputPath: "$.nothing" }) },
    });

    // Assert
    expect(result.status).toBe("FAILED");
    expect(result.error).toBe("States.Runtime");
    expect(result.cause).toContain("$.nothing");
  });
});

describe("Choice, Succeed and Fail", () => {
  const definition = {
    StartAt: "Route",
    States: {
      Route: {
        Type: "Choice",
        Choices: [
          { Variable: "$.kind", StringEquals: "ok", Next: "Good" },
          {
            And: [
              { Variable: "$.n", IsPresent: true },
              { Variable: "$.n", NumericGreaterThan: 10 },
            ],
            Next: "Bad",
          },
        ],
        Default: "Other",
      },
      Good: { Type: "Succeed", OutputPath: "$.kind" },
      Bad: { Type: "Fail", Error: "TooBig", Cause: "n is over 10" },
      Other: { Type: "Fail", ErrorPath: "$.e", CausePath: "States.Format('n was {}', $.n)" },
    },
  };

  it("follows the first matching choice to Succeed", async () => {
    // Arrange
    h = await startEngine();

    // Act
    const { executionArn, result } = await runToEnd(h.engine, definition, { kind: "ok" });

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect(result.output).toBe('"ok"');
    expect(await eventTypes(h.engine, executionArn)).toEqual([
      "ExecutionStarted",
      "ChoiceStateEntered",
      "ChoiceStateExited",
      "SucceedStateEntered",
      "SucceedStateExited",
      "ExecutionSucceeded",
    ]);
  });

  it("fails with the Fail state's Error and Cause", async () => {
    // Arrange
    h = await startEngine();

    // Act
    const { executionArn, result } = await runToEnd(h.engine, definition, { kind: "no", n: 11 });

    // Assert
    expect(result).toMatchObject({ status: "FAILED", error: "TooBig", cause: "n is over 10" });
    expect(await eventTypes(h.engine, executionArn)).toEqual([
      "ExecutionStarted",
      "ChoiceStateEntered",
      "ChoiceStateExited",
      "FailStateEntered",
      "ExecutionFailed",
    ]);
  });

  it("reads the Fail state's ErrorPath and an intrinsic CausePath", async () => {
    // Arrange
    h = await startEngine();

    // Act
    const { result } = await runToEnd(h.engine, definition, { kind: "no", n: 2, e: "Custom.Error" });

    // Assert
    expect(result).toMatchObject({ status: "FAILED", error: "Custom.Error", cause: "n was 2" });
  });

  it("fails with States.NoChoiceMatched when no rule matches and there is no Default", async () => {
    // Arrange
    h = await startEngine();
    const noDefault = {
      StartAt: "C",
      States: {
        C: { Type: "Choice", Choices: [{ Variable: "$.x", IsPresent: true, Next: "E" }] },
        E: pass(),
      },
    };

    // Act
    const { result } = await runToEnd(h.engine, noDefault, {});

    // Assert
    expect(result).toMatchObject({ status: "FAILED", error: "States.NoChoiceMatched" });
  });
});

describe("Wait", () => {
  it.each([
    ["Seconds", { Seconds: 2 }],
    ["SecondsPath", { SecondsPath: "$.s" }],
    ["Timestamp", { Timestamp: new Date(Date.now() + 2_000).toISOString() }],
    ["TimestampPath", { TimestampPath: "$.at" }],
  ])("waits with %s (scaled by timeScale) and passes its input on", async (_label, fields) => {
    // Arrange
    h = await startEngine();
    const input = { s: 2, at: new Date(Date.now() + 2_000).toISOString() };
    const started = Date.now();

    // Act
    const { executionArn, result } = await runToEnd(
      h.engine,
      { StartAt: "W", States: { W: { Type: "Wait", ...fields, End: true } } },
      input,
    );

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect(JSON.parse(result.output as string)).toEqual(input);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await eventTypes(h.engine, executionArn)).toContain("WaitStateExited");
  });

  it("really waits: Seconds 1 at timeScale 0.05 takes about 50 ms", async () => {
    // Arrange
    h = await startEngine({}, { timeScale: 0.05 });
    const started = Date.now();

    // Act
    const { result } = await runToEnd(h.engine, {
      StartAt: "W",
      States: { W: { Type: "Wait", Seconds: 1, End: true } },
    });

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });

  it("fails with States.Runtime for a negative SecondsPath", async () => {
    // Arrange
    h = await startEngine();

    // Act
    const { result } = await runToEnd(
      h.engine,
      { StartAt: "W", States: { W: { Type: "Wait", SecondsPath: "$.s", End: true } } },
      { s: -1 },
    );

    // Assert
    expect(result).toMatchObject({ status: "FAILED", error: "States.Runtime" });
  });
});

describe("Parallel", () => {
  it("runs every branch on the same input and collects outputs in branch order", async () => {
    // Arrange
    h = await startEngine({ slow: async (p) => new Promise((r) => setTimeout(() => r({ slow: p }), 20)) });
    const definition = {
      StartAt: "Both",
      States: {
        Both: {
          Type: "Parallel",
          Parameters: { "v.$": "$.v" },
          Branches: [
            { StartAt: "Slow", States: { Slow: { Type: "Task", Resource: functionArn("slow"), End: true } } },
            { StartAt: "Fast", States: { Fast: { Type: "Pass", Result: "fast", End: true } } },
          ],
          ResultSelector: { "first.$": "$[0]", "second.$": "$[1]" },
          ResultPath: "$.both",
          End: true,
        },
      },
    };

    // Act
    const { executionArn, result } = await runToEnd(h.engine, definition, { v: 7 });

    // Assert
    expect(JSON.parse(result.output as string)).toEqual({
      v: 7,
      both: { first: { slow: { v: 7 } }, second: "fast" },
    });
    const types = await eventTypes(h.engine, executionArn);
    expect(types.slice(0, 3)).toEqual(["ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted"]);
    expect(types.slice(-3)).toEqual(["ParallelStateSucceeded", "ParallelStateExited", "ExecutionSucceeded"]);
  });

  it("fails as a whole when one branch fails, and its Catch sees the branch's error", async () => {
    // Arrange
    h = await startEngine();
    const definition = {
      StartAt: "Both",
      States: {
        Both: {
          Type: "Parallel",
          Branches: [
            { StartAt: "Boom", States: { Boom: { Type: "Fail", Error: "BranchError", Cause: "b1" } } },
            { StartAt: "Wait", States: { Wait: { Type: "Wait", Seconds: 60, End: true } } },
          ],
          Catch: [{ ErrorEquals: ["BranchError"], ResultPath: "$.error", Next: "Recovered" }],
          End: true,
        },
        Recovered: pass(),
      },
    };

    // Act
    const { executionArn, result } = await runToEnd(h.engine, definition, {});

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect(JSON.parse(result.output as string)).toEqual({ error: { Error: "BranchError", Cause: "b1" } });
    expect(await eventTypes(h.engine, executionArn)).toContain("ParallelStateFailed");
  });
});

describe("Map (inline)", () => {
  it("runs the processor per item with ItemSelector, $$.Map.Item and MaxConcurrency", async () => {
    // Arrange
    let running = 0;
    let peak = 0;
    h = await startEngine({
      work: async (p) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 10));
        running--;
        return p;
      },
    });
    const definition = {
      StartAt: "Each",
      States: {
        Each: {
          Type: "Map",
          ItemsPath: "$.items",
          MaxConcurrency: 2,
          ItemSelector: { "index.$": "$$.Map.Item.Index", "value.$": "$$.Map.Item.Value", "tag.$": "$.tag" },
          ItemProcessor: {
            ProcessorConfig: { Mode: "INLINE" },
            StartAt: "Work",
            States: { Work: { Type: "Task", Resource: functionArn("work"), End: true } },
          },
          ResultPath: "$.results",
          End: true,
        },
      },
    };

    // Act
    const { executionArn, result } = await runToEnd(h.engine, definition, {
      tag: "t",
      items: ["a", "b", "c", "d"],
    });

    // Assert
    expect(JSON.parse(result.output as string).results).toEqual([
      { index: 0, value: "a", tag: "t" },
      { index: 1, value: "b", tag: "t" },
      { index: 2, value: "c", tag: "t" },
      { index: 3, value: "d", tag: "t" },
    ]);
    expect(peak).toBe(2);
    const types = await eventTypes(h.engine, executionArn);
    expect(types.filter((t) => t === "MapIterationStarted")).toHaveLength(4);
    expect(types.filter((t) => t === "MapIterationSucceeded")).toHaveLength(4);
    expect(types).toContain("MapStateSucceeded");
  });

  it("accepts the legacy Iterator field and an empty item list", async () => {
    // Arrange
    h = await startEngine();
    const definition = {
      StartAt: "Each",
      States: {
        Each: { Type: "Map", Iterator: { StartAt: "P", States: { P: pass() } }, End: true },
      },
    };

    // Act
    const { result } = await runToEnd(h.engine, definition, []);

    // Assert
    expect(result.output).toBe("[]");
  });

  it("fails with States.Runtime when ItemsPath does not select an array", async () => {
    // Arrange
    h = await startEngine();
    const definition = {
      StartAt: "Each",
      States: {
        Each: { Type: "Map", ItemsPath: "$.x", Iterator: { StartAt: "P", States: { P: pass() } }, End: true },
      },
    };

    // Act
    const { result } = await runToEnd(h.engine, definition, { x: "no" });

    // Assert
    expect(result).toMatchObject({ status: "FAILED", error: "States.Runtime" });
  });
});

describe("execution TimeoutSeconds", () => {
  it("times the execution out with ExecutionTimedOut", async () => {
    // Arrange
    h = await startEngine();
    const definition = {
      TimeoutSeconds: 5,
      StartAt: "W",
      States: { W: { Type: "Wait", Seconds: 3600, End: true } },
    };

    // Act
    const { executionArn, result } = await runToEnd(h.engine, definition);

    // Assert
    expect(result).toMatchObject({ status: "TIMED_OUT", error: "States.Timeout" });
    expect((await eventTypes(h.engine, executionArn)).at(-1)).toBe("ExecutionTimedOut");
  });
});

describe("history limit", () => {
  it("fails an execution with States.Runtime when its history reaches 25,000 events", async () => {
    // Arrange
    h = await startEngine();
    const endless = {
      StartAt: "Increment",
      States: {
        Increment: { Type: "Pass", Parameters: { "n.$": "States.MathAdd($.n, 1)" }, Next: "Check" },
        Check: {
          Type: "Choice",
          Choices: [{ Variable: "$.n", NumericLessThan: 0, Next: "Done" }],
          Default: "Increment",
        },
        Done: { Type: "Succeed" },
      },
    };

    // Act
    const { executionArn, result } = await runToEnd(h.engine, endless, { n: 0 });

    // Assert
    expect(result).toMatchObject({ status: "FAILED", error: "States.Runtime" });
    expect(result.cause).toContain("25000 history events");
    const last = await h.engine.getExecutionHistory({ executionArn, reverseOrder: true, maxResults: 1 });
    expect(last.events[0]).toMatchObject({ id: 25_000, type: "ExecutionFailed" });
  });
});

describe("engine options", () => {
  it.each([0, -1, Number.NaN])("refuses a timeScale of %s", async (timeScale) => {
    // Act
    const attempt = createStatesEngine({
      dataDir: "/nonexistent",
      invoker: { invoke: async () => ({}) },
      timeScale,
    });

    // Assert
    await expect(attempt).rejects.toThrow(/timeScale must be positive/);
  });
});
