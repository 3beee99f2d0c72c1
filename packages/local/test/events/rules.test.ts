import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Rules } from "@secondlook/core/blueprint";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BusEvent } from "../../src/contracts";
import { createEventRules, EventBusClosedError, InvalidRuleError } from "../../src/events/rules";
import { createLocalS3 } from "../../src/s3/s3";

let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "secondlook-events-"));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const event = (source: string, detail: Record<string, unknown> = {}): BusEvent => ({
  version: "0",
  id: crypto.randomUUID(),
  "detail-type": "Test Event",
  source,
  account: "000000000000",
  time: "2026-01-01T00:00:00Z",
  region: "us-east-1",
  resources: [],
  detail,
});

describe("local EventBridge rules", () => {
  it("delivers a matching event to its rule's target after put resolves, and not to others", async () => {
    // Arrange
    const rules = createEventRules({ dataDir });
    const received: string[] = [];
    let putResolvedFirst = false;
    let putDone = false;
    rules.addRule({
      name: "wanted",
      pattern: { source: ["app.a"] },
      target: async (e) => {
        putResolvedFirst = putDone;
        received.push(`wanted:${e.source}`);
      },
    });
    rules.addRule({
      name: "other",
      pattern: { source: ["app.b"] },
      target: async (e) => void received.push(`other:${e.source}`),
    });
    // Act
    await rules.bus.put(event("app.a"));
    putDone = true;
    await rules.drain();
    await rules.close();
    // Assert
    expect(received).toEqual(["wanted:app.a"]);
    expect(putResolvedFirst).toBe(true);
    expect(await readdir(join(dataDir, "events", "outbox"))).toEqual([]);
  });

  it("retries a failing target with backoff until it succeeds", async () => {
    // Arrange
    const rules = createEventRules({ dataDir, baseDelayMs: 5, onDeliveryError: () => {} });
    let calls = 0;
    rules.addRule({
      name: "flaky",
      pattern: { source: ["app"] },
      target: async () => {
        calls += 1;
        if (calls < 3) throw new Error("not yet");
      },
    });
    // Act
    await rules.bus.put(event("app"));
    await rules.drain();
    await rules.close();
    // Assert
    expect(calls).toBe(3);
  });

  it("moves an event to the dead-letter folder after the last attempt", async () => {
    // Arrange
    const failures: string[] = [];
    const rules = createEventRules({
      dataDir,
      baseDelayMs: 1,
      maxAttempts: 2,
      onDeliveryError: (rule) => failures.push(rule),
    });
    rules.addRule({
      name: "broken",
      pattern: { source: ["app"] },
      target: async () => Promise.reject(new Error("down")),
    });
    // Act
    await rules.bus.put(event("app"));
    await rules.drain();
    await rules.close();
    // Assert
    expect(failures).toEqual(["broken", "broken"]);
    expect(await readdir(join(dataDir, "events", "dead-letter"))).toHaveLength(1);
    expect(await readdir(join(dataDir, "events", "outbox"))).toEqual([]);
  });

  it("redelivers events still in the outbox after a restart", async () => {
    // Arrange
    const first = createEventRules({ dataDir, baseDelayMs: 60_000, onDeliveryError: () => {} });
    first.addRule({
      name: "target",
      pattern: { source: ["app"] },
      target: async () => Promise.reject(new Error("crash")),
    });
    await first.bus.put(event("app", { n: 1 }));
    await first.bus.put(event("app", { n: 2 }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await first.close();
    const delivered: unknown[] = [];
    // Act
    const second = createEventRules({ dataDir });
    second.addRule({
      name: "target",
      pattern: { source: ["app"] },
      target: async (e) => void delivered.push(e.detail.n),
    });
    await second.drain();
    await second.close();
    // Assert
    expect(delivered).toEqual([1, 2]);
    expect(await readdir(join(dataDir, "events", "outbox"))).toEqual([]);
  });

  it("runs at most `concurrency` deliveries at once and still delivers every event", async () => {
    // Arrange
    const rules = createEventRules({ dataDir, concurrency: 2 });
    let running = 0;
    let peak = 0;
    const delivered: unknown[] = [];
    rules.addRule({
      name: "slow",
      pattern: { source: ["app"] },
      target: async (e) => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 10));
        delivered.push(e.detail.n);
        running -= 1;
      },
    });
    // Act
    for (let n = 0; n < 10; n++) await rules.bus.put(event("app", { n }));
    await rules.drain();
    await rules.close();
    // Assert
    expect(peak).toBe(2);
    expect([...delivered].sort((a, b) => Number(a) - Number(b))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("refuses bad rule names, duplicate rules, invalid patterns and puts after close", async () => {
    // Arrange
    const rules = createEventRules({ dataDir });
    rules.addRule({ name: "one", pattern: { source: ["x"] }, target: async () => {} });
    // Act
    const badName = () =>
      rules.addRule({ name: "has space", pattern: { source: ["x"] }, target: async () => {} });
    const duplicate = () =>
      rules.addRule({ name: "one", pattern: { source: ["x"] }, target: async () => {} });
    const badPattern = () => rules.addRule({ name: "two", pattern: { source: "x" }, target: async () => {} });
    await rules.close();
    const afterClose = rules.bus.put(event("x"));
    // Assert
    expect(badName).toThrow(InvalidRuleError);
    expect(duplicate).toThrow(InvalidRuleError);
    expect(badPattern).toThrow(/must be an array/);
    await expect(afterClose).rejects.toBeInstanceOf(EventBusClosedError);
  });

  it("routes an S3 upload under images_for_detection/ through the blueprint rule with the whole event", async () => {
    // Arrange
    const rules = createEventRules({ dataDir });
    const s3 = await createLocalS3({ dataDir, bus: rules.bus });
    await s3.createBucket("data");
    const started: BusEvent[] = [];
    rules.addRule({
      name: "image-uploaded",
      pattern: Rules.imageUploaded("data"),
      target: async (e) => void started.push(e),
    });
    // Act
    await s3.objects.put("data", "images_for_detection/new logo.png", Buffer.from("png"), "image/png");
    await s3.objects.put("data", "images_labeled_by_folder/cat/x.png", Buffer.from("png"), "image/png");
    await rules.drain();
    await rules.close();
    // Assert
    expect(started).toHaveLength(1);
    expect(started[0]?.detail).toMatchObject({
      bucket: { name: "data" },
      object: { key: "images_for_detection/new+logo.png", size: 3 },
      reason: "PutObject",
    });
  });
});
