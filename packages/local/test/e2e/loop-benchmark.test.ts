/**
 * The loop benchmark in a small configuration, as a test of the loop's behaviour: four rounds
 * through the local cloud with a reviewer answering in the portal and train-model between rounds.
 * `npm run bench:loop` runs the full configuration and records the figures in docs/benchmarks.md.
 */
import { describe, expect, it } from "vitest";
import { type RoundResult, runLoopBenchmark } from "../../src/demo/loop";

describe("the active-learning loop benchmark (small configuration)", () => {
  it("keeps auto-labels accurate, loses no image, learns a late class and reviews at most 15 % after the third retrain", async () => {
    // Arrange
    const options = { rounds: 4, imagesPerRound: 30, humanSamplingPercent: 5, seed: 7 };

    // Act
    const rows: RoundResult[] = await runLoopBenchmark(options);

    // Assert
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      expect(row.images).toBe(30);
      expect(row.autoLabelAccuracy ?? 1).toBeGreaterThanOrEqual(0.95);
      expect(row.reviewRate).toBeLessThanOrEqual(0.5);
    }
    expect(rows.slice(0, 3).map((row) => row.training)).toEqual(["promoted", "promoted", "promoted"]);
    const [, firstSeen, learned, afterThirdRetrain] = rows;
    // The first model has never seen the late class, so every one of its images goes to a person;
    // once reviewers' answers were trained on, fewer of them need one.
    expect(firstSeen?.lateClassReviewRate).toBe(1);
    expect(learned?.lateClassReviewRate ?? 1).toBeLessThan(1);
    expect(learned?.modelVersion).toBe("after-round-2");
    // Issue #6's goal: once the hard renderings reviewers labeled were trained on, the model is
    // confident about most of them (the stream and the sampling are deterministic for a seed).
    expect(afterThirdRetrain?.modelVersion).toBe("after-round-3");
    expect(afterThirdRetrain?.reviewRate).toBeLessThanOrEqual(0.15);
  }, 300_000);
});
