/**
 * `secondlook loops`: the stage's human loops, newest first, with their status, the image each
 * asks about, and the reviewers' answers of the completed ones (read from A2I's output.json).
 */
import { GetObjectCommand } from "@aws-sdk/client-s3";
import {
  DescribeHumanLoopCommand,
  type HumanLoopStatus,
  ListHumanLoopsCommand,
} from "@aws-sdk/client-sagemaker-a2i-runtime";
import { Answer } from "@secondlook/core/answers";
import { S3Uri } from "@secondlook/core/events";
import { HumanLoop } from "@secondlook/core/human-loop";
import { oneDecimal, renderTable } from "./output";
import type { Target } from "./target";

export interface LoopRow {
  name: string;
  status: string;
  createdAt: string | null;
  image: string | null;
  answers: { workerId: string; label: string; timeSpentInSeconds: number | null }[];
  failureReason: string | null;
}

async function readText(target: Target, bucket: string, key: string) {
  try {
    const object = await target.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await object.Body?.transformToString();
  } catch (error) {
    if ((error as Error).name === "NoSuchKey") return undefined;
    throw error;
  }
}

/** The image a loop asks about, from the state start-human-loop keeps (A2I does not return input). */
async function imageOf(target: Target, loopName: string) {
  const key = HumanLoop.stateKey(loopName);
  const text = await readText(target, target.bucket, key);
  if (text === undefined) return null;
  try {
    return HumanLoop.parseState(text, key).image.uri;
  } catch {
    return null;
  }
}

async function answersOf(target: Target, outputUri: string | undefined) {
  if (!outputUri) return [];
  const { bucket, key } = S3Uri.parse(outputUri);
  const text = await readText(target, bucket, key);
  if (text === undefined) return [];
  return Answer.parseOutput(text).answers.map((answer) => ({
    workerId: answer.workerId,
    label: answer.label,
    timeSpentInSeconds: answer.timeSpentInSeconds ?? null,
  }));
}

/** Lists up to `limit` loops (optionally of one status) with images and answers. */
export async function listLoops(target: Target, options: { status?: HumanLoopStatus; limit: number }) {
  const rows: LoopRow[] = [];
  let nextToken: string | undefined;
  do {
    const page = await target.clients.a2i.send(
      new ListHumanLoopsCommand({
        FlowDefinitionArn: target.flowDefinitionArn,
        SortOrder: "Descending",
        MaxResults: 100,
        NextToken: nextToken,
      }),
    );
    for (const summary of page.HumanLoopSummaries ?? []) {
      if (rows.length >= options.limit) break;
      if (!summary.HumanLoopName) continue;
      if (options.status && summary.HumanLoopStatus !== options.status) continue;
      const described =
        summary.HumanLoopStatus === "Completed"
          ? await target.clients.a2i.send(
              new DescribeHumanLoopCommand({ HumanLoopName: summary.HumanLoopName }),
            )
          : undefined;
      rows.push({
        name: summary.HumanLoopName,
        status: summary.HumanLoopStatus ?? "unknown",
        createdAt: summary.CreationTime?.toISOString() ?? null,
        image: await imageOf(target, summary.HumanLoopName),
        answers: await answersOf(target, described?.HumanLoopOutput?.OutputS3Uri),
        failureReason: summary.FailureReason ?? null,
      });
    }
    nextToken = rows.length >= options.limit ? undefined : page.NextToken;
  } while (nextToken);
  return rows;
}

/** The loops for people. */
export function formatLoops(rows: LoopRow[]) {
  if (rows.length === 0) return "No human loops.";
  return renderTable(
    ["Human loop", "Status", "Created", "Image", "Answers"],
    rows.map((row) => [
      row.name,
      row.status,
      row.createdAt,
      row.image,
      row.answers.length > 0
        ? row.answers
            .map(
              (a) =>
                `${a.label} (${a.workerId}${a.timeSpentInSeconds === null ? "" : `, ${oneDecimal(a.timeSpentInSeconds)} s`})`,
            )
            .join("; ")
        : row.failureReason,
    ]),
  );
}
