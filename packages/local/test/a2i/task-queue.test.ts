import { DescribeHumanLoopCommand, StopHumanLoopCommand } from "@aws-sdk/client-sagemaker-a2i-runtime";
import { afterEach, describe, expect, it } from "vitest";
import { createLocalA2I } from "../../src/a2i/a2i";
import { InvalidAnswerError } from "../../src/a2i/loops";
import { TaskUnavailableError } from "../../src/a2i/workforce";
import { aWorker, MemoryObjects, RecordingBus } from "./fakes";
import { anActiveFlow, type Harness, startHarness, startLoop, TEMPLATE } from "./harness";

const answer = (label: string) => ({ category: { label } });

async function refusal(promise: Promise<unknown>): Promise<TaskUnavailableError> {
  return promise.then(
    () => {
      throw new Error("expected the queue to refuse");
    },
    (error: unknown) => {
      if (!(error instanceof TaskUnavailableError)) throw error;
      return error;
    },
  );
}

const status = async (h: Harness, name: string) =>
  (await h.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: name }))).HumanLoopStatus;

describe("the task queue", () => {
  let h: Harness;

  afterEach(async () => {
    await h.close();
  });

  it("offers the oldest task with everything the portal needs to render it", async () => {
    // Arrange
    h = await startHarness();
    const flowArn = await anActiveFlow(h, { taskTimeLimitInSeconds: 300 });
    await startLoop(h, flowArn, "older", 1);
    h.clock.advance(1_000);
    await startLoop(h, flowArn, "newer", 2);
    const worker = aWorker(1);

    // Act
    const available = await h.a2i.queue.countAvailable(worker);
    const task = await h.a2i.queue.claimNext(worker);

    // Assert
    expect(available).toBe(2);
    expect(task).toEqual({
      humanLoopName: "older",
      flowDefinitionName: "review-logos",
      title: "Which logo is this?",
      description: "Pick the logo shown in the image.",
      keywords: ["image", "logo"],
      template: TEMPLATE,
      input: { taskObject: "s3://data-bucket/images_for_detection/1.png", labels: ["acme", "globex"] },
      createdAt: new Date("2026-03-04T05:06:09.890Z"),
      acceptedAt: new Date("2026-03-04T05:06:10.890Z"),
      heldUntil: new Date("2026-03-04T05:11:10.890Z"),
    });
    expect(await h.a2i.queue.countAvailable(worker)).toBe(1);
  });

  it("with TaskCount 2 lets two different workers each answer once, then completes", async () => {
    // Arrange
    h = await startHarness();
    const flowArn = await anActiveFlow(h, { taskCount: 2 });
    await startLoop(h, flowArn, "pair");
    const [ann, bob, cat] = [aWorker(1), aWorker(2), aWorker(3)];

    // Act
    const first = await h.a2i.queue.claimNext(ann);
    const second = await h.a2i.queue.claimNext(bob);
    const third = await h.a2i.queue.claimNext(cat);
    await h.a2i.queue.submit(ann, "pair", answer("acme"));
    const annAgain = await h.a2i.queue.claimNext(ann);
    const statusAfterOne = await status(h, "pair");
    await h.a2i.queue.submit(bob, "pair", answer("globex"));

    // Assert
    expect([first?.humanLoopName, second?.humanLoopName]).toEqual(["pair", "pair"]);
    expect(third).toBeUndefined();
    expect(annAgain).toBeUndefined();
    expect(statusAfterOne).toBe("InProgress");
    expect(await status(h, "pair")).toBe("Completed");
  });

  it("refuses a second answer from the same worker as already-answered and changes nothing", async () => {
    // Arrange
    h = await startHarness();
    const flowArn = await anActiveFlow(h, { taskCount: 2 });
    await startLoop(h, flowArn, "twice");
    const worker = aWorker(1);
    await h.a2i.queue.claimNext(worker);
    await h.a2i.queue.submit(worker, "twice", answer("acme"));

    // Act
    const error = await refusal(h.a2i.queue.submit(worker, "twice", answer("globex")));

    // Assert
    expect(error.reason).toBe("already-answered");
    expect(error.message).toMatch(/already answered/);
    expect(await status(h, "twice")).toBe("InProgress");
    expect(await h.a2i.queue.countAvailable(aWorker(2))).toBe(1);
  });

  it("releases a hold when TaskTimeLimitInSeconds passes and refuses the late submit as expired", async () => {
    // Arrange
    h = await startHarness();
    const flowArn = await anActiveFlow(h, { taskTimeLimitInSeconds: 60 });
    await startLoop(h, flowArn, "slow");
    const [slow, other] = [aWorker(1), aWorker(2)];
    await h.a2i.queue.claimNext(slow);
    const whileHeld = await h.a2i.queue.countAvailable(other);

    // Act
    h.clock.advance(60_000);
    const late = await refusal(h.a2i.queue.submit(slow, "slow", answer("acme")));
    const held = await h.a2i.queue.getHeld(slow, "slow");
    const takenOver = await h.a2i.queue.claimNext(other);

    // Assert
    expect(whileHeld).toBe(0);
    expect(late.reason).toBe("expired");
    expect(late.message).toMatch(/ran out/);
    expect(held).toBeUndefined();
    expect(takenOver?.humanLoopName).toBe("slow");
    expect(h.objects.keys()).toEqual([]);
  });

  it("never lets a worker get, release or submit a task another worker holds", async () => {
    // Arrange
    h = await startHarness();
    const flowArn = await anActiveFlow(h);
    await startLoop(h, flowArn, "mine");
    const [owner, intruder] = [aWorker(1), aWorker(2)];
    await h.a2i.queue.claimNext(owner);

    // Act
    const seen = await h.a2i.queue.getHeld(intruder, "mine");
    const submit = await refusal(h.a2i.queue.submit(intruder, "mine", answer("globex")));
    const release = await refusal(h.a2i.queue.release(intruder, "mine"));
    const claimed = await h.a2i.queue.claimNext(intruder);

    // Assert
    expect(seen).toBeUndefined();
    expect([submit.reason, release.reason]).toEqual(["not-held", "not-held"]);
    expect(claimed).toBeUndefined();
    expect((await h.a2i.queue.getHeld(owner, "mine"))?.humanLoopName).toBe("mine");
  });

  it("gives a released task back to the queue and offers it to the releasing worker last", async () => {
    // Arrange
    h = await startHarness();
    const flowArn = await anActiveFlow(h);
    await startLoop(h, flowArn, "skipped");
    h.clock.advance(1_000);
    await startLoop(h, flowArn, "next-up");
    const [skipper, other] = [aWorker(1), aWorker(2)];
    await h.a2i.queue.claimNext(skipper);

    // Act
    await h.a2i.queue.release(skipper, "skipped");
    const lateSubmit = await refusal(h.a2i.queue.submit(skipper, "skipped", answer("acme")));
    const skipperNext = await h.a2i.queue.claimNext(skipper);
    const otherNext = await h.a2i.queue.claimNext(other);

    // Assert
    expect(lateSubmit.reason).toBe("not-held");
    expect(skipperNext?.humanLoopName).toBe("next-up");
    expect(otherNext?.humanLoopName).toBe("skipped");
  });

  it("claims a further task for a worker who already holds one, never the one they hold", async () => {
    // Arrange
    h = await startHarness();
    const flowArn = await anActiveFlow(h);
    await startLoop(h, flowArn, "first");
    await startLoop(h, flowArn, "second");
    const worker = aWorker(1);
    const claimed = await h.a2i.queue.claimNext(worker);

    // Act
    const further = await h.a2i.queue.claimNext(worker);
    const none = await h.a2i.queue.claimNext(worker);

    // Assert
    expect([claimed?.humanLoopName, further?.humanLoopName, none]).toEqual(["first", "second", undefined]);
    expect(await h.a2i.queue.countAvailable(aWorker(2))).toBe(0);
  });

  it("lets the portal skip by claiming the next task before releasing the current one", async () => {
    // Arrange
    h = await startHarness();
    const flowArn = await anActiveFlow(h);
    await startLoop(h, flowArn, "only-one");
    const worker = aWorker(1);
    await h.a2i.queue.claimNext(worker);

    // Act
    const next = await h.a2i.queue.claimNext(worker);
    await h.a2i.queue.release(worker, "only-one");
    const again = await h.a2i.queue.claimNext(worker);

    // Assert
    expect(next).toBeUndefined();
    expect(again?.humanLoopName).toBe("only-one");
  });

  it("expires a loop nobody answered within TaskAvailabilityLifetimeInSeconds and takes it off the queue", async () => {
    // Arrange
    h = await startHarness();
    const flowArn = await anActiveFlow(h, { taskAvailabilityLifetimeInSeconds: 120 });
    await startLoop(h, flowArn, "stale");
    const worker = aWorker(1);

    // Act
    h.clock.advance(120_000);
    const available = await h.a2i.queue.countAvailable(worker);
    const claimed = await h.a2i.queue.claimNext(worker);

    // Assert
    expect(available).toBe(0);
    expect(claimed).toBeUndefined();
    const described = await h.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: "stale" }));
    expect([described.HumanLoopStatus, described.FailureCode]).toEqual(["Failed", "Expired"]);
    expect(h.bus.events.map((e) => e.detail.failureCode)).toEqual(["Expired"]);
  });

  it("lets a worker who accepted before the lifetime ended finish, then completes the loop", async () => {
    // Arrange
    h = await startHarness();
    const flowArn = await anActiveFlow(h, {
      taskAvailabilityLifetimeInSeconds: 60,
      taskTimeLimitInSeconds: 300,
    });
    await startLoop(h, flowArn, "just-in-time");
    const worker = aWorker(1);
    h.clock.advance(59_000);
    await h.a2i.queue.claimNext(worker);

    // Act
    h.clock.advance(30_000);
    const newcomer = await h.a2i.queue.countAvailable(aWorker(2));
    await h.a2i.queue.submit(worker, "just-in-time", answer("acme"));

    // Assert
    expect(newcomer).toBe(0);
    expect(await status(h, "just-in-time")).toBe("Completed");
  });

  it("expires a loop in the background sweep without any request", async () => {
    // Arrange
    h = await startHarness({ sweepIntervalMs: 20 });
    const flowArn = await anActiveFlow(h, { taskAvailabilityLifetimeInSeconds: 1 });
    await startLoop(h, flowArn, "swept");

    // Act
    h.clock.advance(1_000);
    const deadline = Date.now() + 5_000;
    while (h.bus.events.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));

    // Assert
    expect(h.bus.events.map((e) => [e.detail.humanLoopName, e.detail.failureCode])).toEqual([
      ["swept", "Expired"],
    ]);
  });

  it("stops a held loop once the holder's time runs out, without new claims in between", async () => {
    // Arrange
    h = await startHarness();
    const flowArn = await anActiveFlow(h, { taskTimeLimitInSeconds: 30 });
    await startLoop(h, flowArn, "stop-held");
    const holder = aWorker(1);
    await h.a2i.queue.claimNext(holder);
    await h.runtime.send(new StopHumanLoopCommand({ HumanLoopName: "stop-held" }));

    // Act
    const newcomer = await h.a2i.queue.claimNext(aWorker(2));
    const whileHeld = await status(h, "stop-held");
    h.clock.advance(30_000);
    const afterHold = await status(h, "stop-held");
    const late = await refusal(h.a2i.queue.submit(holder, "stop-held", answer("acme")));

    // Assert
    expect(newcomer).toBeUndefined();
    expect(whileHeld).toBe("Stopping");
    expect(afterHold).toBe("Stopped");
    expect(late.reason).toBe("expired");
    expect(h.objects.keys()).toEqual([]);
    expect(h.bus.events.map((e) => e.detail.humanLoopStatus)).toEqual(["Stopped"]);
  });

  it("stops a held loop when its holder releases it, and the holder cannot come back", async () => {
    // Arrange
    h = await startHarness();
    const flowArn = await anActiveFlow(h);
    await startLoop(h, flowArn, "walk-away");
    const holder = aWorker(1);
    await h.a2i.queue.claimNext(holder);
    await h.runtime.send(new StopHumanLoopCommand({ HumanLoopName: "walk-away" }));

    // Act
    await h.a2i.queue.release(holder, "walk-away");
    const back = await h.a2i.queue.claimNext(holder);
    const submit = await refusal(h.a2i.queue.submit(holder, "walk-away", answer("acme")));

    // Assert
    expect(await status(h, "walk-away")).toBe("Stopped");
    expect(back).toBeUndefined();
    expect(submit.reason).toBe("closed");
  });

  it("refuses a submit to a loop that no longer exists as closed", async () => {
    // Arrange
    h = await startHarness();
    const worker = aWorker(1);

    // Act
    const error = await refusal(h.a2i.queue.submit(worker, "no-such-loop", answer("acme")));

    // Assert
    expect(error.reason).toBe("closed");
  });

  it("rejects an answer that is not an object with InvalidAnswerError and keeps the hold", async () => {
    // Arrange
    h = await startHarness();
    const flowArn = await anActiveFlow(h);
    await startLoop(h, flowArn, "bad-answer");
    const worker = aWorker(1);
    await h.a2i.queue.claimNext(worker);

    // Act
    const rejected = h.a2i.queue.submit(worker, "bad-answer", ["not", "an", "object"] as never);

    // Assert
    await expect(rejected).rejects.toThrow(InvalidAnswerError);
    expect((await h.a2i.queue.getHeld(worker, "bad-answer"))?.humanLoopName).toBe("bad-answer");
    expect(await status(h, "bad-answer")).toBe("InProgress");
  });

  it("scales hold and lifetime durations by timeScale", async () => {
    // Arrange
    h = await startHarness({ timeScale: 0.001 });
    const flowArn = await anActiveFlow(h, {
      taskTimeLimitInSeconds: 60,
      taskAvailabilityLifetimeInSeconds: 3_600,
    });
    await startLoop(h, flowArn, "scaled");
    const worker = aWorker(1);

    // Act
    const task = await h.a2i.queue.claimNext(worker);
    h.clock.advance(60);
    const afterHold = await h.a2i.queue.getHeld(worker, "scaled");
    h.clock.advance(3_600);
    const afterLifetime = await status(h, "scaled");

    // Assert
    expect((task?.heldUntil.getTime() ?? 0) - (task?.acceptedAt.getTime() ?? 0)).toBe(60);
    expect(afterHold).toBeUndefined();
    expect(afterLifetime).toBe("Failed");
  });

  it("refuses a timeScale that is not positive", async () => {
    // Arrange
    const options = {
      dataDir: "/nonexistent",
      objects: new MemoryObjects(),
      bus: new RecordingBus(),
      timeScale: 0,
    };

    // Act
    const creating = createLocalA2I(options);

    // Assert
    await expect(creating).rejects.toThrow(RangeError);
  });
});
