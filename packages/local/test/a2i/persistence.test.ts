import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DescribeFlowDefinitionCommand, DescribeHumanTaskUiCommand } from "@aws-sdk/client-sagemaker";
import {
  DeleteHumanLoopCommand,
  DescribeHumanLoopCommand,
  StopHumanLoopCommand,
} from "@aws-sdk/client-sagemaker-a2i-runtime";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLocalA2I } from "../../src/a2i/a2i";
import { CorruptStateError } from "../../src/a2i/store";
import { aWorker, ManualClock, MemoryObjects, RecordingBus } from "./fakes";
import { anActiveFlow, type Harness, startHarness, startLoop } from "./harness";

describe("persistence under <dataDir>/a2i", () => {
  let dataDir: string;
  let h: Harness | undefined;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "secondlook-a2i-persist-"));
  });

  afterEach(async () => {
    await h?.close();
    h = undefined;
    await rm(dataDir, { recursive: true, force: true });
  });

  it("finds task UIs, flow definitions, loops, holds and partial answers where they were after a restart", async () => {
    // Arrange
    h = await startHarness({}, dataDir);
    const flowArn = await anActiveFlow(h, { taskCount: 3 });
    await startLoop(h, flowArn, "survivor");
    const [ann, bob, cat] = [aWorker(1), aWorker(2), aWorker(3)];
    await h.a2i.queue.claimNext(ann);
    await h.a2i.queue.submit(ann, "survivor", { category: { label: "acme" } });
    const bobTask = await h.a2i.queue.claimNext(bob);

    // Act
    await h.restart();
    const heldAfterRestart = await h.a2i.queue.getHeld(bob, "survivor");
    const ui = await h.sagemaker.send(new DescribeHumanTaskUiCommand({ HumanTaskUiName: "review-logos-ui" }));
    const flow = await h.sagemaker.send(
      new DescribeFlowDefinitionCommand({ FlowDefinitionName: "review-logos" }),
    );
    const annAgain = await h.a2i.queue.claimNext(ann);
    await h.a2i.queue.submit(bob, "survivor", { category: { label: "globex" } });
    await h.a2i.queue.claimNext(cat);
    await h.a2i.queue.submit(cat, "survivor", { category: { label: "acme" } });
    const loop = await h.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: "survivor" }));

    // Assert
    expect(heldAfterRestart).toEqual(bobTask);
    expect(ui.HumanTaskUiName).toBe("review-logos-ui");
    expect(flow.FlowDefinitionStatus).toBe("Active");
    expect(annAgain).toBeUndefined();
    expect(loop.HumanLoopStatus).toBe("Completed");
    const output = await h.objects.json(loop.HumanLoopOutput?.OutputS3Uri as string);
    expect((output.humanAnswers as { workerId: string }[]).map((a) => a.workerId)).toEqual([
      ann.id,
      bob.id,
      cat.id,
    ]);
  });

  it("delivers after a restart a status event the bus refused before it", async () => {
    // Arrange
    h = await startHarness({}, dataDir);
    const flowArn = await anActiveFlow(h);
    await startLoop(h, flowArn, "owed");
    h.bus.failWith = new Error("bus down");
    await h.runtime.send(new StopHumanLoopCommand({ HumanLoopName: "owed" }));

    // Act
    h.bus.failWith = undefined;
    await h.restart();

    // Assert
    expect(h.bus.events.map((e) => [e.detail.humanLoopName, e.detail.humanLoopStatus])).toEqual([
      ["owed", "Stopped"],
    ]);
  });

  it("leaves no temporary files behind and removes the file of a deleted loop", async () => {
    // Arrange
    h = await startHarness({}, dataDir);
    const flowArn = await anActiveFlow(h);
    await startLoop(h, flowArn, "short-lived");
    await h.runtime.send(new StopHumanLoopCommand({ HumanLoopName: "short-lived" }));

    // Act
    await h.runtime.send(new DeleteHumanLoopCommand({ HumanLoopName: "short-lived" }));
    await h.a2i.close();
    const loops = await readdir(join(dataDir, "a2i", "human-loops"));
    const flows = await readdir(join(dataDir, "a2i", "flow-definitions"));

    // Assert
    expect(loops).toEqual([]);
    expect(flows).toEqual(["review-logos.json"]);
  });

  it("ignores the temporary file of an interrupted write and keeps the record it was replacing", async () => {
    // Arrange
    h = await startHarness({}, dataDir);
    const flowArn = await anActiveFlow(h);
    await startLoop(h, flowArn, "intact");
    await h.a2i.close();
    const loopsDir = join(dataDir, "a2i", "human-loops");
    await writeFile(join(loopsDir, "intact.json.1234.tmp"), '{"half": ');

    // Act
    await h.restart();
    const loop = await h.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: "intact" }));

    // Assert
    expect(loop.HumanLoopStatus).toBe("InProgress");
    expect(await readdir(loopsDir)).toEqual(["intact.json"]);
  });

  it("refuses to start on a corrupt record with CorruptStateError naming the file", async () => {
    // Arrange
    const loopsDir = join(dataDir, "a2i", "human-loops");
    h = await startHarness({}, dataDir);
    await h.close();
    h = undefined;
    await writeFile(join(loopsDir, "broken.json"), "{not json");

    // Act
    const starting = createLocalA2I({
      dataDir,
      objects: new MemoryObjects(),
      bus: new RecordingBus(),
      clock: new ManualClock(),
    });

    // Assert
    await expect(starting).rejects.toThrow(CorruptStateError);
    await expect(starting).rejects.toThrow(/broken\.json/);
    expect(await readdir(loopsDir)).toEqual(["broken.json"]);
  });
});
