/**
 * Follows the review-image executions a run started. S3 rules start executions with generated
 * names, so each execution is matched to its image once, by the key in its input event; after that
 * its status comes from ListExecutions, waiting reviews from ListHumanLoops, and the result from
 * the outcome record review-image writes.
 */
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { ListHumanLoopsCommand } from "@aws-sdk/client-sagemaker-a2i-runtime";
import { DescribeExecutionCommand, ListExecutionsCommand } from "@aws-sdk/client-sfn";
import { Image } from "@secondlook/core/events";
import { HumanLoop } from "@secondlook/core/human-loop";
import { Outcome, type OutcomeKind, type OutcomeRecord } from "@secondlook/core/outcome";
import type { Target } from "./target";

/** Where one image is: before its execution, inside it, or done with an outcome. */
export type ImageState = "pending" | "running" | "waiting-for-review" | OutcomeKind;

export const TERMINAL_STATES: readonly ImageState[] = [
  "auto-labeled",
  "human-labeled",
  "skipped",
  "no-answer",
  "failed",
];

export interface TrackedImage {
  /** How the user named the image. */
  label: string;
  key: string;
  state: ImageState;
  executionArn?: string;
  executionName?: string;
  executionStatus?: string;
  outcome?: OutcomeRecord;
  /** The human loop it waits on (or was answered in). */
  loopName?: string;
  /** Why a failed image failed. */
  error?: string;
}

/** Counts by state, for the progress bar and the summary. */
export type StateCounts = Record<ImageState, number>;

/** Executions may start a little before the CLI's clock says the run began (skew on AWS). */
const CLOCK_SKEW_MS = 5 * 60_000;
/** StartHumanReview retries reuse the execution with a new loop name per attempt. */
const MAX_REVIEW_ATTEMPTS = 5;

/** Follows `images` (keys already uploaded) from `since`; call `poll()` until `settled()`. */
export function createTracker(target: Target, images: { label: string; key: string }[], since: Date) {
  const { sfn, a2i, s3 } = target.clients;
  const byKey = new Map<string, TrackedImage>(
    images.map((image) => [image.key, { label: image.label, key: image.key, state: "pending" }]),
  );
  const byArn = new Map<string, TrackedImage>();
  /** Executions already described: theirs, or some other image's (null). */
  const matched = new Map<string, TrackedImage | null>();
  const horizon = since.getTime() - CLOCK_SKEW_MS;

  async function refreshExecutions() {
    let nextToken: string | undefined;
    do {
      const page = await sfn.send(
        new ListExecutionsCommand({
          stateMachineArn: target.reviewImageStateMachineArn,
          maxResults: 1000,
          nextToken,
        }),
      );
      let older = false;
      for (const execution of page.executions ?? []) {
        const arn = execution.executionArn;
        if (!arn) continue;
        // Newest first: once executions predate the run, none of the rest can be ours.
        if (execution.startDate && execution.startDate.getTime() < horizon) {
          older = true;
          break;
        }
        if (!matched.has(arn)) matched.set(arn, await matchExecution(arn));
        const image = matched.get(arn);
        if (image) image.executionStatus = execution.status;
      }
      nextToken = older ? undefined : page.nextToken;
    } while (nextToken);
  }

  async function matchExecution(arn: string): Promise<TrackedImage | null> {
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    let key: string;
    try {
      const image = Image.fromEvent(JSON.parse(described.input ?? "null"));
      if (image.bucket !== target.bucket) return null;
      key = image.key;
    } catch {
      return null; // not started by an upload (a test run, a console start)
    }
    const image = byKey.get(key);
    if (!image || image.executionArn) return null;
    image.executionArn = arn;
    image.executionName = described.name;
    byArn.set(arn, image);
    return image;
  }

  async function inProgressLoops() {
    const names = new Set<string>();
    let nextToken: string | undefined;
    do {
      const page = await a2i.send(
        new ListHumanLoopsCommand({
          FlowDefinitionArn: target.flowDefinitionArn,
          CreationTimeAfter: new Date(horizon),
          SortOrder: "Descending",
          MaxResults: 100,
          NextToken: nextToken,
        }),
      );
      for (const loop of page.HumanLoopSummaries ?? []) {
        if (loop.HumanLoopStatus === "InProgress" && loop.HumanLoopName) names.add(loop.HumanLoopName);
      }
      nextToken = page.NextToken;
    } while (nextToken);
    return names;
  }

  /** Reads the outcome record; false when the execution left none. */
  async function readOutcome(image: TrackedImage): Promise<boolean> {
    let text: string;
    try {
      const object = await s3.send(
        new GetObjectCommand({ Bucket: target.bucket, Key: Outcome.key(image.executionName ?? "") }),
      );
      text = (await object.Body?.transformToString()) ?? "";
    } catch (error) {
      if ((error as Error).name === "NoSuchKey") return false;
      throw error;
    }
    let record: OutcomeRecord;
    try {
      record = Outcome.schema.parse(JSON.parse(text));
    } catch {
      image.state = "failed";
      image.error = `its outcome record ${Outcome.key(image.executionName ?? "")} is not valid`;
      return true;
    }
    image.outcome = record;
    image.state = record.outcome;
    if (record.failure)
      image.error = `${record.failure.error}${record.failure.cause ? `: ${record.failure.cause}` : ""}`;
    return true;
  }

  async function finish(image: TrackedImage) {
    if (await readOutcome(image)) return;
    image.state = "failed";
    if (image.executionStatus === "SUCCEEDED") {
      image.error = "the execution succeeded without recording an outcome";
      return;
    }
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: image.executionArn }));
    image.error = [`execution ${described.status}`, described.error, described.cause]
      .filter(Boolean)
      .join(": ");
  }

  return {
    images: () => [...byKey.values()],

    /** Brings every image's state up to date. */
    async poll() {
      const open = [...byKey.values()].filter((image) => !TERMINAL_STATES.includes(image.state));
      if (open.length === 0) return;
      await refreshExecutions();
      const running: TrackedImage[] = [];
      for (const image of open) {
        if (!image.executionArn) continue;
        if (image.executionStatus === "RUNNING" || image.executionStatus === "PENDING_REDRIVE") {
          running.push(image);
        } else if (image.executionStatus) await finish(image);
      }
      if (running.length === 0) return;
      const waiting = await inProgressLoops();
      for (const image of running) {
        const name = image.executionName ?? "";
        const loop = Array.from({ length: MAX_REVIEW_ATTEMPTS }, (_, attempt) =>
          HumanLoop.name(name, attempt),
        ).find((candidate) => waiting.has(candidate));
        if (loop) image.loopName = loop;
        image.state = loop ? "waiting-for-review" : "running";
      }
    },

    counts(): StateCounts {
      const counts: StateCounts = {
        pending: 0,
        running: 0,
        "waiting-for-review": 0,
        "auto-labeled": 0,
        "human-labeled": 0,
        skipped: 0,
        "no-answer": 0,
        failed: 0,
      };
      for (const image of byKey.values()) counts[image.state]++;
      return counts;
    },

    /** Marks every image not finished yet as failed: what started them ended without them. */
    abandon(reason: string) {
      for (const image of byKey.values()) {
        if (TERMINAL_STATES.includes(image.state)) continue;
        image.state = "failed";
        image.error = reason;
      }
    },

    /** Done following: every image finished, or (unless waiting for reviews) waits for a reviewer. */
    settled(waitForReviews: boolean) {
      return [...byKey.values()].every(
        (image) =>
          TERMINAL_STATES.includes(image.state) || (!waitForReviews && image.state === "waiting-for-review"),
      );
    },
  };
}

export type Tracker = ReturnType<typeof createTracker>;
