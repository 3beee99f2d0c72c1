/** How `secondlook run` hands a manifest to review-batch, without a cloud behind it. */
import { StackOutputs } from "@secondlook/core/blueprint";
import { describe, expect, it } from "vitest";
import { UnknownStageError } from "../../src/cli/errors";
import type { RunInput } from "../../src/cli/inputs";
import { batchManifest, formatRunSummary, type RunSummary, runImages } from "../../src/cli/run";
import type { Target } from "../../src/cli/target";

const silent = { phase() {}, update() {}, stop() {} };

/** A stage whose Review stack predates the review-batch output; every AWS call is recorded. */
function oldStage(calls: string[]): Target {
  const client = {
    send: async (command: object) => {
      calls.push(command.constructor.name);
      return {};
    },
  };
  return {
    local: false,
    endpoint: undefined,
    stage: "prod",
    region: "us-east-1",
    bucket: "secondlook-prod-data",
    settingsPath: "/secondlook/prod/",
    flowDefinitionArn: "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/f",
    projectArn: "arn:aws:rekognition:us-east-1:123456789012:project/p/1",
    reviewImageStateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:review-image",
    trainModelStateMachineArn: undefined,
    reviewBatchStateMachineArn: undefined,
    clients: { s3: client, ssm: client, sfn: client, a2i: client, rekognition: client } as never,
    close() {},
  };
}

describe("the manifest review-batch reads", () => {
  it("names each staged image by its s3:// URI, one JSON object per line, keys verbatim", () => {
    // Act
    const text = batchManifest("data", [
      "batch-inputs/run-1/00001-a b.png",
      "batch-inputs/run-1/00002-c.jpg",
    ]);

    // Assert
    expect(text).toBe(
      '{"source-ref":"s3://data/batch-inputs/run-1/00001-a b.png"}\n{"source-ref":"s3://data/batch-inputs/run-1/00002-c.jpg"}\n',
    );
  });
});

describe("running a manifest", () => {
  it("refuses a stage deployed without the review-batch output, before uploading anything", async () => {
    // Arrange
    const calls: string[] = [];
    const input: RunInput = {
      kind: "manifest",
      path: "batch.manifest",
      items: [
        {
          label: "s3://elsewhere/a.png",
          name: "00001-a.png",
          source: { kind: "s3", bucket: "elsewhere", key: "a.png" },
          contentType: "image/png",
        },
      ],
      skipped: [],
    };

    // Act
    const error = await runImages(oldStage(calls), input, {
      wait: false,
      timeoutSeconds: 1,
      pollMs: 1,
      progress: silent,
    }).catch((caught: unknown) => caught);

    // Assert
    expect(error).toBeInstanceOf(UnknownStageError);
    expect((error as Error).message).toContain(
      `prod-secondlook-Review has no output ${StackOutputs.reviewBatchStateMachineArn}`,
    );
    expect(calls).toEqual([]);
  });

  it("says when review-batch had not started by the time following stopped", () => {
    // Arrange
    const summary: RunSummary = {
      runId: "run-1",
      stage: "prod",
      endpoint: null,
      input: { kind: "manifest", path: "batch.manifest", skipped: [] },
      manifestMode: "review-batch",
      batch: {
        stateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:review-batch",
        manifestKey: "manifests/run-1.jsonl",
        executionArn: null,
        status: null,
        error: null,
        mapRunArn: null,
        itemCounts: null,
      },
      prefix: "batch-inputs/run-1/",
      startedAt: "2026-01-01T00:00:00.000Z",
      finishedAt: "2026-01-01T00:10:00.000Z",
      waitedForReviews: false,
      timedOut: true,
      counts: {
        pending: 1,
        running: 0,
        "waiting-for-review": 0,
        "auto-labeled": 0,
        "human-labeled": 0,
        skipped: 0,
        "no-answer": 0,
        failed: 0,
        total: 1,
      },
      images: [],
    };

    // Act
    const text = formatRunSummary(summary);

    // Assert
    expect(text).toContain("Manifest manifests/run-1.jsonl ran through review-batch");
    expect(text).toContain("review-batch had not started by the time following stopped.");
    expect(text).toContain("Stopped following at the timeout");
  });
});
