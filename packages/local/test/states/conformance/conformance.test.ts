/**
 * The conformance suite: every named case runs on the local engine and must produce AWS's output
 * (or error) and enter the listed states; where aws-local-stepfunctions implements the feature, the
 * same definition runs there too and both engines must agree.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, runToEnd, startEngine } from "../helpers";
import { type ConformanceCase, cases, functions } from "./cases";

/** aws-local-stepfunctions calls Promise.withResolvers, which Node 20 lacks. */
function polyfillWithResolvers() {
  const P = Promise as unknown as { withResolvers?: () => unknown };
  P.withResolvers ??= () => {
    let resolve: unknown;
    let reject: unknown;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

let harness: Harness;
beforeAll(async () => {
  harness = await startEngine(functions);
});
afterAll(async () => {
  await harness.cleanup();
});

type StateLike = {
  Type: string;
  Resource?: string;
  Branches?: Machine[];
  ItemProcessor?: Machine;
  Iterator?: Machine;
};
type Machine = { States: Record<string, StateLike> };

/** Task handlers for aws-local-stepfunctions by state name, running the case's functions. */
function localHandlers(machine: Machine, into: Record<string, (input: unknown) => Promise<unknown>> = {}) {
  for (const [name, state] of Object.entries(machine.States)) {
    if (state.Type === "Task" && state.Resource) {
      const body = functions[state.Resource.split(":").at(-1) as string];
      if (body) into[name] = async (input) => body(input);
    }
    for (const branch of state.Branches ?? []) localHandlers(branch, into);
    const processor = state.ItemProcessor ?? state.Iterator;
    if (processor) localHandlers(processor, into);
  }
  return into;
}

function waitStates(machine: Machine): Record<string, number> {
  return Object.fromEntries(
    Object.entries(machine.States)
      .filter(([, s]) => s.Type === "Wait")
      .map(([name]) => [name, 0]),
  );
}

async function runReference(c: ConformanceCase): Promise<{ output: unknown } | { error: string }> {
  polyfillWithResolvers();
  const { StateMachine } = await import("aws-local-stepfunctions");
  const machine = new StateMachine(c.definition as never, { validationOptions: { checkArn: false } });
  const execution = machine.run(c.input as never, {
    overrides: {
      taskResourceLocalHandlers: localHandlers(c.definition as Machine) as never,
      waitTimeOverrides: waitStates(c.definition as Machine),
    },
  });
  try {
    return { output: await execution.result };
  } catch (error) {
    const cause = (error as { cause?: { name?: string } }).cause;
    return { error: cause?.name ?? (error as Error).name };
  }
}

describe("conformance cases on the local engine", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    // Arrange
    const machineName = `case-${cases.indexOf(c)}`;

    // Act
    const { executionArn, result } = await runToEnd(harness.engine, c.definition, c.input, machineName);

    // Assert
    if ("output" in c.expected) {
      expect(result.status).toBe("SUCCEEDED");
      expect(JSON.parse(result.output ?? "null")).toEqual(c.expected.output);
    } else {
      expect(result.status).toBe("FAILED");
      expect(result.error).toBe(c.expected.error);
      if (c.expected.cause !== undefined) expect(result.cause).toBe(c.expected.cause);
    }
    if (c.entered) {
      const { events } = await harness.engine.getExecutionHistory({ executionArn, maxResults: 1000 });
      const entered = events
        .filter((e) => e.type.endsWith("StateEntered"))
        .map((e) => (e.stateEnteredEventDetails as { name: string }).name);
      expect(entered).toEqual(c.entered);
    }
  });
});

describe("the local engine agrees with aws-local-stepfunctions", () => {
  const shared = cases.filter((c) => c.reference);

  it("runs a case for every feature both engines implement", () => {
    // Arrange
    const features = shared.map((c) => c.name.split(":")[0]);

    // Act
    const distinct = new Set(features);

    // Assert
    expect(distinct.size).toBeGreaterThanOrEqual(8);
  });

  it.each(shared.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    // Arrange
    const machineName = `reference-${cases.indexOf(c)}`;

    // Act
    const [{ result }, reference] = await Promise.all([
      runToEnd(harness.engine, c.definition, c.input, machineName),
      runReference(c),
    ]);

    // Assert
    if ("output" in reference) {
      expect(result.status).toBe("SUCCEEDED");
      expect(JSON.parse(result.output ?? "null")).toEqual(reference.output);
    } else {
      expect(result.status).toBe("FAILED");
      expect(result.error).toBe(reference.error);
    }
  });
});
