import {
  DescribeHumanLoopCommand,
  StartHumanLoopCommand,
  StopHumanLoopCommand,
} from "@aws-sdk/client-sagemaker-a2i-runtime";
import { afterEach, describe, expect, it } from "vitest";
import { outputKey, parseS3OutputPath } from "../../src/a2i/model";
import { aWorker } from "./fakes";
import { anActiveFlow, type Harness, startHarness, startLoop } from "./harness";

describe("output.json and status-change events", () => {
  let h: Harness;

  afterEach(async () => {
    await h.close();
  });

  it("O1 writes output.json under <S3OutputPath>/<flow>/YYYY/MM/DD/hh/mm/ss/<loop>/output.json in UTC, seconds truncated", async () => {
    // Arrange
    h = await startHarness();
    const flowArn = await anActiveFlow(h, {
      name: "logo-flow",
      s3OutputPath: "s3://results-bucket/deep/prefix/",
    });
    h.clock.advance(Date.parse("2027-01-02T03:04:05.999Z") - h.clock.now().getTime());
    await startLoop(h, flowArn, "loop-o1");
    const worker = aWorker(1);
    await h.a2i.queue.claimNext(worker);
    h.clock.advance(90_000);

    // Act
    await h.a2i.queue.submit(worker, "loop-o1", { category: { label: "acme" } });
    const described = await h.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: "loop-o1" }));

    // Assert
    const key = "deep/prefix/logo-flow/2027/01/02/03/04/05/loop-o1/output.json";
    expect(h.objects.keys()).toEqual([`results-bucket/${key}`]);
    expect(described.HumanLoopOutput?.OutputS3Uri).toBe(`s3://results-bucket/${key}`);
    expect(h.objects.objects.get(`results-bucket/${key}`)?.contentType).toBe("application/json");
  });

  it("O1 zero-pads every date part and handles an S3OutputPath without a prefix", () => {
    // Arrange
    const created = new Date("2026-09-08T07:06:05.432Z");

    // Act
    const bare = parseS3OutputPath("s3://bucket");
    const key = outputKey(bare?.prefix ?? "", "flow", "loop", created);
    const https = parseS3OutputPath("https://bucket-x.s3.us-east-1.amazonaws.com/out/");
    const pathStyle = parseS3OutputPath("https://s3.amazonaws.com/bucket-y/a/b");

    // Assert
    expect(bare).toEqual({ bucket: "bucket", prefix: "" });
    expect(key).toBe("flow/2026/09/08/07/06/05/loop/output.json");
    expect(https).toEqual({ bucket: "bucket-x", prefix: "out" });
    expect(pathStyle).toEqual({ bucket: "bucket-y", prefix: "a/b" });
  });

  it("O2 O3 writes the custom-task output file with every documented field", async () => {
    // Arrange
    h = await startHarness();
    const flowArn = await anActiveFlow(h);
    const input = {
      taskObject: "s3://data-bucket/images_for_detection/x.png",
      labels: ["acme"],
      nested: { n: 1 },
    };
    await h.runtime.send(
      new StartHumanLoopCommand({
        HumanLoopName: "loop-o2",
        FlowDefinitionArn: flowArn,
        HumanLoopInput: { InputContent: JSON.stringify(input) },
      }),
    );
    const worker = aWorker(7);
    h.clock.advance(1_000);
    await h.a2i.queue.claimNext(worker);
    h.clock.advance(165_529);

    // Act
    await h.a2i.queue.submit(worker, "loop-o2", { category: { label: "None of the Above" } });
    const described = await h.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: "loop-o2" }));
    const output = await h.objects.json(described.HumanLoopOutput?.OutputS3Uri as string);

    // Assert
    expect(output).toEqual({
      flowDefinitionArn: flowArn,
      humanAnswers: [
        {
          acceptanceTime: "2026-03-04T05:06:10.890Z",
          answerContent: { category: { label: "None of the Above" } },
          submissionTime: "2026-03-04T05:08:56.419Z",
          timeSpentInSeconds: 165.529,
          workerId: "0000000000000007",
          workerMetadata: {
            identityData: {
              identityProviderType: "Cognito",
              issuer: "http://127.0.0.1:9999/portal",
              sub: "00000000-0000-4000-8000-000000000007",
            },
          },
        },
      ],
      humanLoopName: "loop-o2",
      inputContent: input,
    });
    expect(output).not.toHaveProperty("awsManagedHumanLoopRequestSource");
    expect(described.HumanLoopStatus).toBe("Completed");
  });

  it("O4 writes exactly TaskCount answers and only after the last of them", async () => {
    // Arrange
    h = await startHarness();
    const flowArn = await anActiveFlow(h, { taskCount: 3 });
    await startLoop(h, flowArn, "loop-o4");
    const workers = [aWorker(1), aWorker(2), aWorker(3)];
    for (const worker of workers) await h.a2i.queue.claimNext(worker);

    // Act
    await h.a2i.queue.submit(workers[0] as never, "loop-o4", { category: { label: "acme" } });
    await h.a2i.queue.submit(workers[1] as never, "loop-o4", { category: { label: "globex" } });
    const afterTwo = { keys: h.objects.keys().length, events: h.bus.events.length };
    const statusAfterTwo = await h.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: "loop-o4" }));
    await h.a2i.queue.submit(workers[2] as never, "loop-o4", { category: { label: "acme" } });
    const described = await h.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: "loop-o4" }));

    // Assert
    expect(afterTwo).toEqual({ keys: 0, events: 0 });
    expect(statusAfterTwo.HumanLoopStatus).toBe("InProgress");
    const output = await h.objects.json(described.HumanLoopOutput?.OutputS3Uri as string);
    expect((output.humanAnswers as { workerId: string }[]).map((a) => a.workerId)).toEqual(
      workers.map((w) => w.id),
    );
    expect(described.HumanLoopStatus).toBe("Completed");
  });

  it("O5 emits one Completed event shaped like A2I's, with the same output URI as Describe", async () => {
    // Arrange
    h = await startHarness();
    const flowArn = await anActiveFlow(h);
    const loopArn = await startLoop(h, flowArn, "loop-o5");
    const worker = aWorker(1);
    await h.a2i.queue.claimNext(worker);
    h.clock.advance(12_345);

    // Act
    await h.a2i.queue.submit(worker, "loop-o5", { category: { label: "acme" } });
    await h.a2i.sweep();
    const described = await h.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: "loop-o5" }));

    // Assert
    expect(h.bus.events).toHaveLength(1);
    expect(h.bus.events[0]).toEqual({
      version: "0",
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      "detail-type": "SageMaker A2I HumanLoop Status Change",
      source: "aws.sagemaker",
      account: "000000000000",
      time: "2026-03-04T05:06:22Z",
      region: "us-east-1",
      resources: [loopArn],
      detail: {
        creationTime: "2026-03-04T05:06:09.890Z",
        failureCode: null,
        failureReason: null,
        flowDefinitionArn: flowArn,
        humanLoopArn: loopArn,
        humanLoopName: "loop-o5",
        humanLoopOutput: { outputS3Uri: described.HumanLoopOutput?.OutputS3Uri },
        humanLoopStatus: "Completed",
      },
    });
  });

  it("O5 emits a Failed event with failureCode and failureReason for an expired loop and none while InProgress", async () => {
    // Arrange
    h = await startHarness();
    const flowArn = await anActiveFlow(h, { taskAvailabilityLifetimeInSeconds: 60 });
    await startLoop(h, flowArn, "loop-expired");
    await h.a2i.sweep();
    const whileOpen = h.bus.events.length;

    // Act
    h.clock.advance(60_000);
    await h.a2i.sweep();
    await h.a2i.sweep();

    // Assert
    expect(whileOpen).toBe(0);
    expect(h.bus.events.map((e) => e.detail)).toEqual([
      expect.objectContaining({
        humanLoopStatus: "Failed",
        failureCode: "Expired",
        failureReason: "No worker completed the task within 60 seconds.",
      }),
    ]);
  });

  it("fails the loop with InternalError when output.json cannot be written, and says so in the event", async () => {
    // Arrange
    h = await startHarness();
    const flowArn = await anActiveFlow(h);
    await startLoop(h, flowArn, "loop-broken-s3");
    const worker = aWorker(1);
    await h.a2i.queue.claimNext(worker);
    h.objects.failPutsWith = new Error("disk full");

    // Act
    await h.a2i.queue.submit(worker, "loop-broken-s3", { category: { label: "acme" } });
    const described = await h.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: "loop-broken-s3" }));

    // Assert
    expect(described).toMatchObject({ HumanLoopStatus: "Failed", FailureCode: "InternalError" });
    expect(described.FailureReason).toContain("disk full");
    expect(h.bus.events.map((e) => [e.detail.humanLoopStatus, e.detail.failureCode])).toEqual([
      ["Failed", "InternalError"],
    ]);
  });

  it("keeps an event the bus refused and delivers it on the next sweep, once", async () => {
    // Arrange
    h = await startHarness();
    const flowArn = await anActiveFlow(h);
    await startLoop(h, flowArn, "loop-retry", 1);
    h.bus.failWith = new Error("bus down");
    await h.runtime.send(new StopHumanLoopCommand({ HumanLoopName: "loop-retry" }));
    const whileDown = h.bus.events.length;

    // Act
    h.bus.failWith = undefined;
    await h.a2i.sweep();
    await h.a2i.sweep();

    // Assert
    expect(whileDown).toBe(0);
    expect(h.bus.events.map((e) => [e.detail.humanLoopName, e.detail.humanLoopStatus])).toEqual([
      ["loop-retry", "Stopped"],
    ]);
  });

  it("lets a rule target call back into A2I while its event is being delivered", async () => {
    // Arrange
    h = await startHarness();
    const flowArn = await anActiveFlow(h);
    await startLoop(h, flowArn, "loop-callback");
    const worker = aWorker(1);
    await h.a2i.queue.claimNext(worker);
    const seenByTarget: (string | undefined)[] = [];
    const harness = h;
    h.bus.onPut = async (event) => {
      const name = event.detail.humanLoopName as string;
      const described = await harness.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: name }));
      seenByTarget.push(described.HumanLoopStatus);
    };

    // Act
    await h.a2i.queue.submit(worker, "loop-callback", { category: { label: "acme" } });

    // Assert
    expect(seenByTarget).toEqual(["Completed"]);
    expect(h.bus.events).toHaveLength(1);
  });
});
