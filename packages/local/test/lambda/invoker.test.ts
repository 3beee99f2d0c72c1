import { describe, expect, it } from "vitest";
import { createLocalLambda, functionArn, functionName } from "../../src/lambda/invoker";

describe("local Lambda service", () => {
  it("invokes the handler named by ARN with a Lambda-shaped event and context", async () => {
    // Arrange
    const seen: { event: unknown; name: string; remaining: number }[] = [];
    const lambda = createLocalLambda({
      stage: "dev",
      load: async (file) => async (event, context) => {
        seen.push({
          event,
          name: `${file}|${context.functionName}`,
          remaining: context.getRemainingTimeInMillis(),
        });
        return { ok: true };
      },
    });

    // Act
    const result = await lambda.invoke(functionArn("dev", "detect"), { a: 1 });

    // Assert
    expect(result).toEqual({ ok: true });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.event).toEqual({ a: 1 });
    expect(seen[0]?.name).toBe("detect|secondlook-dev-detect");
    expect(seen[0]?.remaining).toBeGreaterThan(0);
  });

  it("accepts the plain function name and a $LATEST qualifier", async () => {
    // Arrange
    const lambda = createLocalLambda({ stage: "dev", load: async (file) => async () => file });

    // Act / Assert
    await expect(lambda.invoke(functionName("dev", "recordOutcome"), {})).resolves.toBe("record-outcome");
    await expect(lambda.invoke(`${functionArn("dev", "checkRetrain")}:$LATEST`, {})).resolves.toBe(
      "check-retrain",
    );
  });

  it("passes the handler's error name through as Lambda's errorType", async () => {
    // Arrange
    class ModelNotReadyError extends Error {
      override name = "ModelNotReadyError";
    }
    const lambda = createLocalLambda({
      stage: "dev",
      load: async () => async () => {
        throw new ModelNotReadyError("model is starting");
      },
    });

    // Act / Assert
    await expect(lambda.invoke(functionArn("dev", "detect"), {})).rejects.toMatchObject({
      name: "ModelNotReadyError",
      message: "model is starting",
    });
  });

  it("refuses an unknown function with Lambda's not-found error", async () => {
    const lambda = createLocalLambda({ stage: "dev", load: async () => async () => null });
    await expect(lambda.invoke("secondlook-dev-nope", {})).rejects.toMatchObject({
      name: "Lambda.ResourceNotFoundException",
    });
  });

  it("times a slow handler out as Lambda does", async () => {
    // Arrange
    const lambda = createLocalLambda({
      stage: "dev",
      timeoutMs: 20,
      load: async () => () => new Promise((resolve) => setTimeout(resolve, 1_000)),
    });

    // Act / Assert
    await expect(lambda.invoke(functionArn("dev", "detect"), {})).rejects.toMatchObject({
      name: "Sandbox.Timedout",
    });
  });

  it("does not let a handler mutate its caller's payload", async () => {
    // Arrange
    const payload = { list: [1] };
    const lambda = createLocalLambda({
      stage: "dev",
      load: async () => async (event) => {
        (event as { list: number[] }).list.push(2);
        return event;
      },
    });

    // Act
    const result = await lambda.invoke(functionArn("dev", "detect"), payload);

    // Assert
    expect(result).toEqual({ list: [1, 2] });
    expect(payload).toEqual({ list: [1] });
  });
});
