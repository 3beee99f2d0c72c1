import { afterEach, describe, expect, it } from "vitest";
import { type Harness, startEngine, waitFor } from "./helpers";

const harnesses: Harness[] = [];

afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((harness) => harness.cleanup()));
});

const echo = {
  StartAt: "Echo",
  States: {
    Echo: { Type: "Pass", Parameters: { "echoed.$": "$.n" }, Next: "Check" },
    Check: {
      Type: "Choice",
      Choices: [{ Variable: "$.echoed", NumericEquals: 0, Next: "Fail" }],
      Default: "Done",
    },
    Fail: { Type: "Fail", Error: "Zero", Cause: "n was zero" },
    Done: { Type: "Succeed" },
  },
};

describe("closed executions", () => {
  it("describes every one of 300 closed executions with its own input and result, read back from its log", async () => {
    // Arrange
    const harness = await startEngine();
    harnesses.push(harness);
    const { engine } = harness;
    const { stateMachineArn } = await engine.createStateMachine({
      name: "echo",
      definition: JSON.stringify(echo),
    });
    const arns: string[] = [];
    for (let n = 0; n < 300; n++) {
      const { executionArn } = await engine.startExecution({ stateMachineArn, input: JSON.stringify({ n }) });
      arns.push(executionArn);
    }
    await Promise.all(arns.map((arn) => waitFor(engine, arn)));

    // Act
    const described = await Promise.all(arns.map((arn) => engine.describeExecution(arn)));

    // Assert
    expect(described[0]).toMatchObject({
      status: "FAILED",
      error: "Zero",
      cause: "n was zero",
      input: '{"n":0}',
    });
    expect(described[0]?.output).toBeUndefined();
    for (let n = 1; n < 300; n++) {
      expect(described[n]).toMatchObject({ status: "SUCCEEDED", input: JSON.stringify({ n }) });
      expect(JSON.parse(described[n]?.output ?? "")).toEqual({ echoed: n });
    }
  });

  it("describes closed executions found on disk after a restart with their input and result", async () => {
    // Arrange
    const first = await startEngine();
    const { stateMachineArn } = await first.engine.createStateMachine({
      name: "echo",
      definition: JSON.stringify(echo),
    });
    const { executionArn } = await first.engine.startExecution({ stateMachineArn, input: '{"n":7}' });
    await waitFor(first.engine, executionArn);
    await first.engine.close();

    // Act
    const second = await startEngine({}, { dataDir: first.dataDir });
    harnesses.push(second);
    const described = await second.engine.describeExecution(executionArn);

    // Assert
    expect(described).toMatchObject({ status: "SUCCEEDED", input: '{"n":7}', output: '{"echoed":7}' });
  });
});
