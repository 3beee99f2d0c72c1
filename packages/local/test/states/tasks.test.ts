import { afterEach, describe, expect, it } from "vitest";
import {
  eventTypes,
  functionArn,
  type Harness,
  namedError,
  run,
  runToEnd,
  startEngine,
  waitFor,
} from "./helpers";

let h: Harness;
afterEach(async () => h?.cleanup());

const invoke = (fn: string, extra: object = {}) => ({
  Type: "Task",
  Resource: "arn:aws:states:::lambda:invoke",
  Parameters: { FunctionName: functionArn(fn), "Payload.$": "$" },
  ...extra,
});

describe("lambda tasks", () => {
  it("lambda:invoke returns ExecutedVersion, Payload and StatusCode, shaped by ResultSelector", async () => {
    // Arrange
    h = await startEngine({ echo: (p) => ({ echoed: p }) });
    const definition = {
      StartAt: "Call",
      States: { Call: invoke("echo", { ResultPath: "$.raw", End: true }) },
    };

    // Act
    const { result } = await runToEnd(h.engine, definition, { a: 1 });

    // Assert
    expect(JSON.parse(result.output as string)).toEqual({
      a: 1,
      raw: { ExecutedVersion: "$LATEST", Payload: { echoed: { a: 1 } }, StatusCode: 200 },
    });
  });

  it("a bare function ARN returns the function result and records LambdaFunction* events", async () => {
    // Arrange
    h = await startEngine({ double: (p) => (p as { n: number }).n * 2 });
    const definition = {
      StartAt: "Call",
      States: { Call: { Type: "Task", Resource: functionArn("double"), End: true } },
    };

    // Act
    const { executionArn, result } = await runToEnd(h.engine, definition, { n: 21 });

    // Assert
    expect(result.output).toBe("42");
    expect(await eventTypes(h.engine, executionArn)).toEqual([
      "ExecutionStarted",
      "TaskStateEntered",
      "LambdaFunctionScheduled",
      "LambdaFunctionStarted",
      "LambdaFunctionSucceeded",
      "TaskStateExited",
      "ExecutionSucceeded",
    ]);
  });

  it("a throwing function fails the task with its errorType and a Lambda-shaped cause", async () => {
    // Arrange
    h = await startEngine({
      broken: () => {
        throw namedError("DetectorUnavailableError", "detector is down");
      },
    });

    // Act
    const { executionArn, result } = await runToEnd(h.engine, {
      StartAt: "Call",
      States: { Call: invoke("broken", { End: true }) },
    });

    // Assert
    expect(result.status).toBe("FAILED");
    expect(result.error).toBe("DetectorUnavailableError");
    expect(JSON.parse(result.cause as string)).toMatchObject({
      errorMessage: "detector is down",
      errorType: "DetectorUnavailableError",
    });
    const history = await h.engine.getExecutionHistory({ executionArn });
    const failed = history.events.find((e) => e.type === "TaskFailed");
    expect(failed?.taskFailedEventDetails).toMatchObject({
      resourceType: "lambda",
      resource: "invoke",
      error: "DetectorUnavailableError",
    });
  });
  it("fails with States.Runtime, without retrying, when ResultSelector cannot read the result", async () => {
    // Arrange
    h = await startEngine({ f: () => ({ other: 1 }) });
    const definition = {
      StartAt: "Call",
      States: {
        Call: invoke("f", {
          ResultSelector: { "value.$": "$.Payload.missing" },
          Retry: [{ ErrorEquals: ["States.ALL"], MaxAttempts: 3 }],
          End: true,
        }),
      },
    };

    // Act
    const { executionArn, result } = await runToEnd(h.engine, definition);

    // Assert
    expect(result).toMatchObject({ status: "FAILED", error: "States.Runtime" });
    expect(h.lambda.calls).toHaveLength(1);
    const types = await eventTypes(h.engine, executionArn);
    expect(types.slice(-2)).toEqual(["TaskSucceeded", "ExecutionFailed"]);
  });
});

describe("Retry", () => {
  it("retries with IntervalSeconds × BackoffRate^n up to MaxAttempts and counts $$.State.RetryCount", async () => {
    // Arrange
    const times: number[] = [];
    const retryCounts: unknown[] = [];
    h = await startEngine(
      {
        flaky: (p) => {
          times.push(Date.now());
          retryCounts.push((p as { retry: number }).retry);
          if (times.length < 4) throw namedError("Lambda.ServiceException");
          return "ok";
        },
      },
      { timeScale: 0.02 },
    );
    const definition = {
      StartAt: "Call",
      States: {
        Call: {
          Type: "Task",
          Resource: "arn:aws:states:::lambda:invoke",
          Parameters: { FunctionName: functionArn("flaky"), Payload: { "retry.$": "$$.State.RetryCount" } },
          Retry: [
            { ErrorEquals: ["Lambda.ServiceException"], IntervalSeconds: 1, BackoffRate: 2, MaxAttempts: 3 },
          ],
          OutputPath: "$.Payload",
          End: true,
        },
      },
    };

    // Act
    const { executionArn, result } = await runToEnd(h.engine, definition);

    // Assert
    expect(result.output).toBe('"ok"');
    expect(retryCounts).toEqual([0, 1, 2, 3]);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    expect(gaps[0]).toBeGreaterThanOrEqual(18);
    expect(gaps[1]).toBeGreaterThanOrEqual(38);
    expect(gaps[2]).toBeGreaterThanOrEqual(78);
    const types = await eventTypes(h.engine, executionArn);
    expect(types.filter((t) => t === "TaskFailed")).toHaveLength(3);
    expect(types.filter((t) => t === "TaskStateEntered")).toHaveLength(1);
  });

  it("gives up after MaxAttempts and fails with the last error", async () => {
    // Arrange
    h = await startEngine({
      fails: () => {
        throw namedError("CounterConflictError");
      },
    });
    const definition = {
      StartAt: "Call",
      States: {
        Call: invoke("fails", {
          Retry: [{ ErrorEquals: ["States.ALL"], MaxAttempts: 2, IntervalSeconds: 1 }],
          End: true,
        }),
      },
    };

    // Act
    const { result } = await runToEnd(h.engine, definition);

    // Assert
    expect(result.error).toBe("CounterConflictError");
    expect(h.lambda.calls).toHaveLength(3);
  });

  it("never retries with MaxAttempts 0 and uses only the first matching retrier", async () => {
    // Arrange
    h = await startEngine({
      fails: () => {
        throw namedError("A");
      },
    });
    const definition = {
      StartAt: "Call",
      States: {
        Call: invoke("fails", {
          Retry: [
            { ErrorEquals: ["A"], MaxAttempts: 0 },
            { ErrorEquals: ["States.ALL"], MaxAttempts: 5 },
          ],
          End: true,
        }),
      },
    };

    // Act
    const { result } = await runToEnd(h.engine, definition);

    // Assert
    expect(result.error).toBe("A");
    expect(h.lambda.calls).toHaveLength(1);
  });

  it("caps delays at MaxDelaySeconds and keeps FULL jitter below the computed delay", async () => {
    // Arrange
    const times: number[] = [];
    h = await startEngine(
      {
        fails: () => {
          times.push(Date.now());
          throw namedError("E");
        },
      },
      { timeScale: 0.02 },
    );
    const definition = {
      StartAt: "Call",
      States: {
        Call: invoke("fails", {
          Retry: [
            {
              ErrorEquals: ["E"],
              IntervalSeconds: 2,
              BackoffRate: 10,
              MaxAttempts: 3,
              MaxDelaySeconds: 3,
              JitterStrategy: "FULL",
            },
          ],
          End: true,
        }),
      },
    };

    // Act
    await runToEnd(h.engine, definition);

    // Assert: without the cap the third delay would be 200 s (4 s scaled); capped it is at most 3 s (60 ms).
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    expect(gaps).toHaveLength(3);
    for (const gap of gaps) expect(gap).toBeLessThan(60 + 40);
  });
});

describe("Catch", () => {
  it("routes a caught error to Next with {Error, Cause} at ResultPath", async () => {
    // Arrange
    h = await startEngine({
      fails: () => {
        throw namedError("HumanLoopFailedError", "loop failed");
      },
    });
    const definition = {
      StartAt: "Call",
      States: {
        Call: invoke("fails", {
          Catch: [
            { ErrorEquals: ["Other"], Next: "Wrong" },
            { ErrorEquals: ["HumanLoopFailedError"], ResultPath: "$.failure", Next: "Handled" },
          ],
          End: true,
        }),
        Wrong: { Type: "Fail", Error: "Wrong" },
        Handled: { Type: "Pass", End: true },
      },
    };

    // Act
    const { executionArn, result } = await runToEnd(h.engine, definition, { image: "x" });

    // Assert
    const output = JSON.parse(result.output as string);
    expect(output.image).toBe("x");
    expect(output.failure.Error).toBe("HumanLoopFailedError");
    expect(JSON.parse(output.failure.Cause).errorMessage).toBe("loop failed");
    expect(await eventTypes(h.engine, executionArn)).toEqual([
      "ExecutionStarted",
      "TaskStateEntered",
      "TaskScheduled",
      "TaskStarted",
      "TaskFailed",
      "TaskStateExited",
      "PassStateEntered",
      "PassStateExited",
      "ExecutionSucceeded",
    ]);
  });

  it("retries first and catches only after the retries are spent", async () => {
    // Arrange
    h = await startEngine({
      fails: () => {
        throw namedError("E");
      },
    });
    const definition = {
      StartAt: "Call",
      States: {
        Call: invoke("fails", {
          Retry: [{ ErrorEquals: ["E"], MaxAttempts: 2 }],
          Catch: [{ ErrorEquals: ["States.ALL"], Next: "Handled" }],
          End: true,
        }),
        Handled: { Type: "Pass", End: true },
      },
    };

    // Act
    const { result } = await runToEnd(h.engine, definition);

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect(h.lambda.calls).toHaveLength(3);
  });
});

describe("task timeouts", () => {
  const slowFunction = { slow: () => new Promise((r) => setTimeout(() => r("late"), 2_000)) };

  it("TimeoutSeconds fails the task with States.Timeout, which States.TaskFailed does not catch", async () => {
    // Arrange
    h = await startEngine(slowFunction);
    const definition = {
      StartAt: "Call",
      States: {
        Call: invoke("slow", {
          TimeoutSeconds: 10,
          Catch: [{ ErrorEquals: ["States.TaskFailed"], Next: "Caught" }],
          End: true,
        }),
        Caught: { Type: "Pass", End: true },
      },
    };

    // Act
    const { executionArn, result } = await runToEnd(h.engine, definition);

    // Assert
    expect(result).toMatchObject({ status: "FAILED", error: "States.Timeout" });
    const history = await h.engine.getExecutionHistory({ executionArn });
    expect(history.events.find((e) => e.type === "TaskTimedOut")?.taskTimedOutEventDetails).toMatchObject({
      error: "States.Timeout",
      resourceType: "lambda",
      resource: "invoke",
    });
    expect(history.events.find((e) => e.type === "TaskScheduled")?.taskScheduledEventDetails).toMatchObject({
      timeoutInSeconds: 10,
    });
  });

  it("TimeoutSecondsPath reads the timeout from the input and States.Timeout catches it", async () => {
    // Arrange
    h = await startEngine(slowFunction);
    const definition = {
      StartAt: "Call",
      States: {
        Call: invoke("slow", {
          TimeoutSecondsPath: "$.limit",
          Catch: [{ ErrorEquals: ["States.Timeout"], ResultPath: "$.err", Next: "Caught" }],
          End: true,
        }),
        Caught: { Type: "Pass", End: true },
      },
    };

    // Act
    const { result } = await runToEnd(h.engine, definition, { limit: 5 });

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect(JSON.parse(result.output as string).err.Error).toBe("States.Timeout");
  });

  it("a missed heartbeat fails with States.HeartbeatTimeout, which States.Timeout also catches", async () => {
    // Arrange
    h = await startEngine({ start: () => ({ submitted: true }) });
    const definition = {
      StartAt: "Wait",
      States: {
        Wait: {
          Type: "Task",
          Resource: "arn:aws:states:::lambda:invoke.waitForTaskToken",
          Parameters: { FunctionName: functionArn("start"), Payload: { "token.$": "$$.Task.Token" } },
          HeartbeatSeconds: 5,
          TimeoutSeconds: 100,
          Catch: [{ ErrorEquals: ["States.Timeout"], ResultPath: "$.err", Next: "Caught" }],
          End: true,
        },
        Caught: { Type: "Pass", End: true },
      },
    };

    // Act
    const { result } = await runToEnd(h.engine, definition);

    // Assert
    expect(JSON.parse(result.output as string).err.Error).toBe("States.HeartbeatTimeout");
  });

  it("HeartbeatSecondsPath reads the heartbeat interval from the input", async () => {
    // Arrange
    h = await startEngine({ start: () => ({}) });
    const definition = {
      StartAt: "Wait",
      States: {
        Wait: {
          Type: "Task",
          Resource: "arn:aws:states:::lambda:invoke.waitForTaskToken",
          Parameters: { FunctionName: functionArn("start"), Payload: { "token.$": "$$.Task.Token" } },
          HeartbeatSecondsPath: "$.beat",
          End: true,
        },
      },
    };

    // Act
    const { executionArn, result } = await runToEnd(h.engine, definition, { beat: 7 });

    // Assert
    expect(result).toMatchObject({ status: "FAILED", error: "States.HeartbeatTimeout" });
    const history = await h.engine.getExecutionHistory({ executionArn });
    expect(history.events.find((e) => e.type === "TaskScheduled")?.taskScheduledEventDetails).toMatchObject({
      heartbeatInSeconds: 7,
    });
  });

  it("fails with States.Runtime when TimeoutSecondsPath does not hold a positive integer", async () => {
    // Arrange
    h = await startEngine({ f: () => "ok" });
    const definition = {
      StartAt: "Call",
      States: { Call: invoke("f", { TimeoutSecondsPath: "$.limit", End: true }) },
    };

    // Act
    const { result } = await runToEnd(h.engine, definition, { limit: "soon" });

    // Assert
    expect(result).toMatchObject({ status: "FAILED", error: "States.Runtime" });
    expect(result.cause).toContain("TimeoutSeconds must be a positive integer");
  });

  it("does not time out a request-response lambda:invoke on HeartbeatSeconds, which it cannot send", async () => {
    // Arrange: the heartbeat period is 5 s × 0.001 = 5 ms; the function answers after 60 ms.
    h = await startEngine({
      slow: async (p) => {
        await new Promise((resolve) => setTimeout(resolve, 60));
        return p;
      },
    });
    const definition = {
      StartAt: "Call",
      States: { Call: invoke("slow", { HeartbeatSeconds: 5, TimeoutSeconds: 10_000, End: true }) },
    };

    // Act
    const { executionArn, result } = await runToEnd(h.engine, definition, { v: 1 });

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    const history = await h.engine.getExecutionHistory({ executionArn });
    expect(history.events.find((e) => e.type === "TaskScheduled")?.taskScheduledEventDetails).toMatchObject({
      heartbeatInSeconds: 5,
      timeoutInSeconds: 10_000,
    });
  });

  it("does not time out a bare Lambda function ARN task on HeartbeatSeconds", async () => {
    // Arrange
    h = await startEngine({
      slow: async () => {
        await new Promise((resolve) => setTimeout(resolve, 60));
        return "late";
      },
    });
    const definition = {
      StartAt: "Call",
      States: { Call: { Type: "Task", Resource: functionArn("slow"), HeartbeatSeconds: 5, End: true } },
    };

    // Act
    const { result } = await runToEnd(h.engine, definition);

    // Assert
    expect(result).toMatchObject({ status: "SUCCEEDED", output: '"late"' });
  });

  it("holds a .sync child execution to HeartbeatSeconds", async () => {
    // Arrange
    h = await startEngine();
    const { stateMachineArn } = await h.engine.createStateMachine({
      name: "slow-child",
      definition: JSON.stringify({
        StartAt: "Hold",
        States: { Hold: { Type: "Wait", Seconds: 600, End: true } },
      }),
    });
    const definition = {
      StartAt: "RunChild",
      States: {
        RunChild: {
          Type: "Task",
          Resource: "arn:aws:states:::states:startExecution.sync:2",
          Parameters: { StateMachineArn: stateMachineArn, Input: {} },
          HeartbeatSeconds: 5,
          End: true,
        },
      },
    };

    // Act
    const { result } = await runToEnd(h.engine, definition);

    // Assert
    expect(result).toMatchObject({ status: "FAILED", error: "States.HeartbeatTimeout" });
  });

  it("SendTaskHeartbeat keeps a callback task alive past HeartbeatSeconds", async () => {
    // Arrange
    let token = "";
    h = await startEngine(
      {
        start: (p) => {
          token = (p as { token: string }).token;
          return {};
        },
      },
      { timeScale: 0.04 },
    );
    const definition = {
      StartAt: "Wait",
      States: {
        Wait: {
          Type: "Task",
          Resource: "arn:aws:states:::lambda:invoke.waitForTaskToken",
          Parameters: { FunctionName: functionArn("start"), Payload: { "token.$": "$$.Task.Token" } },
          HeartbeatSeconds: 5,
          End: true,
        },
      },
    };
    const executionArn = await run(h.engine, definition);

    // Act: the heartbeat period is 5 s × 0.04 = 200 ms; beat every 20 ms for 300 ms, then answer.
    for (let i = 0; i < 15; i++) {
      await new Promise((r) => setTimeout(r, 20));
      await h.engine.sendTaskHeartbeat(token);
    }
    await h.engine.sendTaskSuccess(token, '{"done":true}');
    const result = await waitFor(h.engine, executionArn);

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect(result.output).toBe('{"done":true}');
  });
});

describe("states:startExecution", () => {
  const child = { StartAt: "Done", States: { Done: { Type: "Pass", Result: { child: true }, End: true } } };

  it("starts a child fire-and-forget and returns its ARN and start date", async () => {
    // Arrange
    h = await startEngine();
    const { stateMachineArn } = await h.engine.createStateMachine({
      name: "child",
      definition: JSON.stringify(child),
    });
    const parent = {
      StartAt: "Start",
      States: {
        Start: {
          Type: "Task",
          Resource: "arn:aws:states:::states:startExecution",
          Parameters: {
            StateMachineArn: stateMachineArn,
            "Name.$": "$.name",
            Input: { "from.$": "$$.Execution.Id" },
          },
          End: true,
        },
      },
    };

    // Act
    const { executionArn, result } = await runToEnd(h.engine, parent, { name: "child-1" });

    // Assert
    const output = JSON.parse(result.output as string);
    expect(output.ExecutionArn).toBe("arn:aws:states:us-east-1:000000000000:execution:child:child-1");
    expect(typeof output.StartDate).toBe("number");
    const childRun = await waitFor(h.engine, output.ExecutionArn);
    expect(JSON.parse(childRun.input)).toEqual({ from: executionArn });
  });

  it("fails with StepFunctions.ExecutionAlreadyExistsException for a used name, which Catch can route", async () => {
    // Arrange
    h = await startEngine();
    const { stateMachineArn } = await h.engine.createStateMachine({
      name: "child",
      definition: JSON.stringify(child),
    });
    const first = await h.engine.startExecution({ stateMachineArn, name: "once", input: "{}" });
    await waitFor(h.engine, first.executionArn);
    const parent = {
      StartAt: "Start",
      States: {
        Start: {
          Type: "Task",
          Resource: "arn:aws:states:::states:startExecution",
          Parameters: { StateMachineArn: stateMachineArn, Name: "once", Input: {} },
          ResultPath: null,
          Catch: [
            {
              ErrorEquals: ["StepFunctions.ExecutionAlreadyExistsException"],
              ResultPath: "$.err",
              Next: "Dup",
            },
          ],
          End: true,
        },
        Dup: { Type: "Pass", End: true },
      },
    };

    // Act
    const { result } = await runToEnd(h.engine, parent, {});

    // Assert
    expect(JSON.parse(result.output as string).err.Error).toBe(
      "StepFunctions.ExecutionAlreadyExistsException",
    );
  });

  it(".sync:2 waits for the child and returns its output as JSON", async () => {
    // Arrange
    h = await startEngine();
    const slowChild = {
      StartAt: "W",
      States: {
        W: { Type: "Wait", Seconds: 5, Next: "Done" },
        Done: { Type: "Pass", Result: { v: 1 }, End: true },
      },
    };
    const { stateMachineArn } = await h.engine.createStateMachine({
      name: "child",
      definition: JSON.stringify(slowChild),
    });
    const parent = {
      StartAt: "Start",
      States: {
        Start: {
          Type: "Task",
          Resource: "arn:aws:states:::states:startExecution.sync:2",
          Parameters: { StateMachineArn: stateMachineArn, Input: { a: 1 } },
          End: true,
        },
      },
    };

    // Act
    const { executionArn, result } = await runToEnd(h.engine, parent, {});

    // Assert
    const output = JSON.parse(result.output as string);
    expect(output).toMatchObject({
      Status: "SUCCEEDED",
      Output: { v: 1 },
      Input: { a: 1 },
      StateMachineArn: stateMachineArn,
    });
    expect(await eventTypes(h.engine, executionArn)).toContain("TaskSubmitted");
  });

  it(".sync waits for the child and returns its input and output as JSON text", async () => {
    // Arrange
    h = await startEngine();
    const { stateMachineArn } = await h.engine.createStateMachine({
      name: "child",
      definition: JSON.stringify(child),
    });
    const parent = {
      StartAt: "Start",
      States: {
        Start: {
          Type: "Task",
          Resource: "arn:aws:states:::states:startExecution.sync",
          Parameters: { StateMachineArn: stateMachineArn, Input: '{"raw":true}' },
          End: true,
        },
      },
    };

    // Act
    const { result } = await runToEnd(h.engine, parent, {});

    // Assert
    const output = JSON.parse(result.output as string);
    expect(output).toMatchObject({ Status: "SUCCEEDED", Output: '{"child":true}', Input: '{"raw":true}' });
  });

  it(".sync:2 fails the task with States.TaskFailed when the child fails", async () => {
    // Arrange
    h = await startEngine();
    const failing = { StartAt: "F", States: { F: { Type: "Fail", Error: "ChildBroke", Cause: "c" } } };
    const { stateMachineArn } = await h.engine.createStateMachine({
      name: "child",
      definition: JSON.stringify(failing),
    });
    const parent = {
      StartAt: "Start",
      States: {
        Start: {
          Type: "Task",
          Resource: "arn:aws:states:::states:startExecution.sync:2",
          Parameters: { StateMachineArn: stateMachineArn },
          End: true,
        },
      },
    };

    // Act
    const { result } = await runToEnd(h.engine, parent, {});

    // Assert
    expect(result.status).toBe("FAILED");
    expect(result.error).toBe("States.TaskFailed");
    expect(JSON.parse(result.cause as string).Status).toBe("FAILED");
  });
});

describe("aws-sdk integrations", () => {
  it("delegates to the sdk hook with the service, action and Parameters", async () => {
    // Arrange
    const calls: unknown[] = [];
    h = await startEngine(
      {},
      {
        sdk: async (service, action, params) => {
          calls.push({ service, action, params });
          return { Parameter: { Value: "0.8" } };
        },
      },
    );
    const definition = {
      StartAt: "Get",
      States: {
        Get: {
          Type: "Task",
          Resource: "arn:aws:states:::aws-sdk:ssm:getParameter",
          Parameters: { "Name.$": "$.name" },
          ResultSelector: { "value.$": "$.Parameter.Value" },
          End: true,
        },
      },
    };

    // Act
    const { executionArn, result } = await runToEnd(h.engine, definition, { name: "/x" });

    // Assert
    expect(calls).toEqual([{ service: "ssm", action: "getParameter", params: { Name: "/x" } }]);
    expect(JSON.parse(result.output as string)).toEqual({ value: "0.8" });
    const history = await h.engine.getExecutionHistory({ executionArn });
    expect(history.events.find((e) => e.type === "TaskScheduled")?.taskScheduledEventDetails).toMatchObject({
      resourceType: "aws-sdk:ssm",
      resource: "getParameter",
    });
  });

  it("prefixes SDK errors with the service name", async () => {
    // Arrange
    h = await startEngine(
      {},
      {
        sdk: async () => {
          throw namedError("ValidationException", "bad loop name");
        },
      },
    );
    const definition = {
      StartAt: "Start",
      States: {
        Start: {
          Type: "Task",
          Resource: "arn:aws:states:::aws-sdk:sagemakera2iruntime:startHumanLoop",
          End: true,
        },
      },
    };

    // Act
    const { result } = await runToEnd(h.engine, definition);

    // Assert
    expect(result).toMatchObject({
      status: "FAILED",
      error: "SageMakerA2IRuntime.ValidationException",
      cause: "bad loop name",
    });
  });

  it("fails with States.Runtime when no sdk hook is configured", async () => {
    // Arrange
    h = await startEngine();
    const definition = {
      StartAt: "Get",
      States: { Get: { Type: "Task", Resource: "arn:aws:states:::aws-sdk:s3:getObject", End: true } },
    };

    // Act
    const { result } = await runToEnd(h.engine, definition);

    // Assert
    expect(result).toMatchObject({ status: "FAILED", error: "States.Runtime" });
  });
});
