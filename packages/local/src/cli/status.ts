/**
 * `secondlook status`: the stage at a glance: its state machines and their executions by status,
 * the human loops waiting for a reviewer, and the active model version with its F1 score.
 */
import { DescribeProjectVersionsCommand } from "@aws-sdk/client-rekognition";
import { ListHumanLoopsCommand } from "@aws-sdk/client-sagemaker-a2i-runtime";
import { type ExecutionStatus, ListExecutionsCommand } from "@aws-sdk/client-sfn";
import { StateMachines } from "@secondlook/core/blueprint";
import { renderTable } from "./output";
import { getSettings } from "./settings";
import type { Target } from "./target";

const STATUSES: ExecutionStatus[] = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"];
/** Counting stops here so a busy stage answers quickly; the count then reads "10000+". */
const COUNT_LIMIT = 10_000;

export interface Count {
  count: number;
  /** True when there are more than `count`. */
  more: boolean;
}

async function countExecutions(
  target: Target,
  stateMachineArn: string,
  status: ExecutionStatus,
): Promise<Count> {
  let count = 0;
  let nextToken: string | undefined;
  do {
    const page = await target.clients.sfn.send(
      new ListExecutionsCommand({ stateMachineArn, statusFilter: status, maxResults: 1000, nextToken }),
    );
    count += page.executions?.length ?? 0;
    nextToken = page.nextToken;
  } while (nextToken && count < COUNT_LIMIT);
  return { count, more: Boolean(nextToken) };
}

async function countWaitingLoops(target: Target): Promise<Count> {
  let count = 0;
  let seen = 0;
  let nextToken: string | undefined;
  do {
    const page = await target.clients.a2i.send(
      new ListHumanLoopsCommand({
        FlowDefinitionArn: target.flowDefinitionArn,
        MaxResults: 100,
        NextToken: nextToken,
      }),
    );
    const loops = page.HumanLoopSummaries ?? [];
    seen += loops.length;
    count += loops.filter((loop) => loop.HumanLoopStatus === "InProgress").length;
    nextToken = page.NextToken;
  } while (nextToken && seen < COUNT_LIMIT);
  return { count, more: Boolean(nextToken) };
}

/** The version name inside a Custom Labels version ARN (`…:project/<p>/version/<name>/<created>`). */
export function versionNameOf(versionArn: string) {
  return /\/version\/([^/]+)\//.exec(versionArn)?.[1];
}

async function activeModel(target: Target) {
  const [setting] = await getSettings(target, "activeModelVersionArn");
  const arn = typeof setting?.value === "string" ? setting.value : "";
  if (!arn) return null;
  const versionName = versionNameOf(arn);
  if (!versionName) return { arn, status: "unknown (not a model version ARN)", f1: null };
  const described = await target.clients.rekognition.send(
    new DescribeProjectVersionsCommand({ ProjectArn: target.projectArn, VersionNames: [versionName] }),
  );
  const version = described.ProjectVersionDescriptions?.[0];
  return {
    arn,
    status: version?.Status ?? "not found in the project",
    f1: version?.EvaluationResult?.F1Score ?? null,
  };
}

/** Gathers the status of the target stage. */
export async function getStatus(target: Target) {
  const machines = [
    { name: StateMachines.reviewImage.name, arn: target.reviewImageStateMachineArn },
    ...(target.trainModelStateMachineArn
      ? [{ name: StateMachines.trainModel.name, arn: target.trainModelStateMachineArn }]
      : []),
  ];
  const stateMachines = [];
  for (const machine of machines) {
    const executions: Record<string, Count> = {};
    for (const status of STATUSES) executions[status] = await countExecutions(target, machine.arn, status);
    stateMachines.push({ ...machine, executions });
  }
  return {
    stage: target.stage,
    endpoint: target.endpoint ?? null,
    region: target.region,
    bucket: target.bucket,
    stateMachines,
    loopsWaiting: await countWaitingLoops(target),
    activeModel: await activeModel(target),
  };
}

const shown = (count: Count) => `${count.count}${count.more ? "+" : ""}`;

/** The status for people. */
export function formatStatus(status: Awaited<ReturnType<typeof getStatus>>) {
  const model = status.activeModel;
  return [
    `Stage ${status.stage} (${status.endpoint ?? `AWS ${status.region}`}), bucket ${status.bucket}`,
    "",
    renderTable(
      ["State machine", ...STATUSES],
      status.stateMachines.map((machine) => [
        machine.name,
        ...STATUSES.map((s) => shown(machine.executions[s] as Count)),
      ]),
    ),
    "",
    `Human loops waiting for a reviewer: ${shown(status.loopsWaiting)}`,
    model
      ? `Active model: ${model.arn} (${model.status}, F1 ${model.f1 === null ? "n/a" : model.f1.toFixed(3)})`
      : "Active model: none yet (train and promote one; `npm start` does for the demo)",
  ].join("\n");
}
