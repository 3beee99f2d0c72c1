/** The loop's health, aggregated from outcome records streamed from S3. */
import { describe, expect, it } from "vitest";
import { bucketName, chart, computeHealth, type LoopInput } from "../../src/console/health";
import { createMemoryObjects } from "../rekognition/memory-objects";

const BUCKET = "data";
const MODEL = "arn:aws:rekognition:us-east-1:000000000000:project/p/version/v1/1";

function record(name: string, over: Record<string, unknown>) {
  return {
    executionName: name,
    outcome: "auto-labeled",
    image: {
      bucket: BUCKET,
      key: `images_for_detection/${name}.png`,
      uri: `s3://${BUCKET}/images_for_detection/${name}.png`,
    },
    label: "Acme",
    confidence: 95,
    modelVersionArn: MODEL,
    loopName: null,
    answers: null,
    copiedKey: null,
    failure: null,
    audit: null,
    startTime: "2026-11-21T08:10:00.000Z",
    recordedAt: "2026-11-21T08:10:05.000Z",
    durationMs: 5000,
    ...over,
  };
}

async function seeded(records: Record<string, unknown>[], extra: Record<string, string> = {}) {
  const objects = createMemoryObjects();
  for (const r of records) {
    await objects.put(BUCKET, `outcomes/${String(r.executionName)}.json`, Buffer.from(JSON.stringify(r)));
  }
  for (const [key, text] of Object.entries(extra)) await objects.put(BUCKET, key, Buffer.from(text));
  return objects;
}

describe("computeHealth", () => {
  it("counts images over time, review rate and audit accuracy, with empty buckets as zeros", async () => {
    // Arrange
    const loops: Record<string, LoopInput> = {
      "loop-b": { reason: "sampling", detectedLabel: "Acme" },
      "loop-c": { reason: "low-confidence", detectedLabel: null },
    };
    const objects = await seeded([
      record("e1", {}),
      record("e2", {
        outcome: "human-labeled",
        loopName: "loop-a",
        label: "Acme",
        audit: { verdict: "agreement", modelLabel: "Acme", humanLabel: "Acme" },
      }),
      // Written before records carried their audit: the loop's input tells.
      record("e3", { outcome: "human-labeled", loopName: "loop-b", label: "Globex", audit: undefined }),
      record("e4", {
        outcome: "skipped",
        loopName: "loop-c",
        label: null,
        recordedAt: "2026-11-21T10:30:00.000Z",
      }),
    ]);

    // Act
    const health = await computeHealth(objects, BUCKET, async (name) => loops[name]);

    // Assert
    expect(health.total).toMatchObject({ images: 4, humanReviewed: 3, audits: 2, auditsCorrect: 1 });
    expect(health.bucketMs).toBe(5 * 60_000);
    expect(health.overTime).toHaveLength(29);
    expect(health.overTime[0]?.images).toBe(3);
    expect(health.overTime.at(-1)?.images).toBe(1);
    expect(health.overTime.slice(1, -1).every((b) => b.images === 0)).toBe(true);
    expect(health.byModel).toHaveLength(1);
    expect(health.byModel[0]).toMatchObject({ key: MODEL, images: 4 });
  });

  it("charts weeks of records per day and a short run per minute", async () => {
    // Arrange
    const weeks = await seeded([
      record("w1", { recordedAt: "2026-10-01T08:00:00.000Z" }),
      record("w2", { recordedAt: "2026-11-20T08:00:00.000Z" }),
    ]);
    const minutes = await seeded([
      record("m1", { recordedAt: "2026-11-21T08:00:10.000Z" }),
      record("m2", { recordedAt: "2026-11-21T08:03:50.000Z" }),
    ]);

    // Act
    const long = await computeHealth(weeks, BUCKET, async () => undefined);
    const short = await computeHealth(minutes, BUCKET, async () => undefined);

    // Assert
    expect(bucketName(long.bucketMs)).toBe("per day");
    expect(bucketName(short.bucketMs)).toBe("per minute");
    expect(short.overTime.map((b) => b.images)).toEqual([1, 0, 0, 1]);
  });

  it("runs the time axis up to now, with a quiet stretch before a short burst of images", async () => {
    // Arrange
    const objects = await seeded([record("b1", { recordedAt: "2026-11-21T08:00:10.000Z" })]);

    // Act
    const health = await computeHealth(
      objects,
      BUCKET,
      async () => undefined,
      new Date("2026-11-21T08:05:00Z"),
    );

    // Assert
    expect(bucketName(health.bucketMs)).toBe("per minute");
    expect(health.overTime).toHaveLength(30);
    expect(health.overTime.at(-1)?.key).toBe(String(Date.parse("2026-11-21T08:05:00Z")));
    expect(health.overTime.map((b) => b.images).reduce((a, b) => a + b, 0)).toBe(1);
    expect(health.overTime[24]?.images).toBe(1);
  });

  it("skips records it cannot read and says how many", async () => {
    // Arrange
    const objects = await seeded([record("e1", {})], { "outcomes/broken.json": "{ nope" });

    // Act
    const health = await computeHealth(objects, BUCKET, async () => undefined);

    // Assert
    expect(health.total.images).toBe(1);
    expect(health.unreadable).toBe(1);
  });
});

describe("chart", () => {
  it("draws a bar per hour and a line with a gap where an hour has no audits", () => {
    // Arrange
    const buckets = [
      {
        key: String(Date.UTC(2026, 10, 21, 8)),
        images: 4,
        humanReviewed: 1,
        audits: 2,
        auditsCorrect: 1,
        failed: 0,
      },
      {
        key: String(Date.UTC(2026, 10, 21, 9)),
        images: 0,
        humanReviewed: 0,
        audits: 0,
        auditsCorrect: 0,
        failed: 0,
      },
      {
        key: String(Date.UTC(2026, 10, 21, 10)),
        images: 2,
        humanReviewed: 2,
        audits: 1,
        auditsCorrect: 1,
        failed: 0,
      },
    ];

    // Act
    const bars = chart("Images", buckets, (b) => b.images, { kind: "bar", className: "images" }).value;
    const line = chart(
      "Accuracy",
      buckets,
      (b) => (b.audits ? (100 * b.auditsCorrect) / b.audits : undefined),
      {
        kind: "line",
        max: 100,
        className: "accuracy",
      },
    ).value;

    // Assert
    expect(bars.match(/<rect class="bar"/g)?.length).toBe(3);
    expect(bars).toContain("08:00");
    expect(line.match(/<circle class="dot"/g)?.length).toBe(2);
    expect(line).not.toContain("<polyline");
  });
});
