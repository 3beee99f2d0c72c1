import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  CreateStateMachineCommand,
  DeleteStateMachineCommand,
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  paginateGetExecutionHistory,
  paginateListExecutions,
  RedriveExecutionCommand,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  UpdateStateMachineCommand,
} from "@aws-sdk/client-sfn";
import { afterEach, describe, expect, it } from "vitest";
import { functionArn, type Harness, startEngine, tokenIn, waitFor, waitForEvent } from "./helpers";

let h: Harness;
let server: Server;
let sfn: SFNClient;
let endpoint: string;

afterEach(async () => {
  sfn?.destroy();
  await new Promise((resolve) => server?.close(resolve));
  await h?.cleanup();
});

async function serve(functions = {}) {
  h = await startEngine(functions);
  server = createServer((req, res) => {
    void h.engine.handler(req, res, new URL(req.url ?? "/", "http://127.0.0.1"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  sfn = new SFNClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
  });
}

const roleArn = "arn:aws:iam::000000000000:role/test";
const passMachine = JSON.stringify({ StartAt: "P", States: { P: { Type: "Pass", End: true } } });
const waitMachine = JSON.stringify({
  StartAt: "W",
  States: { W: { Type: "Wait", Seconds: 100_000, End: true } },
});

async function create(name: string, definition = passMachine) {
  const { stateMachineArn } = await sfn.send(new CreateStateMachineCommand({ name, definition, roleArn }));
  return stateMachineArn as string;
}

describe("state machine operations", () => {
  it("creates, describes, updates, lists and deletes a state machine", async () => {
    // Arrange
    await serve();

    // Act
    const arn = await create("first");
    const described = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }));
    await sfn.send(new UpdateStateMachineCommand({ stateMachineArn: arn, definition: waitMachine }));
    const updated = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }));
    await create("second");
    const page1 = await sfn.send(new ListStateMachinesCommand({ maxResults: 1 }));
    const page2 = await sfn.send(new ListStateMachinesCommand({ maxResults: 1, nextToken: page1.nextToken }));
    await sfn.send(new DeleteStateMachineCommand({ stateMachineArn: arn }));
    const gone = sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }));

    // Assert
    expect(arn).toBe("arn:aws:states:us-east-1:000000000000:stateMachine:first");
    expect(described).toMatchObject({
      name: "first",
      status: "ACTIVE",
      type: "STANDARD",
      roleArn,
      definition: passMachine,
    });
    expect(described.creationDate).toBeInstanceOf(Date);
    expect(updated.definition).toBe(waitMachine);
    expect(page1.stateMachines?.map((m) => m.name)).toEqual(["first"]);
    expect(page2.stateMachines?.map((m) => m.name)).toEqual(["second"]);
    expect(page2.nextToken).toBeUndefined();
    await expect(gone).rejects.toMatchObject({ name: "StateMachineDoesNotExist" });
  });

  it("answers an invalid definition with InvalidDefinition", async () => {
    // Arrange
    await serve();

    // Act
    const attempt = create("bad", JSON.stringify({ StartAt: "Missing", States: {} }));

    // Assert
    await expect(attempt).rejects.toMatchObject({
      name: "InvalidDefinition",
      $metadata: { httpStatusCode: 400 },
    });
  });

  it("returns the same machine for an identical create and refuses a conflicting one", async () => {
    // Arrange
    await serve();
    const arn = await create("m");

    // Act
    const again = await create("m");
    const conflicting = create("m", waitMachine);

    // Assert
    expect(again).toBe(arn);
    await expect(conflicting).rejects.toMatchObject({ name: "StateMachineAlreadyExists" });
  });

  it("refuses a state machine name with forbidden characters", async () => {
    // Arrange
    await serve();

    // Act / Assert
    await expect(create("bad name")).rejects.toMatchObject({ name: "InvalidName" });
  });
});

describe("StartExecution", () => {
  it("is idempotent for the same name and input while running, and refuses anything else", async () => {
    // Arrange
    await serve();
    const stateMachineArn = await create("waits", waitMachine);
    const first = await sfn.send(
      new StartExecutionCommand({ stateMachineArn, name: "run-1", input: '{"a":1}' }),
    );

    // Act
    const same = await sfn.send(
      new StartExecutionCommand({ stateMachineArn, name: "run-1", input: '{"a":1}' }),
    );
    const different = sfn.send(
      new StartExecutionCommand({ stateMachineArn, name: "run-1", input: '{"a":2}' }),
    );

    // Assert
    expect(same.executionArn).toBe(first.executionArn);
    expect(same.startDate?.getTime()).toBe(first.startDate?.getTime());
    await expect(different).rejects.toMatchObject({ name: "ExecutionAlreadyExists" });
  });

  it("refuses a name that a closed execution used", async () => {
    // Arrange
    await serve();
    const stateMachineArn = await create("quick");
    const first = await sfn.send(new StartExecutionCommand({ stateMachineArn, name: "once", input: "{}" }));
    await waitFor(h.engine, first.executionArn as string);

    // Act
    const again = sfn.send(new StartExecutionCommand({ stateMachineArn, name: "once", input: "{}" }));

    // Assert
    await expect(again).rejects.toMatchObject({ name: "ExecutionAlreadyExists" });
  });

  it.each([
    ["a name with a space", { name: "has space" }, "InvalidName"],
    ["a name with a slash", { name: "a/b" }, "InvalidName"],
    ["a name with a control character", { name: "a\u0001b" }, "InvalidName"],
    ["a name over 80 characters", { name: "n".repeat(81) }, "InvalidName"],
    ["input that is not JSON", { input: "{oops" }, "InvalidExecutionInput"],
    ["input over 262,144 bytes", { input: JSON.stringify("x".repeat(262_144)) }, "ValidationException"],
  ])("refuses %s", async (_label, fields, code) => {
    // Arrange
    await serve();
    const stateMachineArn = await create("m");

    // Act
    const attempt = sfn.send(new StartExecutionCommand({ stateMachineArn, ...fields }));

    // Assert
    await expect(attempt).rejects.toMatchObject({ name: code });
  });

  it("answers an unknown machine with StateMachineDoesNotExist and a malformed ARN with InvalidArn", async () => {
    // Arrange
    await serve();

    // Act
    const unknown = sfn.send(
      new StartExecutionCommand({
        stateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:nope",
      }),
    );
    const malformed = sfn.send(new StartExecutionCommand({ stateMachineArn: "not-an-arn" }));

    // Assert
    await expect(unknown).rejects.toMatchObject({ name: "StateMachineDoesNotExist" });
    await expect(malformed).rejects.toMatchObject({ name: "InvalidArn" });
  });

  it("names an execution with a UUID when no name is given", async () => {
    // Arrange
    await serve();
    const stateMachineArn = await create("m");

    // Act
    const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn }));

    // Assert
    expect(executionArn).toMatch(/:execution:m:[0-9a-f-]{36}$/);
  });
});

describe("DescribeExecution, ListExecutions and StopExecution", () => {
  it("describes a running execution without output and a succeeded one with it", async () => {
    // Arrange
    await serve();
    const waiting = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: await create("w", waitMachine), input: "{}" }),
    );
    const quick = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: await create("q"), input: '{"v":1}' }),
    );
    await waitFor(h.engine, quick.executionArn as string);

    // Act
    const running = await sfn.send(new DescribeExecutionCommand({ executionArn: waiting.executionArn }));
    const done = await sfn.send(new DescribeExecutionCommand({ executionArn: quick.executionArn }));

    // Assert
    expect(running.status).toBe("RUNNING");
    expect(running.output).toBeUndefined();
    expect(running.inputDetails).toEqual({ included: true });
    expect(done).toMatchObject({ status: "SUCCEEDED", output: '{"v":1}', input: '{"v":1}' });
    expect(done.startDate).toBeInstanceOf(Date);
    expect(done.stopDate).toBeInstanceOf(Date);
  });

  it("answers an unknown execution with ExecutionDoesNotExist", async () => {
    // Arrange
    await serve();

    // Act
    const attempt = sfn.send(
      new DescribeExecutionCommand({
        executionArn: "arn:aws:states:us-east-1:000000000000:execution:m:none",
      }),
    );

    // Assert
    await expect(attempt).rejects.toMatchObject({ name: "ExecutionDoesNotExist" });
  });

  it("lists executions newest first, filters by status and pages with nextToken", async () => {
    // Arrange
    await serve();
    const stateMachineArn = await create("w", waitMachine);
    const arns: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, name: `e${i}` }));
      arns.push(executionArn as string);
    }
    await sfn.send(new StopExecutionCommand({ executionArn: arns[1], error: "Stopped", cause: "test" }));

    // Act
    const pages = [];
    for await (const page of paginateListExecutions({ client: sfn, pageSize: 2 }, { stateMachineArn })) {
      pages.push(page.executions?.map((e) => e.name));
    }
    const aborted = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: "ABORTED" }));
    const tooMany = sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 1001 }));
    const badToken = sfn.send(new ListExecutionsCommand({ stateMachineArn, nextToken: "garbage" }));

    // Assert
    expect(pages).toEqual([["e4", "e3"], ["e2", "e1"], ["e0"]]);
    expect(aborted.executions?.map((e) => e.name)).toEqual(["e1"]);
    await expect(tooMany).rejects.toMatchObject({ name: "ValidationException" });
    await expect(badToken).rejects.toMatchObject({ name: "InvalidToken" });
  });

  it("stops a running execution as ABORTED with an ExecutionAborted event", async () => {
    // Arrange
    await serve();
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: await create("w", waitMachine) }),
    );

    // Act
    const stopped = await sfn.send(
      new StopExecutionCommand({ executionArn, error: "Manual", cause: "operator" }),
    );
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    const history = await sfn.send(new GetExecutionHistoryCommand({ executionArn }));

    // Assert
    expect(stopped.stopDate).toBeInstanceOf(Date);
    expect(described).toMatchObject({ status: "ABORTED", error: "Manual", cause: "operator" });
    expect(history.events?.map((e) => e.type)).toEqual([
      "ExecutionStarted",
      "WaitStateEntered",
      "ExecutionAborted",
    ]);
    expect(history.events?.at(-1)?.executionAbortedEventDetails).toEqual({
      error: "Manual",
      cause: "operator",
    });
  });
});

describe("DescribeExecution redrive fields", () => {
  it("words why a running or succeeded execution cannot be redriven as AWS does", async () => {
    // Arrange
    await serve();
    const { executionArn: waiting } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: await create("w", waitMachine) }),
    );
    const { executionArn: finished } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: await create("p", passMachine) }),
    );
    await waitFor(h.engine, finished as string);

    // Act
    const running = await sfn.send(new DescribeExecutionCommand({ executionArn: waiting }));
    const succeeded = await sfn.send(new DescribeExecutionCommand({ executionArn: finished }));

    // Assert
    expect(running).toMatchObject({
      redriveCount: 0,
      redriveStatus: "NOT_REDRIVABLE",
      redriveStatusReason: "Execution is RUNNING and cannot be redriven",
    });
    expect(succeeded).toMatchObject({
      status: "SUCCEEDED",
      redriveStatus: "NOT_REDRIVABLE",
      redriveStatusReason: "Execution is SUCCEEDED and cannot be redriven",
    });
  });
});

describe("RedriveExecution", () => {
  it("redrives a stopped execution over the wire and refuses a second redrive while it runs", async () => {
    // Arrange
    await serve();
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: await create("w", waitMachine) }),
    );
    await sfn.send(new StopExecutionCommand({ executionArn }));

    // Act
    const redriven = await sfn.send(new RedriveExecutionCommand({ executionArn }));
    const again = await sfn
      .send(new RedriveExecutionCommand({ executionArn }))
      .catch((error: unknown) => error);
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));

    // Assert
    expect(redriven.redriveDate).toBeInstanceOf(Date);
    expect(again).toMatchObject({ name: "ExecutionNotRedrivable" });
    expect(described).toMatchObject({
      status: "RUNNING",
      redriveCount: 1,
      redriveDate: redriven.redriveDate,
    });
  });
});

describe("GetExecutionHistory", () => {
  it("pages ascending by default and descending with reverseOrder", async () => {
    // Arrange
    await serve();
    const definition = JSON.stringify({
      StartAt: "A",
      States: {
        A: { Type: "Pass", Next: "B" },
        B: { Type: "Pass", Next: "C" },
        C: { Type: "Pass", End: true },
      },
    });
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: await create("abc", definition) }),
    );
    await waitFor(h.engine, executionArn as string);

    // Act
    const ascending: number[] = [];
    for await (const page of paginateGetExecutionHistory({ client: sfn, pageSize: 3 }, { executionArn })) {
      ascending.push(...(page.events ?? []).map((e) => e.id as number));
    }
    const descending: number[] = [];
    for await (const page of paginateGetExecutionHistory(
      { client: sfn, pageSize: 4 },
      { executionArn, reverseOrder: true },
    )) {
      descending.push(...(page.events ?? []).map((e) => e.id as number));
    }
    const first = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 2 }));

    // Assert
    expect(ascending).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(descending).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    expect(first.events?.[0]?.timestamp).toBeInstanceOf(Date);
    expect(first.events?.[1]).toMatchObject({ type: "PassStateEntered", previousEventId: 0 });
    expect(first.nextToken).toBeDefined();
  });

  it("leaves inputs and outputs out when includeExecutionData is false", async () => {
    // Arrange
    await serve();
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: await create("p"), input: '{"secret":1}' }),
    );
    await waitFor(h.engine, executionArn as string);

    // Act
    const history = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn, includeExecutionData: false }),
    );

    // Assert
    expect(JSON.stringify(history.events)).not.toContain("secret");
    expect(history.events?.[0]?.executionStartedEventDetails?.roleArn).toBeDefined();
  });
});

describe("SendTask* over the wire", () => {
  it("completes a callback task and maps token errors to AWS error codes", async () => {
    // Arrange
    await serve({ ask: () => ({}) });
    const definition = JSON.stringify({
      StartAt: "Ask",
      States: {
        Ask: {
          Type: "Task",
          Resource: "arn:aws:states:::lambda:invoke.waitForTaskToken",
          Parameters: { FunctionName: functionArn("ask"), Payload: { "token.$": "$$.Task.Token" } },
          HeartbeatSeconds: 3600,
          End: true,
        },
      },
    });
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: await create("cb", definition) }),
    );
    await waitForEvent(h.engine, executionArn as string, "TaskSubmitted");
    const taskToken = tokenIn(h.lambda.calls[0]?.payload);

    // Act
    const badOutput = sfn.send(new SendTaskSuccessCommand({ taskToken, output: "nope" }));
    await expect(badOutput).rejects.toMatchObject({ name: "InvalidOutput" });
    await sfn.send(new SendTaskHeartbeatCommand({ taskToken }));
    await sfn.send(new SendTaskSuccessCommand({ taskToken, output: '{"ok":true}' }));
    const closed = sfn.send(new SendTaskFailureCommand({ taskToken, error: "E" }));
    const malformed = sfn.send(new SendTaskSuccessCommand({ taskToken: "%%%", output: "{}" }));

    // Assert
    await expect(closed).rejects.toMatchObject({ name: "TaskTimedOut" });
    await expect(malformed).rejects.toMatchObject({ name: "InvalidToken" });
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(described).toMatchObject({ status: "SUCCEEDED", output: '{"ok":true}' });
  });
});

describe("wire protocol", () => {
  async function post(target: string | undefined, body: string) {
    const response = await fetch(endpoint, {
      method: "POST",
      headers: {
        "content-type": "application/x-amz-json-1.0",
        ...(target ? { "x-amz-target": target } : {}),
      },
      body,
    });
    return {
      status: response.status,
      type: response.headers.get("content-type"),
      body: await response.json(),
    };
  }

  it("answers errors with HTTP 400, the full shape id in __type and a lower-case message", async () => {
    // Arrange
    await serve();

    // Act
    const response = await post(
      "AWSStepFunctions.DescribeExecution",
      JSON.stringify({ executionArn: "arn:aws:states:us-east-1:000000000000:execution:m:x" }),
    );

    // Assert
    expect(response.status).toBe(400);
    expect(response.type).toBe("application/x-amz-json-1.0");
    expect(response.body).toEqual({
      __type: "com.amazonaws.swf.service.v2.model#ExecutionDoesNotExist",
      message: expect.stringContaining("Execution Does Not Exist"),
    });
  });

  it.each([
    ["an unknown operation", "AWSStepFunctions.Nope", "{}", "UnknownOperationException"],
    ["a missing target", undefined, "{}", "UnknownOperationException"],
    ["a body that is not JSON", "AWSStepFunctions.ListStateMachines", "{", "SerializationException"],
    ["a missing required member", "AWSStepFunctions.StartExecution", "{}", "ValidationException"],
  ])("refuses %s", async (_label, target, body, code) => {
    // Arrange
    await serve();

    // Act
    const response = await post(target, body);

    // Assert
    expect(response.status).toBe(400);
    expect(response.body.__type).toBe(`com.amazonaws.swf.service.v2.model#${code}`);
  });

  it("answers an operation without output with an empty JSON object", async () => {
    // Arrange
    await serve();
    const stateMachineArn = await create("m");

    // Act
    const response = await post("AWSStepFunctions.DeleteStateMachine", JSON.stringify({ stateMachineArn }));

    // Assert
    expect(response).toMatchObject({ status: 200, body: {} });
  });
});
