import {
  DeleteHumanLoopCommand,
  DescribeHumanLoopCommand,
  ListHumanLoopsCommand,
  paginateListHumanLoops,
  StartHumanLoopCommand,
  StopHumanLoopCommand,
} from "@aws-sdk/client-sagemaker-a2i-runtime";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { aWorker } from "./fakes";
import { anActiveFlow, type Harness, inputFor, raw, startHarness, startLoop } from "./harness";

const LOOP_ARN = /^arn:aws:sagemaker:us-east-1:000000000000:human-loop\//;

async function startError(h: Harness, input: Record<string, unknown>) {
  return h.runtime.send(new StartHumanLoopCommand(input as never)).then(
    () => {
      throw new Error("expected StartHumanLoop to fail");
    },
    (error: { name: string; $metadata: { httpStatusCode?: number }; message: string }) => error,
  );
}

async function sdkError(promise: Promise<unknown>) {
  return promise.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (error: { name: string; $metadata: { httpStatusCode?: number }; message: string }) => error,
  );
}

describe("A2I runtime API", () => {
  let h: Harness;
  let flowArn: string;

  beforeEach(async () => {
    h = await startHarness();
    flowArn = await anActiveFlow(h);
  });

  afterEach(async () => {
    await h.close();
  });

  it("A1 starts a human loop and answers 200 with its ARN", async () => {
    // Arrange
    const request = {
      HumanLoopName: "loop-1",
      FlowDefinitionArn: flowArn,
      HumanLoopInput: { InputContent: inputFor(1) },
    };

    // Act
    const response = await h.runtime.send(new StartHumanLoopCommand(request));

    // Assert
    expect(response.$metadata.httpStatusCode).toBe(200);
    expect(response.HumanLoopArn).toBe("arn:aws:sagemaker:us-east-1:000000000000:human-loop/loop-1");
  });

  it("A2 rejects names outside the documented pattern or length and accepts a--b and 63 characters", async () => {
    // Arrange
    const bad = ["Bad_Name", "-a", "a-", "", "a".repeat(64)];
    const good = ["a--b", "b".repeat(63)];
    const body = (name: string) => ({
      HumanLoopName: name,
      FlowDefinitionArn: flowArn,
      HumanLoopInput: { InputContent: inputFor(2) },
    });

    // Act
    const failures = await Promise.all(bad.map((name) => startError(h, body(name))));
    const successes = await Promise.all(
      good.map((name) => h.runtime.send(new StartHumanLoopCommand(body(name)))),
    );

    // Assert
    for (const failure of failures) {
      expect(failure.name).toBe("ValidationException");
      expect(failure.$metadata.httpStatusCode).toBe(400);
    }
    expect(failures[0]?.message).toContain("humanLoopName");
    expect(successes.map((s) => s.HumanLoopArn)).toEqual(
      good.map((n) => `arn:aws:sagemaker:us-east-1:000000000000:human-loop/${n}`),
    );
  });

  it("A3 rejects InputContent over 3,145,728 characters and InputContent that is not JSON", async () => {
    // Arrange
    const tooLong = JSON.stringify({ pad: "x".repeat(3_145_728) });
    const exactlyMax = JSON.stringify({ pad: "x".repeat(3_145_728 - 10) });

    // Act
    const long = await startError(h, {
      HumanLoopName: "too-long",
      FlowDefinitionArn: flowArn,
      HumanLoopInput: { InputContent: tooLong },
    });
    const notJson = await startError(h, {
      HumanLoopName: "not-json",
      FlowDefinitionArn: flowArn,
      HumanLoopInput: { InputContent: "{taskObject: s3://b/k" },
    });
    const notObject = await startError(h, {
      HumanLoopName: "not-object",
      FlowDefinitionArn: flowArn,
      HumanLoopInput: { InputContent: '["s3://b/k"]' },
    });
    const atLimit = await h.runtime.send(
      new StartHumanLoopCommand({
        HumanLoopName: "at-limit",
        FlowDefinitionArn: flowArn,
        HumanLoopInput: { InputContent: exactlyMax },
      }),
    );

    // Assert
    expect(exactlyMax.length).toBe(3_145_728);
    expect([long.name, long.$metadata.httpStatusCode]).toEqual(["ValidationException", 400]);
    expect([notJson.name, notJson.$metadata.httpStatusCode]).toEqual(["ValidationException", 400]);
    expect(notJson.message).toMatch(/JSON/);
    expect([notObject.name, notObject.message]).toEqual([
      "ValidationException",
      "HumanLoopInput.InputContent must be a JSON object.",
    ]);
    expect(atLimit.HumanLoopArn).toMatch(LOOP_ARN);
  });

  it("A4 rejects a ContentClassifiers value outside the enum and DataAttributes without ContentClassifiers", async () => {
    // Arrange
    const base = { FlowDefinitionArn: flowArn, HumanLoopInput: { InputContent: inputFor(4) } };

    // Act
    const badValue = await startError(h, {
      ...base,
      HumanLoopName: "bad-classifier",
      DataAttributes: { ContentClassifiers: ["FreeOfAdultContent", "FreeOfViolence"] },
    });
    const empty = await startError(h, { ...base, HumanLoopName: "empty-attributes", DataAttributes: {} });
    const ok = await h.runtime.send(
      new StartHumanLoopCommand({
        ...base,
        HumanLoopName: "good-classifiers",
        DataAttributes: {
          ContentClassifiers: ["FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent"],
        },
      }),
    );

    // Assert
    expect([badValue.name, badValue.$metadata.httpStatusCode]).toEqual(["ValidationException", 400]);
    expect(badValue.message).toContain("FreeOfPersonallyIdentifiableInformation");
    expect([empty.name, empty.$metadata.httpStatusCode]).toEqual(["ValidationException", 400]);
    expect(ok.HumanLoopArn).toMatch(LOOP_ARN);
  });

  it("A5 answers 409 ConflictException for the same name with different input and 200 with the same ARN for the same input", async () => {
    // Arrange
    const arn = await startLoop(h, flowArn, "dup", 5);

    // Act
    const again = await h.runtime.send(
      new StartHumanLoopCommand({
        HumanLoopName: "dup",
        FlowDefinitionArn: flowArn,
        HumanLoopInput: { InputContent: inputFor(5) },
      }),
    );
    const conflict = await startError(h, {
      HumanLoopName: "dup",
      FlowDefinitionArn: flowArn,
      HumanLoopInput: { InputContent: inputFor(6) },
    });

    // Assert
    expect(again.HumanLoopArn).toBe(arn);
    expect([conflict.name, conflict.$metadata.httpStatusCode]).toEqual(["ConflictException", 409]);
  });

  it("A6 sends errors with X-Amzn-Errortype and a Message body, surfaced by the SDK as the error name", async () => {
    // Arrange
    const path = "/human-loops/does-not-exist";

    // Act
    const response = await raw(h, path);
    const viaSdk = await sdkError(
      h.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: "does-not-exist" })),
    );

    // Assert
    expect(response.status).toBe(404);
    expect(response.headers.get("x-amzn-errortype")).toBe("ResourceNotFoundException");
    expect(response.json).toEqual({ Message: "Human loop does-not-exist does not exist." });
    expect(viaSdk.name).toBe("ResourceNotFoundException");
    expect(viaSdk.message).toBe("Human loop does-not-exist does not exist.");
  });

  it("A7 describes a loop with the required fields, an ISO-8601 CreationTime string and the output URI from creation", async () => {
    // Arrange
    await startLoop(h, flowArn, "described", 7);

    // Act
    const wire = await raw(h, "/human-loops/described");
    const sdk = await h.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: "described" }));

    // Assert
    expect(wire.json).toEqual({
      CreationTime: "2026-03-04T05:06:09.890Z",
      HumanLoopStatus: "InProgress",
      HumanLoopName: "described",
      HumanLoopArn: "arn:aws:sagemaker:us-east-1:000000000000:human-loop/described",
      FlowDefinitionArn: flowArn,
      HumanLoopOutput: {
        OutputS3Uri: "s3://data-bucket/a2i-output/review-logos/2026/03/04/05/06/09/described/output.json",
      },
    });
    expect(sdk.CreationTime).toEqual(new Date("2026-03-04T05:06:09.890Z"));
    expect(sdk.HumanLoopOutput?.OutputS3Uri).toBe(wire.json.HumanLoopOutput.OutputS3Uri);
  });

  it("A8 answers 404 ResourceNotFoundException for unknown or deleted names on Describe, Stop and Delete", async () => {
    // Arrange
    await startLoop(h, flowArn, "gone", 8);
    await h.runtime.send(new StopHumanLoopCommand({ HumanLoopName: "gone" }));
    await h.runtime.send(new DeleteHumanLoopCommand({ HumanLoopName: "gone" }));

    // Act
    const errors = await Promise.all(
      ["gone", "never-existed"].flatMap((name) => [
        sdkError(h.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: name }))),
        sdkError(h.runtime.send(new StopHumanLoopCommand({ HumanLoopName: name }))),
        sdkError(h.runtime.send(new DeleteHumanLoopCommand({ HumanLoopName: name }))),
      ]),
    );

    // Assert
    expect(errors.map((e) => [e.name, e.$metadata.httpStatusCode])).toEqual(
      Array(6).fill(["ResourceNotFoundException", 404]),
    );
  });

  describe("A9 ListHumanLoops", () => {
    it("rejects a request without FlowDefinitionArn, MaxResults of 0 or 101 and an unknown SortOrder", async () => {
      // Arrange
      const arn = encodeURIComponent(flowArn);

      // Act
      const missing = await raw(h, "/human-loops");
      const zero = await raw(h, `/human-loops?FlowDefinitionArn=${arn}&MaxResults=0`);
      const sideways = await raw(h, `/human-loops?FlowDefinitionArn=${arn}&SortOrder=Sideways`);
      const tooMany = await sdkError(
        h.runtime.send(new ListHumanLoopsCommand({ FlowDefinitionArn: flowArn, MaxResults: 101 })),
      );

      // Assert
      expect([missing.status, missing.headers.get("x-amzn-errortype")]).toEqual([400, "ValidationException"]);
      expect(missing.json.Message).toContain("flowDefinitionArn");
      expect([zero.status, zero.headers.get("x-amzn-errortype")]).toEqual([400, "ValidationException"]);
      expect([tooMany.name, tooMany.$metadata.httpStatusCode]).toEqual(["ValidationException", 400]);
      expect([sideways.status, sideways.headers.get("x-amzn-errortype")]).toEqual([
        400,
        "ValidationException",
      ]);
    });

    it("pages with NextToken returning every loop exactly once, newest first by default", async () => {
      // Arrange
      const names = Array.from({ length: 7 }, (_, i) => `paged-${i}`);
      for (const [i, name] of names.entries()) {
        await startLoop(h, flowArn, name, i);
        h.clock.advance(1_000);
      }

      // Act
      const seen: string[] = [];
      let pages = 0;
      for await (const p of paginateListHumanLoops(
        { client: h.runtime, pageSize: 3 },
        { FlowDefinitionArn: flowArn },
      )) {
        pages++;
        seen.push(...(p.HumanLoopSummaries ?? []).map((s) => s.HumanLoopName as string));
      }

      // Assert
      expect(pages).toBe(3);
      expect(seen).toEqual([...names].reverse());
    });

    it("honours SortOrder Ascending and Descending", async () => {
      // Arrange
      for (const name of ["first", "second", "third"]) {
        await startLoop(h, flowArn, name);
        h.clock.advance(10);
      }

      // Act
      const asc = await h.runtime.send(
        new ListHumanLoopsCommand({ FlowDefinitionArn: flowArn, SortOrder: "Ascending" }),
      );
      const desc = await h.runtime.send(
        new ListHumanLoopsCommand({ FlowDefinitionArn: flowArn, SortOrder: "Descending" }),
      );

      // Assert
      expect(asc.HumanLoopSummaries?.map((s) => s.HumanLoopName)).toEqual(["first", "second", "third"]);
      expect(desc.HumanLoopSummaries?.map((s) => s.HumanLoopName)).toEqual(["third", "second", "first"]);
    });

    it("filters by CreationTimeAfter and CreationTimeBefore", async () => {
      // Arrange
      await startLoop(h, flowArn, "early");
      h.clock.advance(60_000);
      const middle = h.clock.now();
      await startLoop(h, flowArn, "middle");
      h.clock.advance(60_000);
      await startLoop(h, flowArn, "late");

      // Act
      const after = await h.runtime.send(
        new ListHumanLoopsCommand({
          FlowDefinitionArn: flowArn,
          CreationTimeAfter: new Date(middle.getTime() - 1_000),
        }),
      );
      const before = await h.runtime.send(
        new ListHumanLoopsCommand({
          FlowDefinitionArn: flowArn,
          CreationTimeBefore: new Date(middle.getTime() + 1_000),
        }),
      );
      const between = await h.runtime.send(
        new ListHumanLoopsCommand({
          FlowDefinitionArn: flowArn,
          CreationTimeAfter: new Date(middle.getTime() - 1_000),
          CreationTimeBefore: new Date(middle.getTime() + 1_000),
        }),
      );

      // Assert
      expect(after.HumanLoopSummaries?.map((s) => s.HumanLoopName)).toEqual(["late", "middle"]);
      expect(before.HumanLoopSummaries?.map((s) => s.HumanLoopName)).toEqual(["middle", "early"]);
      expect(between.HumanLoopSummaries?.map((s) => s.HumanLoopName)).toEqual(["middle"]);
    });

    it("leaves deleted loops out and returns ISO-8601 CreationTime strings in summaries", async () => {
      // Arrange
      await startLoop(h, flowArn, "kept");
      await startLoop(h, flowArn, "deleted");
      await h.runtime.send(new StopHumanLoopCommand({ HumanLoopName: "deleted" }));
      await h.runtime.send(new DeleteHumanLoopCommand({ HumanLoopName: "deleted" }));

      // Act
      const wire = await raw(h, `/human-loops?FlowDefinitionArn=${encodeURIComponent(flowArn)}`);

      // Assert
      expect(wire.json).toEqual({
        HumanLoopSummaries: [
          {
            HumanLoopName: "kept",
            HumanLoopStatus: "InProgress",
            CreationTime: "2026-03-04T05:06:09.890Z",
            FlowDefinitionArn: flowArn,
          },
        ],
      });
    });

    it("refuses a NextToken that was not issued for this listing", async () => {
      // Arrange
      const arn = encodeURIComponent(flowArn);

      // Act
      const response = await raw(h, `/human-loops?FlowDefinitionArn=${arn}&NextToken=not-a-token`);

      // Assert
      expect([response.status, response.headers.get("x-amzn-errortype")]).toEqual([
        400,
        "ValidationException",
      ]);
    });

    it("answers 404 for a flow definition that does not exist", async () => {
      // Arrange
      const unknown = "arn:aws:sagemaker:us-east-1:000000000000:flow-definition/unknown";

      // Act
      const error = await sdkError(h.runtime.send(new ListHumanLoopsCommand({ FlowDefinitionArn: unknown })));

      // Assert
      expect([error.name, error.$metadata.httpStatusCode]).toEqual(["ResourceNotFoundException", 404]);
    });
  });

  it("A10 stops an unclaimed loop at once and emits exactly one Stopped event", async () => {
    // Arrange
    const arn = await startLoop(h, flowArn, "to-stop");

    // Act
    const response = await raw(h, "/human-loops/stop", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ HumanLoopName: "to-stop" }),
    });
    await h.runtime.send(new StopHumanLoopCommand({ HumanLoopName: "to-stop" }));
    const described = await h.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: "to-stop" }));

    // Assert
    expect([response.status, response.json]).toEqual([200, {}]);
    expect(described.HumanLoopStatus).toBe("Stopped");
    expect(h.bus.events.map((e) => [e.resources[0], e.detail.humanLoopStatus])).toEqual([[arn, "Stopped"]]);
  });

  it("A10 keeps a held loop Stopping until the holder submits, then Stopped with the answer written", async () => {
    // Arrange
    const worker = aWorker(1);
    await startLoop(h, flowArn, "held-stop");
    await h.a2i.queue.claimNext(worker);

    // Act
    await h.runtime.send(new StopHumanLoopCommand({ HumanLoopName: "held-stop" }));
    const whileHeld = await h.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: "held-stop" }));
    const eventsWhileHeld = h.bus.events.length;
    await h.a2i.queue.submit(worker, "held-stop", { category: { label: "acme" } });
    const after = await h.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: "held-stop" }));

    // Assert
    expect(whileHeld.HumanLoopStatus).toBe("Stopping");
    expect(eventsWhileHeld).toBe(0);
    expect(after.HumanLoopStatus).toBe("Stopped");
    const output = await h.objects.json(after.HumanLoopOutput?.OutputS3Uri as string);
    expect(output.humanAnswers).toMatchObject([{ answerContent: { category: { label: "acme" } } }]);
    expect(h.bus.events.map((e) => e.detail.humanLoopStatus)).toEqual(["Stopped"]);
  });

  it("A10 refuses to stop a Completed loop and treats a second stop of a Stopped loop as a no-op", async () => {
    // Arrange
    const worker = aWorker(2);
    await startLoop(h, flowArn, "done");
    await h.a2i.queue.claimNext(worker);
    await h.a2i.queue.submit(worker, "done", { category: { label: "globex" } });
    await startLoop(h, flowArn, "stopped-twice");
    await h.runtime.send(new StopHumanLoopCommand({ HumanLoopName: "stopped-twice" }));

    // Act
    const completed = await sdkError(h.runtime.send(new StopHumanLoopCommand({ HumanLoopName: "done" })));
    const again = await h.runtime.send(new StopHumanLoopCommand({ HumanLoopName: "stopped-twice" }));

    // Assert
    expect([completed.name, completed.$metadata.httpStatusCode]).toEqual(["ValidationException", 400]);
    expect(again.$metadata.httpStatusCode).toBe(200);
    expect(h.bus.events.filter((e) => e.detail.humanLoopName === "stopped-twice")).toHaveLength(1);
  });

  it("A11 refuses to delete an InProgress loop and deletes a Stopped one with an empty 200 body", async () => {
    // Arrange
    await startLoop(h, flowArn, "busy");
    await startLoop(h, flowArn, "finished");
    await h.runtime.send(new StopHumanLoopCommand({ HumanLoopName: "finished" }));

    // Act
    const busy = await sdkError(h.runtime.send(new DeleteHumanLoopCommand({ HumanLoopName: "busy" })));
    const deleted = await raw(h, "/human-loops/finished", { method: "DELETE" });
    const describe = await sdkError(
      h.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: "finished" })),
    );

    // Assert
    expect([busy.name, busy.$metadata.httpStatusCode]).toEqual(["ValidationException", 400]);
    expect([deleted.status, deleted.text]).toEqual([200, ""]);
    expect(describe.name).toBe("ResourceNotFoundException");
    const stillThere = await h.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: "busy" }));
    expect(stillThere.HumanLoopStatus).toBe("InProgress");
  });

  it("A11 deletes Completed and Failed loops", async () => {
    // Arrange
    const worker = aWorker(3);
    await startLoop(h, flowArn, "completed-one");
    await h.a2i.queue.claimNext(worker);
    await h.a2i.queue.submit(worker, "completed-one", { category: { label: "acme" } });
    await startLoop(h, flowArn, "failed-one");
    h.clock.advance(3_600_000);

    // Act
    await h.runtime.send(new DeleteHumanLoopCommand({ HumanLoopName: "completed-one" }));
    await h.runtime.send(new DeleteHumanLoopCommand({ HumanLoopName: "failed-one" }));
    const list = await h.runtime.send(new ListHumanLoopsCommand({ FlowDefinitionArn: flowArn }));

    // Assert
    expect(list.HumanLoopSummaries).toEqual([]);
  });

  it("A12 reports an expired loop as Failed with FailureCode Expired", async () => {
    // Arrange
    await startLoop(h, flowArn, "expiring");
    h.clock.advance(3_600_000 - 1);
    const before = await h.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: "expiring" }));

    // Act
    h.clock.advance(1);
    const after = await h.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: "expiring" }));
    const listed = await h.runtime.send(new ListHumanLoopsCommand({ FlowDefinitionArn: flowArn }));

    // Assert
    expect(before.HumanLoopStatus).toBe("InProgress");
    expect(before.FailureCode).toBeUndefined();
    expect(after.HumanLoopStatus).toBe("Failed");
    expect(after.FailureCode).toBe("Expired");
    expect(after.FailureReason).toMatch(/3600 seconds/);
    expect(listed.HumanLoopSummaries?.[0]).toMatchObject({
      HumanLoopStatus: "Failed",
      FailureReason: after.FailureReason,
    });
    const statuses = ["InProgress", "Failed", "Completed", "Stopped", "Stopping"];
    expect(statuses).toContain(after.HumanLoopStatus);
  });

  it("A13 answers 402 ServiceQuotaExceededException past the open-loop quota of a flow definition", async () => {
    // Arrange
    await h.close();
    h = await startHarness({ limits: { maxOpenLoopsPerFlowDefinition: 2 } });
    flowArn = await anActiveFlow(h);
    await startLoop(h, flowArn, "q1");
    await startLoop(h, flowArn, "q2");

    // Act
    const over = await startError(h, {
      HumanLoopName: "q3",
      FlowDefinitionArn: flowArn,
      HumanLoopInput: { InputContent: inputFor(3) },
    });
    await h.runtime.send(new StopHumanLoopCommand({ HumanLoopName: "q1" }));
    const afterStop = await startLoop(h, flowArn, "q3");

    // Assert
    expect([over.name, over.$metadata.httpStatusCode]).toEqual(["ServiceQuotaExceededException", 402]);
    expect(afterStop).toMatch(LOOP_ARN);
  });

  it("A13 answers 429 ThrottlingException past the request rate and recovers as time passes", async () => {
    // Arrange
    await h.close();
    h = await startHarness({ limits: { requestsPerSecond: 2 } });
    flowArn = await anActiveFlow(h);
    const describe = () => h.runtime.send(new ListHumanLoopsCommand({ FlowDefinitionArn: flowArn }));
    await describe();
    await describe();

    // Act
    const throttled = await sdkError(describe());
    h.clock.advance(500);
    const recovered = await describe();

    // Assert
    expect([throttled.name, throttled.$metadata.httpStatusCode]).toEqual(["ThrottlingException", 429]);
    expect(recovered.$metadata.httpStatusCode).toBe(200);
  });

  it("answers an unknown route with a named 404 error", async () => {
    // Arrange
    const path = "/human-loops/a/b";

    // Act
    const response = await raw(h, path, { method: "PUT" });

    // Assert
    expect(response.status).toBe(404);
    expect(response.headers.get("x-amzn-errortype")).toBe("UnknownOperationException");
  });

  it("answers a malformed JSON body with a named 400 error and starts nothing", async () => {
    // Arrange
    const body = "{not json";

    // Act
    const response = await raw(h, "/human-loops", {
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
    });
    const list = await h.runtime.send(new ListHumanLoopsCommand({ FlowDefinitionArn: flowArn }));

    // Assert
    expect([response.status, response.headers.get("x-amzn-errortype")]).toEqual([
      400,
      "SerializationException",
    ]);
    expect(list.HumanLoopSummaries).toEqual([]);
  });
});
