/**
 * ResultWriter `WriterConfig` (AWS "ResultWriter (Map)" page): `Transformation` NONE | COMPACT |
 * FLATTEN and `OutputType` JSON | JSONL shape the exported results files; failed children keep
 * their whole record whatever the transformation; NONE is the export default.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type MapRunHost, type MapRunSpec, runMapRun } from "../../src/states/map-run";
import type { ChildOutcome } from "../../src/states/run-types";
import { functionArn, type Harness, namedError, runToEnd, startEngine } from "./helpers";
import { memoryObjects } from "./memory-objects";

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const harness of harnesses.splice(0)) await harness.cleanup();
});

/** Children return `[n, n*10]`, and fail for 3. */
async function exportRun(writerConfig: unknown, input: number[] = [1, 2, 3]) {
  const objects = memoryObjects();
  const harness = await startEngine(
    {
      pair: (n: unknown) => {
        if (n === 3) throw namedError("Three", "three is bad");
        return [n, (n as number) * 10];
      },
    },
    { objects },
  );
  harnesses.push(harness);
  const definition = {
    StartAt: "Each",
    States: {
      Each: {
        Type: "Map",
        ItemsPath: "$",
        ToleratedFailureCount: 5,
        ItemProcessor: {
          ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
          StartAt: "Pair",
          States: { Pair: { Type: "Task", Resource: functionArn("pair"), End: true } },
        },
        ResultWriter: {
          Resource: "arn:aws:states:::s3:putObject",
          Parameters: { Bucket: "out", Prefix: "results" },
          ...(writerConfig === undefined ? {} : { WriterConfig: writerConfig }),
        },
        End: true,
      },
    },
  };
  const { result } = await runToEnd(harness.engine, definition, input);
  const output =
    result.status === "SUCCEEDED"
      ? (JSON.parse(result.output ?? "null") as { ResultWriterDetails: { Key: string } })
      : undefined;
  const manifest = output
    ? (JSON.parse(objects.text("out", output.ResultWriterDetails.Key)) as {
        ResultFiles: Record<string, { Key: string; Size: number }[]>;
      })
    : undefined;
  return { result, objects, manifest };
}

describe("ResultWriter WriterConfig", () => {
  it("writes COMPACT JSON: the succeeded children's outputs as one array, failures as whole records", async () => {
    // Arrange
    const config = { Transformation: "COMPACT", OutputType: "JSON" };

    // Act
    const { objects, manifest } = await exportRun(config);

    // Assert
    const succeeded = manifest?.ResultFiles.SUCCEEDED ?? [];
    const failed = manifest?.ResultFiles.FAILED ?? [];
    expect(succeeded.map((f) => f.Key.split("/").at(-1))).toEqual(["SUCCEEDED_0.json"]);
    const succeededText = objects.text("out", succeeded[0]?.Key ?? "");
    expect(JSON.parse(succeededText)).toEqual([
      [1, 10],
      [2, 20],
    ]);
    expect(succeeded[0]?.Size).toBe(Buffer.byteLength(succeededText));
    expect(JSON.parse(objects.text("out", failed[0]?.Key ?? ""))).toEqual([
      expect.objectContaining({ Input: "3", Status: "FAILED", Error: "Three" }),
    ]);
  });

  it("writes FLATTEN output with each child's array spliced into the list", async () => {
    // Arrange
    const config = { Transformation: "FLATTEN", OutputType: "JSON" };

    // Act
    const { objects, manifest } = await exportRun(config);

    // Assert
    const key = manifest?.ResultFiles.SUCCEEDED?.[0]?.Key ?? "";
    expect(JSON.parse(objects.text("out", key))).toEqual([1, 10, 2, 20]);
  });

  it("writes JSONL files with a .jsonl name and one record per line", async () => {
    // Arrange
    const config = { Transformation: "NONE", OutputType: "JSONL" };

    // Act
    const { objects, manifest } = await exportRun(config);

    // Assert
    const succeeded = manifest?.ResultFiles.SUCCEEDED ?? [];
    const failed = manifest?.ResultFiles.FAILED ?? [];
    expect(succeeded.map((f) => f.Key.split("/").at(-1))).toEqual(["SUCCEEDED_0.jsonl"]);
    expect(failed.map((f) => f.Key.split("/").at(-1))).toEqual(["FAILED_0.jsonl"]);
    const text = objects.text("out", succeeded[0]?.Key ?? "");
    expect(text.endsWith("\n")).toBe(true);
    const lines = text
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines).toEqual([
      expect.objectContaining({ Input: "1", Output: "[1,10]", Status: "SUCCEEDED" }),
      expect.objectContaining({ Input: "2", Output: "[2,20]", Status: "SUCCEEDED" }),
    ]);
  });

  it("writes COMPACT JSONL as one child output per line", async () => {
    // Arrange
    const config = { Transformation: "COMPACT", OutputType: "JSONL" };

    // Act
    const { objects, manifest } = await exportRun(config);

    // Assert
    const text = objects.text("out", manifest?.ResultFiles.SUCCEEDED?.[0]?.Key ?? "");
    expect(text).toBe("[1,10]\n[2,20]\n");
  });

  it("exports NONE records as JSON arrays when WriterConfig is absent", async () => {
    // Arrange
    const config = undefined;

    // Act
    const { objects, manifest } = await exportRun(config);

    // Assert
    const key = manifest?.ResultFiles.SUCCEEDED?.[0]?.Key ?? "";
    expect(key.endsWith("/SUCCEEDED_0.json")).toBe(true);
    const records = JSON.parse(objects.text("out", key));
    expect(records[0]).toMatchObject({ Input: "1", Output: "[1,10]", OutputDetails: { Included: true } });
  });

  it("fails the Map with States.Runtime naming the field when WriterConfig has an unknown value", async () => {
    // Arrange
    const config = { Transformation: "SQUASH", OutputType: "JSON" };

    // Act
    const { result, objects } = await exportRun(config);

    // Assert
    expect(result.status).toBe("FAILED");
    expect(result.error).toBe("States.Runtime");
    expect(result.cause).toBe(
      'ResultWriter WriterConfig.Transformation must be one of NONE, COMPACT, FLATTEN, got "SQUASH"',
    );
    expect(objects.keys("out")).toEqual([]);
  });

  it("fails the Map with States.Runtime when WriterConfig is not an object", async () => {
    // Arrange
    const config = "FLATTEN";

    // Act
    const { result } = await exportRun(config);

    // Assert
    expect(result.error).toBe("States.Runtime");
    expect(result.cause).toBe('ResultWriter WriterConfig must be an object, got "FLATTEN"');
  });

  it("fails the Map with States.Runtime when OutputType is not JSON or JSONL", async () => {
    // Arrange
    const config = { Transformation: "NONE", OutputType: "CSV" };

    // Act
    const { result } = await exportRun(config);

    // Assert
    expect(result.error).toBe("States.Runtime");
    expect(result.cause).toBe('ResultWriter WriterConfig.OutputType must be one of JSON, JSONL, got "CSV"');
  });
});

/**
 * A map-run host whose children finish at once: `[n, n*10]` for a number, FAILED for 3. Used to
 * drive the state-output formatting a WriterConfig without Resource asks for.
 */
function instantHost(): MapRunHost {
  const outcomes = new Map<string, ChildOutcome>();
  return {
    lookup: (arn) => outcomes.get(arn),
    async startChild(child) {
      const n = JSON.parse(child.input) as number;
      const base = {
        executionArn: child.executionArn,
        stateMachineArn: child.stateMachineArn,
        name: child.name,
        startDate: 0,
        stopDate: 1,
        input: child.input,
      };
      outcomes.set(
        child.executionArn,
        n === 3
          ? { ...base, status: "FAILED", error: "Three", cause: "three is bad" }
          : { ...base, status: "SUCCEEDED", output: JSON.stringify([n, n * 10]) },
      );
    },
    async waitForChild(arn) {
      return outcomes.get(arn) as ChildOutcome;
    },
    async stopChild() {},
    async putObject() {
      throw new Error("nothing is exported without a Resource");
    },
    async saveMapRun() {},
  };
}

function stateOutputSpec(transformation: MapRunSpec["outputTransformation"]): MapRunSpec {
  return {
    mapRunArn:
      "arn:aws:states:us-east-1:000000000000:mapRun:machine/Each:0a0a0a0a-0000-0000-0000-000000000000",
    executionArn: "arn:aws:states:us-east-1:000000000000:execution:machine:run",
    parentStateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:machine",
    parentStateMachineName: "machine",
    startDate: 0,
    definition: "{}",
    items: async function* () {
      yield* [1, 2, 3];
    },
    select: (item) => item,
    maxConcurrency: 0,
    toleratedFailureCount: 5,
    ...(transformation ? { outputTransformation: transformation } : {}),
    now: () => 1,
  };
}

describe("WriterConfig without an export formats the state output", () => {
  it("flattens array outputs and keeps a failed child's whole record under FLATTEN", async () => {
    // Arrange
    const spec = stateOutputSpec("FLATTEN");

    // Act
    const output = (await runMapRun(instantHost(), spec, new AbortController().signal)) as unknown[];

    // Assert
    expect(output.slice(0, 4)).toEqual([1, 10, 2, 20]);
    expect(output[4]).toMatchObject({ Input: "3", Status: "FAILED", Error: "Three", Cause: "three is bad" });
    expect(output).toHaveLength(5);
  });

  it("lists each child's record with its metadata under NONE", async () => {
    // Arrange
    const spec = stateOutputSpec("NONE");

    // Act
    const output = (await runMapRun(instantHost(), spec, new AbortController().signal)) as unknown[];

    // Assert
    expect(output[0]).toMatchObject({ Input: "1", Output: "[1,10]", Status: "SUCCEEDED" });
    expect(output[2]).toMatchObject({ Input: "3", Status: "FAILED" });
  });

  it("keeps the outputs as they are under COMPACT", async () => {
    // Arrange
    const spec = stateOutputSpec("COMPACT");

    // Act
    const output = (await runMapRun(instantHost(), spec, new AbortController().signal)) as unknown[];

    // Assert
    expect(output.slice(0, 2)).toEqual([
      [1, 10],
      [2, 20],
    ]);
    expect(output[2]).toMatchObject({ Status: "FAILED", Error: "Three" });
  });
});

describe("a Map whose ResultWriter has only WriterConfig", () => {
  it("is accepted by CreateStateMachine and flattens the children's outputs into the state output", async () => {
    // Arrange
    const harness = await startEngine({ pair: (n: unknown) => [n, (n as number) * 10] });
    harnesses.push(harness);
    const definition = {
      StartAt: "Each",
      States: {
        Each: {
          Type: "Map",
          ItemsPath: "$",
          ItemProcessor: {
            ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
            StartAt: "Pair",
            States: { Pair: { Type: "Task", Resource: functionArn("pair"), End: true } },
          },
          ResultWriter: { WriterConfig: { Transformation: "FLATTEN", OutputType: "JSON" } },
          End: true,
        },
      },
    };

    // Act
    const { result } = await runToEnd(harness.engine, definition, [1, 2]);

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect(JSON.parse(result.output ?? "null")).toEqual([1, 10, 2, 20]);
  });

  it("is still refused by CreateStateMachine when the Map has neither Resource nor WriterConfig", async () => {
    // Arrange
    const harness = await startEngine();
    harnesses.push(harness);
    const definition = {
      StartAt: "Each",
      States: {
        Each: {
          Type: "Map",
          ItemsPath: "$",
          ItemProcessor: {
            ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
            StartAt: "Done",
            States: { Done: { Type: "Succeed" } },
          },
          ResultWriter: { Parameters: { Bucket: "out" } },
          End: true,
        },
      },
    };

    // Act
    const create = harness.engine.createStateMachine({
      name: "no-writer",
      definition: JSON.stringify(definition),
    });

    // Assert
    await expect(create).rejects.toMatchObject({ code: "InvalidDefinition" });
  });
});
