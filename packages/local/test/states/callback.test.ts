import { afterEach, describe, expect, it } from "vitest";
import { functionArn, type Harness, run, startEngine, waitFor, waitForEvent } from "./helpers";

let h: Harness;
afterEach(async () => h?.cleanup());

const callbackMachine = (extra: object = {}) => ({
  StartAt: "AskHuman",
  States: {
    AskHuman: {
      Type: "Task",
      Resource: "arn:aws:states:::lambda:invoke.waitForTaskToken",
      Parameters: { FunctionName: functionArn("ask"), Payload: { "token.$": "$$.Task.Token", "q.$": "$.q" } },
      End: true,
      ...extra,
    },
  },
});

/** Starts the callback machine and returns the execution and the token the function received. */
async function startCallback(extra: object = {}, functions = {}) {
  const tokens: string[] = [];
  h = await startEngine({
    ask: (p) => {
      tokens.push((p as { token: string }).token);
      return { HumanLoopArn: "arn:loop" };
    },
    ...functions,
  });
  const executionArn = await run(h.engine, callbackMachine(extra), { q: "which logo?" });
  await waitForEvent(h.engine, executionArn, "TaskSubmitted");
  return { executionArn, tokens };
}

async function history(executionArn: string) {
  return (await h.engine.getExecutionHistory({ executionArn })).events;
}

describe("callback history (§7.3)", () => {
  it("records the success path field by field", async () => {
    // Arrange
    const { executionArn, tokens } = await startCallback();
    const token = tokens[0] as string;

    // Act
    await h.engine.sendTaskSuccess(token, '{"label":"acme"}');
    await waitFor(h.engine, executionArn);

    // Assert
    const events = await history(executionArn);
    expect(events.map((e) => [e.id, e.previousEventId, e.type])).toEqual([
      [1, 0, "ExecutionStarted"],
      [2, 0, "TaskStateEntered"],
      [3, 2, "TaskScheduled"],
      [4, 3, "TaskStarted"],
      [5, 4, "TaskSubmitted"],
      [6, 5, "TaskSucceeded"],
      [7, 6, "TaskStateExited"],
      [8, 7, "ExecutionSucceeded"],
    ]);
    const [started, entered, scheduled, taskStarted, submitted, succeeded, exited, done] = events;
    expect(started?.executionStartedEventDetails).toEqual({
      input: '{"q":"which logo?"}',
      inputDetails: { truncated: false },
      roleArn: "arn:aws:iam::000000000000:role/secondlook-local-states",
    });
    expect(entered?.stateEnteredEventDetails).toEqual({
      name: "AskHuman",
      input: '{"q":"which logo?"}',
      inputDetails: { truncated: false },
    });
    expect(scheduled?.taskScheduledEventDetails).toEqual({
      resourceType: "lambda",
      resource: "invoke.waitForTaskToken",
      region: "us-east-1",
      parameters: JSON.stringify({ FunctionName: functionArn("ask"), Payload: { token, q: "which logo?" } }),
    });
    expect(taskStarted?.taskStartedEventDetails).toEqual({
      resourceType: "lambda",
      resource: "invoke.waitForTaskToken",
    });
    expect(submitted?.taskSubmittedEventDetails).toEqual({
      resourceType: "lambda",
      resource: "invoke.waitForTaskToken",
      output: JSON.stringify({
        ExecutedVersion: "$LATEST",
        Payload: { HumanLoopArn: "arn:loop" },
        StatusCode: 200,
      }),
      outputDetails: { truncated: false },
    });
    expect(succeeded?.taskSucceededEventDetails).toEqual({
      resourceType: "lambda",
      resource: "invoke.waitForTaskToken",
      output: '{"label":"acme"}',
      outputDetails: { truncated: false },
    });
    expect(exited?.stateExitedEventDetails).toEqual({
      name: "AskHuman",
      output: '{"label":"acme"}',
      outputDetails: { truncated: false },
    });
    expect(done?.executionSucceededEventDetails).toEqual({
      output: '{"label":"acme"}',
      outputDetails: { truncated: false },
    });
    for (const event of events) expect(typeof event.timestamp).toBe("number");
  });

  it("records the failure path with the sent error and cause", async () => {
    // Arrange
    const { executionArn, tokens } = await startCallback();

    // Act
    await h.engine.sendTaskFailure(tokens[0] as string, "Failure error", "Failure cause");
    const result = await waitFor(h.engine, executionArn);

    // Assert
    const events = await history(executionArn);
    expect(events.slice(5).map((e) => [e.id, e.previousEventId, e.type])).toEqual([
      [6, 5, "TaskFailed"],
      [7, 6, "ExecutionFailed"],
    ]);
    expect(events[5]?.taskFailedEventDetails).toEqual({
      resourceType: "lambda",
      resource: "invoke.waitForTaskToken",
      error: "Failure error",
      cause: "Failure cause",
    });
    expect(events[6]?.executionFailedEventDetails).toEqual({
      error: "Failure error",
      cause: "Failure cause",
    });
    expect(result).toMatchObject({ status: "FAILED", error: "Failure error", cause: "Failure cause" });
  });

  it("records the timeout path with States.Timeout", async () => {
    // Arrange
    const { executionArn } = await startCallback({ TimeoutSeconds: 50 });

    // Act
    const result = await waitFor(h.engine, executionArn);

    // Assert
    const events = await history(executionArn);
    expect(events.map((e) => e.type)).toEqual([
      "ExecutionStarted",
      "TaskStateEntered",
      "TaskScheduled",
      "TaskStarted",
      "TaskSubmitted",
      "TaskTimedOut",
      "ExecutionFailed",
    ]);
    expect(events[2]?.taskScheduledEventDetails).toMatchObject({ timeoutInSeconds: 50 });
    expect(events[5]?.taskTimedOutEventDetails).toEqual({
      resourceType: "lambda",
      resource: "invoke.waitForTaskToken",
      error: "States.Timeout",
    });
    expect(events[6]?.executionFailedEventDetails).toEqual({ error: "States.Timeout" });
    expect(result.status).toBe("FAILED");
  });
});

describe("task tokens", () => {
  it("answers a second SendTaskSuccess on the same token with TaskTimedOut", async () => {
    // Arrange
    const { executionArn, tokens } = await startCallback();
    await h.engine.sendTaskSuccess(tokens[0] as string, "{}");
    await waitFor(h.engine, executionArn);

    // Act
    const again = h.engine.sendTaskSuccess(tokens[0] as string, "{}");

    // Assert
    await expect(again).rejects.toMatchObject({ code: "TaskTimedOut" });
  });

  it("answers a token of an expired task with TaskTimedOut", async () => {
    // Arrange
    const { executionArn, tokens } = await startCallback({ TimeoutSeconds: 50 });
    await waitFor(h.engine, executionArn);

    // Act
    const late = h.engine.sendTaskFailure(tokens[0] as string, "E");

    // Assert
    await expect(late).rejects.toMatchObject({ code: "TaskTimedOut" });
  });

  it.each([
    ["a malformed token", "not a token!"],
    ["an empty token", ""],
    ["a token over 2048 characters", "A".repeat(2049)],
    ["a well-encoded token this engine never minted", Buffer.from('{"v":2}').toString("base64url")],
  ])("answers %s with InvalidToken", async (_label, token) => {
    // Arrange
    h = await startEngine();

    // Act
    const attempt = h.engine.sendTaskSuccess(token, "{}");

    // Assert
    await expect(attempt).rejects.toMatchObject({ code: "InvalidToken" });
  });

  it("refuses output that is not JSON with InvalidOutput and keeps the task open", async () => {
    // Arrange
    const { executionArn, tokens } = await startCallback();
    const token = tokens[0] as string;

    // Act
    const bad = h.engine.sendTaskSuccess(token, "{nope");

    // Assert
    await expect(bad).rejects.toMatchObject({ code: "InvalidOutput" });
    await h.engine.sendTaskSuccess(token, '{"ok":1}');
    expect((await waitFor(h.engine, executionArn)).output).toBe('{"ok":1}');
  });

  it("refuses output over 262,144 bytes and keeps the task open", async () => {
    // Arrange
    const { tokens } = await startCallback();

    // Act
    const big = h.engine.sendTaskSuccess(tokens[0] as string, JSON.stringify("x".repeat(262_144)));

    // Assert
    await expect(big).rejects.toMatchObject({ code: "ValidationException" });
    await expect(h.engine.sendTaskHeartbeat(tokens[0] as string)).resolves.toBeUndefined();
  });

  it("gives a retried callback attempt a new token and closes the old one", async () => {
    // Arrange
    const { executionArn, tokens } = await startCallback({
      Retry: [{ ErrorEquals: ["Retryable"], IntervalSeconds: 1, MaxAttempts: 1 }],
    });

    // Act
    await h.engine.sendTaskFailure(tokens[0] as string, "Retryable", "first try");
    while (tokens.length < 2) await new Promise((r) => setTimeout(r, 5));
    await waitForEvent(h.engine, executionArn, "TaskSubmitted");
    const stale = h.engine.sendTaskSuccess(tokens[0] as string, "{}");

    // Assert
    expect(tokens[1]).not.toBe(tokens[0]);
    await expect(stale).rejects.toMatchObject({ code: "TaskTimedOut" });
    await h.engine.sendTaskSuccess(tokens[1] as string, '"second"');
    expect((await waitFor(h.engine, executionArn)).output).toBe('"second"');
  });

  it("accepts a callback that arrives before the starting function has returned", async () => {
    // Arrange
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const tokens: string[] = [];
    h = await startEngine({
      ask: async (p) => {
        tokens.push((p as { token: string }).token);
        await gate;
        return {};
      },
    });
    const executionArn = await run(h.engine, callbackMachine(), { q: "?" });
    while (tokens.length === 0) await new Promise((r) => setTimeout(r, 5));

    // Act
    await h.engine.sendTaskSuccess(tokens[0] as string, '"early"');
    release();
    const result = await waitFor(h.engine, executionArn);

    // Assert
    expect(result.output).toBe('"early"');
    const types = (await history(executionArn)).map((e) => e.type);
    expect(types).not.toContain("TaskSubmitted");
  });

  it("fails the task with the starting function's error when it throws", async () => {
    // Arrange
    h = await startEngine({
      ask: () => {
        throw Object.assign(new Error("no flow"), { name: "ValidationError" });
      },
    });

    // Act
    const executionArn = await run(h.engine, callbackMachine(), { q: "?" });
    const result = await waitFor(h.engine, executionArn);

    // Assert
    expect(result).toMatchObject({ status: "FAILED", error: "ValidationError" });
  });
});
