/**
 * The callback histories AWS recorded (aws-contracts.md §7.3, LocalStack's snapshots of real AWS):
 * one `sqs:sendMessage.waitForTaskToken` task that is the only state, answered with
 * SendTaskSuccess, SendTaskFailure, or left to time out — compared field by field.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type Harness, run, startEngine, waitFor, waitForEvent } from "../helpers";

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.cleanup();
});

const sent: { service: string; action: string; params: unknown }[] = [];
const sqsResponse = { MD5OfMessageBody: "3bcb6e8e-8b8f-4f3c-9a5d-d8e4a5cf0a7c", MessageId: "f3a5e7e1-1111" };

async function engine() {
  const h = await startEngine(
    {},
    {
      sdk: async (service, action, params) => {
        sent.push({ service, action, params });
        return sqsResponse;
      },
    },
  );
  harnesses.push(h);
  return h;
}

const callbackMachine = (timeoutSeconds?: number) => ({
  StartAt: "SendMessageWithWait",
  States: {
    SendMessageWithWait: {
      Type: "Task",
      Resource: "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
      Parameters: {
        QueueUrl: "https://sqs.us-east-1.amazonaws.com/000000000000/queue",
        MessageBody: { "Message.$": "$.message", "TaskToken.$": "$$.Task.Token" },
      },
      ...(timeoutSeconds === undefined ? {} : { TimeoutSeconds: timeoutSeconds }),
      End: true,
    },
  },
});

async function history(h: Harness, executionArn: string) {
  return (await h.engine.getExecutionHistory({ executionArn, maxResults: 100 })).events;
}

async function tokenOf(h: Harness, executionArn: string) {
  await waitForEvent(h.engine, executionArn, "TaskSubmitted");
  const scheduled = (await history(h, executionArn)).find((e) => e.type === "TaskScheduled");
  const details = scheduled?.taskScheduledEventDetails as { parameters: string };
  return JSON.parse(details.parameters).MessageBody.TaskToken as string;
}

describe("callback task histories as recorded against AWS (§7.3)", () => {
  it("records the eight events of a callback answered with SendTaskSuccess, field by field", async () => {
    // Arrange
    const h = await engine();
    const input = { message: "txt" };
    const executionArn = await run(h.engine, callbackMachine(), input);
    const token = await tokenOf(h, executionArn);

    // Act
    await h.engine.sendTaskSuccess(token, '{"answer":42}');
    await waitFor(h.engine, executionArn);
    const events = await history(h, executionArn);

    // Assert
    const data = { truncated: false };
    const resource = { resourceType: "sqs", resource: "sendMessage.waitForTaskToken" };
    const inputText = JSON.stringify(input);
    expect(events.map(({ timestamp, ...rest }) => rest)).toEqual([
      {
        id: 1,
        previousEventId: 0,
        type: "ExecutionStarted",
        executionStartedEventDetails: { input: inputText, inputDetails: data, roleArn: expect.any(String) },
      },
      {
        id: 2,
        previousEventId: 0,
        type: "TaskStateEntered",
        stateEnteredEventDetails: { name: "SendMessageWithWait", input: inputText, inputDetails: data },
      },
      {
        id: 3,
        previousEventId: 2,
        type: "TaskScheduled",
        taskScheduledEventDetails: {
          ...resource,
          region: "us-east-1",
          parameters: JSON.stringify({
            QueueUrl: "https://sqs.us-east-1.amazonaws.com/000000000000/queue",
            MessageBody: { Message: "txt", TaskToken: token },
          }),
        },
      },
      { id: 4, previousEventId: 3, type: "TaskStarted", taskStartedEventDetails: resource },
      {
        id: 5,
        previousEventId: 4,
        type: "TaskSubmitted",
        taskSubmittedEventDetails: { ...resource, output: JSON.stringify(sqsResponse), outputDetails: data },
      },
      {
        id: 6,
        previousEventId: 5,
        type: "TaskSucceeded",
        taskSucceededEventDetails: { ...resource, output: '{"answer":42}', outputDetails: data },
      },
      {
        id: 7,
        previousEventId: 6,
        type: "TaskStateExited",
        stateExitedEventDetails: {
          name: "SendMessageWithWait",
          output: '{"answer":42}',
          outputDetails: data,
        },
      },
      {
        id: 8,
        previousEventId: 7,
        type: "ExecutionSucceeded",
        executionSucceededEventDetails: { output: '{"answer":42}', outputDetails: data },
      },
    ]);
    expect(events.every((e) => typeof e.timestamp === "number")).toBe(true);
    expect(sent.at(-1)).toMatchObject({ service: "sqs", action: "sendMessage" });
  });

  it("records TaskFailed then ExecutionFailed with SendTaskFailure's error and cause", async () => {
    // Arrange
    const h = await engine();
    const executionArn = await run(h.engine, callbackMachine(), { message: "txt" });
    const token = await tokenOf(h, executionArn);

    // Act
    await h.engine.sendTaskFailure(token, "Failure error", "Failure cause");
    await waitFor(h.engine, executionArn);
    const events = await history(h, executionArn);

    // Assert
    expect(events.slice(5).map(({ timestamp, ...rest }) => rest)).toEqual([
      {
        id: 6,
        previousEventId: 5,
        type: "TaskFailed",
        taskFailedEventDetails: {
          resourceType: "sqs",
          resource: "sendMessage.waitForTaskToken",
          error: "Failure error",
          cause: "Failure cause",
        },
      },
      {
        id: 7,
        previousEventId: 6,
        type: "ExecutionFailed",
        executionFailedEventDetails: { error: "Failure error", cause: "Failure cause" },
      },
    ]);
  });

  it("records timeoutInSeconds when set, then TaskTimedOut and ExecutionFailed with States.Timeout", async () => {
    // Arrange
    const h = await engine();

    // Act
    const executionArn = await run(h.engine, callbackMachine(2), { message: "txt" });
    await waitFor(h.engine, executionArn);
    const events = await history(h, executionArn);

    // Assert
    expect(events.map((e) => e.type)).toEqual([
      "ExecutionStarted",
      "TaskStateEntered",
      "TaskScheduled",
      "TaskStarted",
      "TaskSubmitted",
      "TaskTimedOut",
      "ExecutionFailed",
    ]);
    expect(events[2]?.taskScheduledEventDetails).toMatchObject({ timeoutInSeconds: 2 });
    expect(events[2]?.taskScheduledEventDetails).not.toHaveProperty("heartbeatInSeconds");
    expect(events[5]?.taskTimedOutEventDetails).toEqual({
      resourceType: "sqs",
      resource: "sendMessage.waitForTaskToken",
      error: "States.Timeout",
    });
    expect(events[6]?.executionFailedEventDetails).toEqual({ error: "States.Timeout" });
  });
});
