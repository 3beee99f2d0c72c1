/**
 * Follows the review-batch execution a manifest upload started. The S3 rule starts it with a
 * generated name, so it is matched once by the manifest key in its input event; after that its
 * status comes from DescribeExecution and its progress from its map run (ListMapRuns, then
 * DescribeMapRun's item counts). The images' outcomes are the review-image tracker's business.
 */
import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  ListExecutionsCommand,
  ListMapRunsCommand,
} from "@aws-sdk/client-sfn";
import { Image } from "@secondlook/core/events";
import type { Target } from "./target";

/** DescribeMapRun's item counts, as the summary reports them. */
export interface BatchItemCounts {
  pending: number;
  running: number;
  succeeded: number;
  failed: number;
  timedOut: number;
  aborted: number;
  total: number;
}

/** Where the batch is: before its execution starts, while it runs, and how it ended. */
export interface BatchStatus {
  stateMachineArn: string;
  /** The manifest the CLI uploaded, whose Object Created event starts the batch. */
  manifestKey: string;
  executionArn: string | null;
  /** RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED; null until the execution is found. */
  status: string | null;
  /** Why a batch that did not succeed ended. */
  error: string | null;
  mapRunArn: string | null;
  itemCounts: BatchItemCounts | null;
}

/** Executions may start a little before the CLI's clock says the run began (skew on AWS). */
const CLOCK_SKEW_MS = 5 * 60_000;

/** Follows the review-batch execution of `manifestKey` (already uploaded) from `since`. */
export function createBatchFollower(
  target: Target,
  stateMachineArn: string,
  manifestKey: string,
  since: Date,
) {
  const { sfn } = target.clients;
  const horizon = since.getTime() - CLOCK_SKEW_MS;
  /** Executions already described and found not to be ours. */
  const others = new Set<string>();
  const status: BatchStatus = {
    stateMachineArn,
    manifestKey,
    executionArn: null,
    status: null,
    error: null,
    mapRunArn: null,
    itemCounts: null,
  };

  async function isOurs(executionArn: string) {
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    try {
      // The same decoding review-image applies to its events, so a key with spaces still matches.
      const object = Image.fromEvent(JSON.parse(described.input ?? "null"));
      return object.bucket === target.bucket && object.key === manifestKey;
    } catch {
      return false; // started by hand or by a console, not by a manifest upload
    }
  }

  async function findExecution() {
    let nextToken: string | undefined;
    do {
      const page = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 100, nextToken }));
      for (const execution of page.executions ?? []) {
        const arn = execution.executionArn;
        if (!arn || others.has(arn)) continue;
        // Newest first: once executions predate the run, none of the rest can be ours.
        if (execution.startDate && execution.startDate.getTime() < horizon) return;
        if (await isOurs(arn)) {
          status.executionArn = arn;
          return;
        }
        others.add(arn);
      }
      nextToken = page.nextToken;
    } while (nextToken);
  }

  return {
    status: (): BatchStatus => ({ ...status, itemCounts: status.itemCounts && { ...status.itemCounts } }),

    /** Whether the batch execution has ended (succeeded or not). */
    finished: () =>
      status.status !== null && status.status !== "RUNNING" && status.status !== "PENDING_REDRIVE",

    /** Brings the batch's status and item counts up to date. */
    async poll() {
      if (!status.executionArn) await findExecution();
      const executionArn = status.executionArn;
      if (!executionArn) return;
      const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      status.status = described.status ?? null;
      if (status.status !== "RUNNING" && status.status !== "SUCCEEDED") {
        status.error = [`review-batch ${status.status}`, described.error, described.cause]
          .filter(Boolean)
          .join(": ");
      }
      if (!status.mapRunArn) {
        const runs = await sfn.send(new ListMapRunsCommand({ executionArn }));
        status.mapRunArn = runs.mapRuns?.[0]?.mapRunArn ?? null;
      }
      if (status.mapRunArn) {
        const run = await sfn.send(new DescribeMapRunCommand({ mapRunArn: status.mapRunArn }));
        const counts = run.itemCounts;
        if (counts) {
          status.itemCounts = {
            pending: counts.pending ?? 0,
            running: counts.running ?? 0,
            succeeded: counts.succeeded ?? 0,
            failed: counts.failed ?? 0,
            timedOut: counts.timedOut ?? 0,
            aborted: counts.aborted ?? 0,
            total: counts.total ?? 0,
          };
        }
      }
    },
  };
}

export type BatchFollower = ReturnType<typeof createBatchFollower>;
