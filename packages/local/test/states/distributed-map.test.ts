/**
 * Distributed Map (aws-contracts.md §7.6, checklist S8/S9): ItemReader formats, ItemSelector,
 * ItemBatcher, MaxConcurrency, tolerated failures, child executions with their own histories, map
 * runs, ResultWriter exports, and resuming a map run after a restart.
 */
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import {
  eventTypes,
  functionArn,
  type Harness,
  namedError,
  run,
  runToEnd,
  startEngine,
  tokenIn,
  waitFor,
} from "./helpers";
import { memoryObjects } from "./memory-objects";

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const harness of harnesses.splice(0)) await harness.cleanup();
});

async function engineWith(objects: ReturnType<typeof memoryObjects>, functions = {}) {
  const harness = await startEngine(functions, { objects });
  harnesses.push(harness);
  return harness;
}

/** A Distributed Map whose children pass their input through a Pass state. */
function distributed(map: Record<string, unknown>, processor?: Record<string, unknown>) {
  return {
    StartAt: "Each",
    States: {
      Each: {
        Type: "Map",
        ItemProcessor: processor ?? {
          ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
          StartAt: "Echo",
          States: { Echo: { Type: "Pass", End: true } },
        },
        End: true,
        ...map,
      },
    },
  };
}

const getObject = (key: string, config: Record<string, unknown>) => ({
  ItemReader: {
    Resource: "arn:aws:states:::s3:getObject",
    ReaderConfig: config,
    Parameters: { Bucket: "data", Key: key },
  },
});

describe("Distributed Map item readers", () => {
  it("runs one child per JSON Lines item with the ItemSelector's index and value", async () => {
    // Arrange
    const objects = memoryObjects({ "data/m.jsonl": '{"a":1}\n{"a":2}\n\n{"a":3}\n' });
    const { engine } = await engineWith(objects);
    const definition = distributed({
      ...getObject("m.jsonl", { InputType: "JSONL" }),
      ItemSelector: { "i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value.a", "tag.$": "$.tag" },
    });

    // Act
    const { result } = await runToEnd(engine, definition, { tag: "t" });

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect(JSON.parse(result.output ?? "")).toEqual([
      { i: 0, v: 1, tag: "t" },
      { i: 1, v: 2, tag: "t" },
      { i: 2, v: 3, tag: "t" },
    ]);
  });

  it("reads CSV with a header row as strings, filling missing fields and dropping extras", async () => {
    // Arrange
    const objects = memoryObjects({
      "data/m.csv": 'key,label\nimg/1.png,cat\nimg/2.png\n"img/3,x.png",dog,extra\n',
    });
    const { engine } = await engineWith(objects);

    // Act
    const { result } = await runToEnd(
      engine,
      distributed(getObject("m.csv", { InputType: "CSV", CSVHeaderLocation: "FIRST_ROW" })),
    );

    // Assert
    expect(JSON.parse(result.output ?? "")).toEqual([
      { key: "img/1.png", label: "cat" },
      { key: "img/2.png", label: "" },
      { key: "img/3,x.png", label: "dog" },
    ]);
  });

  it("reads CSV with given headers and a pipe delimiter, numbers staying strings", async () => {
    // Arrange
    const objects = memoryObjects({ "data/m.csv": "1|a\n2|b\n" });
    const { engine } = await engineWith(objects);
    const config = {
      InputType: "CSV",
      CSVHeaderLocation: "GIVEN",
      CSVHeaders: ["n", "s"],
      CSVDelimiter: "PIPE",
    };

    // Act
    const { result } = await runToEnd(engine, distributed(getObject("m.csv", config)));

    // Assert
    expect(JSON.parse(result.output ?? "")).toEqual([
      { n: "1", s: "a" },
      { n: "2", s: "b" },
    ]);
  });

  it("reads a JSON array and stops after MaxItems", async () => {
    // Arrange
    const objects = memoryObjects({
      "data/m.json": JSON.stringify([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]),
    });
    const { engine } = await engineWith(objects);

    // Act
    const { result } = await runToEnd(
      engine,
      distributed(getObject("m.json", { InputType: "JSON", MaxItems: 2 })),
    );

    // Assert
    expect(JSON.parse(result.output ?? "")).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it("lists objects with Etag in quotes, epoch-second LastModified, Size and StorageClass", async () => {
    // Arrange
    const objects = memoryObjects({ "data/in/a.png": "aaa", "data/in/b.png": "bb", "data/other.txt": "x" });
    const { engine } = await engineWith(objects);
    const definition = distributed({
      ItemReader: {
        Resource: "arn:aws:states:::s3:listObjectsV2",
        Parameters: { Bucket: "data", Prefix: "in/" },
      },
    });

    // Act
    const { result } = await runToEnd(engine, definition);

    // Assert
    const items = JSON.parse(result.output ?? "");
    expect(items).toHaveLength(2);
    expect(items[0]).toEqual({
      Etag: '"47bce5c74f589f4867dbd57e9ca9f808"',
      Key: "in/a.png",
      LastModified: Date.parse("2026-01-02T03:04:05Z") / 1000,
      Size: 3,
      StorageClass: "STANDARD",
    });
  });

  it("reads the CSV files an S3 inventory manifest lists, compressed or not", async () => {
    // Arrange
    const manifest = {
      sourceBucket: "images",
      destinationBucket: "arn:aws:s3:::inventory",
      fileFormat: "CSV",
      fileSchema: "Bucket, Key, Size, LastModifiedDate",
      files: [{ key: "inv/data/1.csv.gz" }, { key: "inv/data/2.csv" }],
    };
    const objects = memoryObjects({
      "data/manifest.json": JSON.stringify(manifest),
      "inventory/inv/data/1.csv.gz": gzipSync('"images","a.png","10","2026-01-01T00:00:00.000Z"\n'),
      "inventory/inv/data/2.csv": '"images","b.png","20","2026-01-02T00:00:00.000Z"\n',
    });
    const { engine } = await engineWith(objects);

    // Act
    const { result } = await runToEnd(
      engine,
      distributed(getObject("manifest.json", { InputType: "MANIFEST" })),
    );

    // Assert
    expect(JSON.parse(result.output ?? "")).toEqual([
      { Bucket: "images", Key: "a.png", Size: "10", LastModifiedDate: "2026-01-01T00:00:00.000Z" },
      { Bucket: "images", Key: "b.png", Size: "20", LastModifiedDate: "2026-01-02T00:00:00.000Z" },
    ]);
  });

  it("fails the Map with States.ItemReaderFailed when the manifest does not exist", async () => {
    // Arrange
    const { engine } = await engineWith(memoryObjects());

    // Act
    const { result } = await runToEnd(
      engine,
      distributed(getObject("missing.jsonl", { InputType: "JSONL" })),
    );

    // Assert
    expect(result.status).toBe("FAILED");
    expect(result.error).toBe("States.ItemReaderFailed");
    expect(result.cause).toContain("s3://data/missing.jsonl");
  });

  it("fails with States.ItemReaderFailed naming the line of a JSON Lines manifest that is not JSON", async () => {
    // Arrange
    const { engine } = await engineWith(memoryObjects({ "data/m.jsonl": '{"a":1}\n{oops\n' }));

    // Act
    const { result } = await runToEnd(engine, distributed(getObject("m.jsonl", { InputType: "JSONL" })));

    // Assert
    expect(result.error).toBe("States.ItemReaderFailed");
    expect(result.cause).toContain("Line 2");
  });
});

describe("Distributed Map runs", () => {
  it("streams a large manifest, reading ahead only what MaxConcurrency keeps in flight", async () => {
    // Arrange: 2,000 lines served 20 per chunk; each open of the object is tracked separately.
    const LINES = 2000;
    const PER_CHUNK = 20;
    const objects = memoryObjects();
    const opens: number[] = [];
    objects.stream = async () => {
      const open = opens.push(0) - 1;
      return (async function* () {
        for (let from = 0; from < LINES; from += PER_CHUNK) {
          opens[open] = (opens[open] ?? 0) + 1;
          const lines = Array.from({ length: PER_CHUNK }, (_, i) => JSON.stringify({ n: from + i }));
          yield Buffer.from(`${lines.join("\n")}\n`);
        }
      })();
    };
    let started = 0;
    let worstReadAhead = 0;
    const { engine } = await engineWith(objects, {
      work: (p: unknown) => {
        started++;
        // Items read by the running pass beyond the ones already handed to children.
        worstReadAhead = Math.max(worstReadAhead, (opens[1] ?? 0) * PER_CHUNK - started);
        return p;
      },
    });
    const definition = distributed(
      { ...getObject("big.jsonl", { InputType: "JSONL" }), MaxConcurrency: 4 },
      {
        ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
        StartAt: "Work",
        States: { Work: { Type: "Task", Resource: functionArn("work"), End: true } },
      },
    );

    // Act
    const { result } = await runToEnd(engine, definition, {}, "streaming");

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect(JSON.parse(result.output ?? "")).toHaveLength(LINES);
    expect(started).toBe(LINES);
    expect(worstReadAhead).toBeLessThanOrEqual(4 + 2 * PER_CHUNK);
  }, 60_000);

  it("batches items into BatchInput and Items", async () => {
    // Arrange
    const { engine } = await engineWith(memoryObjects());
    const definition = distributed({
      ItemsPath: "$.items",
      ItemBatcher: { MaxItemsPerBatch: 2, BatchInput: { "run.$": "$.run" } },
    });

    // Act
    const { result } = await runToEnd(engine, definition, { run: "r1", items: [1, 2, 3, 4, 5] });

    // Assert
    expect(JSON.parse(result.output ?? "")).toEqual([
      { BatchInput: { run: "r1" }, Items: [1, 2] },
      { BatchInput: { run: "r1" }, Items: [3, 4] },
      { BatchInput: { run: "r1" }, Items: [5] },
    ]);
  });

  it("never runs more children at once than MaxConcurrency", async () => {
    // Arrange
    let active = 0;
    let peak = 0;
    const { engine } = await engineWith(memoryObjects(), {
      slow: async (n: unknown) => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((resolve) => setTimeout(resolve, 5));
        active--;
        return n;
      },
    });
    const definition = distributed(
      { ItemsPath: "$", MaxConcurrency: 3 },
      {
        ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
        StartAt: "Slow",
        States: { Slow: { Type: "Task", Resource: functionArn("slow"), End: true } },
      },
    );

    // Act
    const { result } = await runToEnd(
      engine,
      definition,
      Array.from({ length: 12 }, (_, i) => i),
    );

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect(JSON.parse(result.output ?? "")).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(peak).toBe(3);
  });

  it("records map run events and makes each child an execution with its own history", async () => {
    // Arrange
    const { engine } = await engineWith(memoryObjects());

    // Act
    const { executionArn, result } = await runToEnd(
      engine,
      distributed({ ItemsPath: "$", Label: "Fan" }),
      [1, 2],
    );

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect(await eventTypes(engine, executionArn)).toEqual([
      "ExecutionStarted",
      "MapStateEntered",
      "MapStateStarted",
      "MapRunStarted",
      "MapRunSucceeded",
      "MapStateSucceeded",
      "MapStateExited",
      "ExecutionSucceeded",
    ]);
    const { mapRuns } = await engine.listMapRuns({ executionArn });
    expect(mapRuns).toHaveLength(1);
    const mapRunArn = mapRuns[0]?.mapRunArn as string;
    expect(mapRunArn).toMatch(/^arn:aws:states:us-east-1:000000000000:mapRun:machine\/Fan:[0-9a-f-]{36}$/);
    const described = await engine.describeMapRun(mapRunArn);
    expect(described.status).toBe("SUCCEEDED");
    expect(described.itemCounts).toMatchObject({ total: 2, succeeded: 2, pending: 0, running: 0, failed: 0 });
    expect(described.executionCounts).toMatchObject({ total: 2, succeeded: 2 });
    const { executions } = await engine.listExecutions({ mapRunArn });
    expect(executions).toHaveLength(2);
    expect(executions[0]).toMatchObject({ status: "SUCCEEDED", mapRunArn, itemCount: 1 });
    const child = executions[0]?.executionArn as string;
    expect(await eventTypes(engine, child)).toEqual([
      "ExecutionStarted",
      "PassStateEntered",
      "PassStateExited",
      "ExecutionSucceeded",
    ]);
    expect((await engine.describeExecution(child)).mapRunArn).toBe(mapRunArn);
  });

  it("fails with States.ExceedToleratedFailureThreshold when more children fail than tolerated", async () => {
    // Arrange
    const { engine } = await engineWith(memoryObjects(), {
      check: (n: unknown) => {
        if ((n as number) % 2 === 1) throw namedError("Odd");
        return n;
      },
    });
    const processor = {
      ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
      StartAt: "Check",
      States: { Check: { Type: "Task", Resource: functionArn("check"), End: true } },
    };

    // Act
    const tolerated = await runToEnd(
      engine,
      distributed({ ItemsPath: "$", ToleratedFailurePercentage: 50 }, processor),
      [0, 1, 2, 3],
      "tolerant",
    );
    const exceeded = await runToEnd(
      engine,
      distributed({ ItemsPath: "$", ToleratedFailureCount: 1, MaxConcurrency: 1 }, processor),
      [0, 1, 2, 3],
      "strict",
    );

    // Assert
    expect(tolerated.result.status).toBe("SUCCEEDED");
    expect(JSON.parse(tolerated.result.output ?? "")[1]).toMatchObject({ Error: "Odd" });
    expect(exceeded.result.status).toBe("FAILED");
    expect(exceeded.result.error).toBe("States.ExceedToleratedFailureThreshold");
    expect(await eventTypes(engine, exceeded.executionArn)).toContain("MapRunFailed");
    const [mapRun] = (await engine.listMapRuns({ executionArn: exceeded.executionArn })).mapRuns;
    expect((await engine.describeMapRun(mapRun?.mapRunArn as string)).status).toBe("FAILED");
  });

  it("writes manifest.json and result files as AWS lays them out and outputs the pointer", async () => {
    // Arrange
    const objects = memoryObjects();
    const { engine } = await engineWith(objects, {
      check: (n: unknown) => {
        if (n === 2) throw namedError("Two", "two is bad");
        return { n };
      },
    });
    const definition = distributed(
      {
        ItemsPath: "$",
        ToleratedFailureCount: 5,
        ResultWriter: {
          Resource: "arn:aws:states:::s3:putObject",
          Parameters: { Bucket: "out", Prefix: "batch-results" },
        },
      },
      {
        ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
        StartAt: "Check",
        States: { Check: { Type: "Task", Resource: functionArn("check"), End: true } },
      },
    );

    // Act
    const { result } = await runToEnd(engine, definition, [1, 2, 3]);

    // Assert
    const output = JSON.parse(result.output ?? "");
    const id = String(output.MapRunArn).split(":").at(-1);
    expect(output).toEqual({
      MapRunArn: expect.stringContaining(":mapRun:machine/Each:"),
      ResultWriterDetails: { Bucket: "out", Key: `batch-results/${id}/manifest.json` },
    });
    const manifest = JSON.parse(objects.text("out", `batch-results/${id}/manifest.json`));
    const succeededText = objects.text("out", `batch-results/${id}/SUCCEEDED_0.json`);
    const failedText = objects.text("out", `batch-results/${id}/FAILED_0.json`);
    expect(manifest).toEqual({
      DestinationBucket: "out",
      MapRunArn: output.MapRunArn,
      ResultFiles: {
        FAILED: [{ Key: `batch-results/${id}/FAILED_0.json`, Size: Buffer.byteLength(failedText) }],
        PENDING: [],
        SUCCEEDED: [{ Key: `batch-results/${id}/SUCCEEDED_0.json`, Size: Buffer.byteLength(succeededText) }],
      },
    });
    const succeeded = JSON.parse(succeededText);
    expect(succeeded).toHaveLength(2);
    expect(succeeded[0]).toMatchObject({
      Input: "1",
      InputDetails: { Included: true },
      Output: '{"n":1}',
      OutputDetails: { Included: true },
      Status: "SUCCEEDED",
      StateMachineArn: expect.stringContaining(`:stateMachine:machine/${id}`),
      ExecutionArn: expect.stringContaining(`:execution:machine/${id}:`),
    });
    expect(typeof succeeded[0].StartDate).toBe("string");
    const [failed] = JSON.parse(failedText);
    expect(failed).toMatchObject({ Input: "2", Status: "FAILED", Error: "Two" });
  });

  it("resumes a map run after a restart without starting any child twice", async () => {
    // Arrange
    const objects = memoryObjects({ "data/m.jsonl": '{"id":"a"}\n{"id":"b"}\n{"id":"c"}\n' });
    const waitStarts: string[] = [];
    const functions = {
      wait: (p: unknown) => {
        waitStarts.push((p as { id: string }).id);
        return {};
      },
    };
    const first = await startEngine(functions, { objects });
    const definition = distributed(
      { ...getObject("m.jsonl", { InputType: "JSONL" }), MaxConcurrency: 2 },
      {
        ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
        StartAt: "Wait",
        States: {
          Wait: {
            Type: "Task",
            Resource: "arn:aws:states:::lambda:invoke.waitForTaskToken",
            Parameters: {
              FunctionName: functionArn("wait"),
              Payload: { "id.$": "$.id", "token.$": "$$.Task.Token" },
            },
            End: true,
          },
        },
      },
    );
    const executionArn = await run(first.engine, definition);
    for (let i = 0; i < 200 && first.lambda.calls.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    const tokens = first.lambda.calls.map((c) => tokenIn(c.payload));
    await first.engine.close();

    // Act
    const second = await startEngine(functions, { objects, dataDir: first.dataDir });
    harnesses.push(second);
    await second.engine.resume();
    for (const token of tokens) await second.engine.sendTaskSuccess(token, '"done"');
    for (let i = 0; i < 200 && second.lambda.calls.length < 1; i++)
      await new Promise((r) => setTimeout(r, 5));
    await second.engine.sendTaskSuccess(tokenIn(second.lambda.calls[0]?.payload), '"done"');
    const result = await waitFor(second.engine, executionArn);

    // Assert
    expect(result.status).toBe("SUCCEEDED");
    expect(JSON.parse(result.output ?? "")).toEqual(["done", "done", "done"]);
    expect(waitStarts.sort()).toEqual(["a", "b", "c"]);
    const [mapRun] = (await second.engine.listMapRuns({ executionArn })).mapRuns;
    const { executions } = await second.engine.listExecutions({ mapRunArn: mapRun?.mapRunArn as string });
    expect(executions).toHaveLength(3);
  });

  it("refuses ListExecutions with both or neither of stateMachineArn and mapRunArn", async () => {
    // Arrange
    const { engine } = await engineWith(memoryObjects());

    // Act
    const neither = engine.listExecutions({});

    // Assert
    await expect(neither).rejects.toMatchObject({ code: "ValidationException" });
    await expect(
      engine.describeMapRun("arn:aws:states:us-east-1:000000000000:mapRun:x/y:z"),
    ).rejects.toMatchObject({
      code: "ResourceNotFound",
    });
  });
});
