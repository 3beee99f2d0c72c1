import { describe, expect, it } from "vitest";
import { createLocalLambda, functionArn, functionName } from "../../src/lambda/invoker";

/** A sandbox stand-in that is ready, then exits when it is invoked, as a crashed runtime does. */
const exitingSandbox = new URL("./sandboxes/exit-on-invoke.mjs", import.meta.url);

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

describe("Lambda sandboxes (protects: handlers off the main thread behave as in-process ones)", () => {
  it("runs a real handler in a sandbox and returns its error with Lambda's errorType and stack", async () => {
    // Arrange: no local cloud set the handlers' environment, so the real handler refuses to run.
    const lambda = createLocalLambda({ stage: "dev", sandboxes: { size: 1 } });

    try {
      // Act
      const failure = await lambda
        .invoke(functionArn("dev", "checkRetrain"), { executionName: "e-1" })
        .catch((error: Error) => error);

      // Assert
      expect(failure).toBeInstanceOf(Error);
      expect((failure as Error).name).toBe("InvalidEnvironmentError");
      expect((failure as Error).message).toMatch(/SECONDLOOK_/);
      expect((failure as Error).stack).toMatch(/^InvalidEnvironmentError: [^\n]*\n\s+at /);
    } finally {
      await lambda.close();
    }
  });

  it("fails the invocation of a sandbox that dies with Runtime.ExitError, and starts a new one", async () => {
    // Arrange: a sandbox module that exits on its first invocation.
    const lambda = createLocalLambda({ stage: "dev", sandboxes: { size: 1, entry: exitingSandbox } });

    try {
      // Act
      const first = await lambda.invoke(functionArn("dev", "detect"), {}).catch((error: Error) => error);
      const second = await lambda.invoke(functionArn("dev", "detect"), {}).catch((error: Error) => error);

      // Assert: each invocation found a live sandbox (the dead one was replaced) and lost it.
      expect(first).toMatchObject({ name: "Runtime.ExitError" });
      expect((first as Error).message).toMatch(/exit code 3/);
      expect(second).toMatchObject({ name: "Runtime.ExitError" });
    } finally {
      await lambda.close();
    }
  });
});
