/**
 * What the console shows, read from the running local cloud: executions straight from the engine,
 * everything else through the same AWS APIs a console on AWS would call (A2I runtime, Rekognition
 * Custom Labels, SSM), and objects from the local S3.
 */
import { DescribeProjectVersionsCommand, type ProjectVersionDescription } from "@aws-sdk/client-rekognition";
import { DescribeHumanLoopCommand, ListHumanLoopsCommand } from "@aws-sdk/client-sagemaker-a2i-runtime";
import { DeleteParameterCommand, GetParametersByPathCommand, PutParameterCommand } from "@aws-sdk/client-ssm";
import { Answer, type HumanLoopOutput } from "@secondlook/core/answers";
import type { StateMachines } from "@secondlook/core/blueprint";
import { type Image, Image as ImageOf, S3Uri } from "@secondlook/core/events";
import { HumanLoop } from "@secondlook/core/human-loop";
import { Outcome } from "@secondlook/core/outcome";
import { Settings } from "@secondlook/core/settings";
import type { LocalObjects } from "../contracts";
import { cloudClients } from "../demo/bootstrap";
import type {
  ExecutionDescription,
  ExecutionStatus,
  HistoryEvent,
  MapRunDescription,
  StatesEngine,
} from "../states/engine";
import { type StoredOutcome, StoredOutcomeSchema } from "./health";

export type MachineKey = keyof typeof StateMachines;

export interface ConsoleSources {
  states: StatesEngine;
  objects: LocalObjects;
  /** The AWS edge URL (known only once the edge listens). */
  endpoint: () => string;
  bucket: string;
  settingsPath: string;
  flowDefinitionArn: string;
  projectArn: string;
  stateMachineArns: Record<MachineKey, string>;
}

export const EXECUTION_STATUSES: readonly ExecutionStatus[] = [
  "RUNNING",
  "SUCCEEDED",
  "FAILED",
  "TIMED_OUT",
  "ABORTED",
];

const HISTORY_PAGE = 1000;

/** One execution with all it links to. */
export interface ExecutionView {
  description: ExecutionDescription;
  definition: string;
  events: HistoryEvent[];
  image: Image | undefined;
  outcome: StoredOutcome | undefined;
  loopName: string | undefined;
  /** A batch's Distributed Map runs, newest first, with their item counts. */
  mapRuns: MapRunDescription[];
}

/** The human loop's answers, read from its output.json. */
export interface LoopView {
  name: string;
  status: string;
  createdAt: Date | undefined;
  failureReason: string | undefined;
  outputUri: string | undefined;
  output: HumanLoopOutput | undefined;
}

export interface ModelVersionView {
  arn: string;
  name: string;
  status: string;
  createdAt: Date | undefined;
  f1: number | undefined;
  precision: number | undefined;
  recall: number | undefined;
  labels: string[];
  /** Row-normalized, as in the Custom Labels summary file: confusion.get(truth)?.get(predicted). */
  confusion: Map<string, Map<string, number>>;
  active: boolean;
}

async function readJson(objects: LocalObjects, bucket: string, key: string): Promise<unknown | undefined> {
  if (!(await objects.head(bucket, key))) return undefined;
  try {
    return JSON.parse((await objects.get(bucket, key)).toString("utf8"));
  } catch {
    return undefined;
  }
}

/** The console's reads and the one write (settings). */
export function createConsoleData(sources: ConsoleSources) {
  const { states, objects, bucket } = sources;
  const clients = () => cloudClients(sources.endpoint());

  async function history(executionArn: string): Promise<HistoryEvent[]> {
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    do {
      const page = await states.getExecutionHistory({ executionArn, maxResults: HISTORY_PAGE, nextToken });
      events.push(...page.events);
      nextToken = page.nextToken;
    } while (nextToken);
    return events;
  }

  async function outcome(executionName: string): Promise<StoredOutcome | undefined> {
    const found = StoredOutcomeSchema.safeParse(await readJson(objects, bucket, Outcome.key(executionName)));
    return found.success ? found.data : undefined;
  }

  async function mapRuns(executionArn: string): Promise<MapRunDescription[]> {
    const runs: MapRunDescription[] = [];
    let nextToken: string | undefined;
    do {
      const page = await states.listMapRuns({ executionArn, maxResults: HISTORY_PAGE, nextToken });
      for (const run of page.mapRuns) runs.push(await states.describeMapRun(run.mapRunArn));
      nextToken = page.nextToken;
    } while (nextToken);
    return runs;
  }

  async function execution(executionArn: string): Promise<ExecutionView> {
    const description = await states.describeExecution(executionArn);
    const [machine, events, record, runs] = await Promise.all([
      states.describeStateMachine(description.stateMachineArn),
      history(executionArn),
      outcome(description.name),
      mapRuns(executionArn),
    ]);
    let image: Image | undefined = record?.image ?? undefined;
    if (!image) {
      try {
        image = ImageOf.fromEvent(JSON.parse(description.input));
      } catch {
        image = undefined;
      }
    }
    const askedHuman = events.some(
      (e) => (e.stateEnteredEventDetails as { name?: string } | undefined)?.name === "StartHumanReview",
    );
    // A running review has no outcome yet; its first loop's name is derived from the execution.
    const loopName = record?.loopName ?? (askedHuman ? HumanLoop.name(description.name, 0) : undefined);
    return {
      description,
      definition: machine.definition,
      events,
      image,
      outcome: record,
      loopName,
      mapRuns: runs,
    };
  }

  async function loop(name: string): Promise<LoopView> {
    const described = await clients().a2i.send(new DescribeHumanLoopCommand({ HumanLoopName: name }));
    const outputUri = described.HumanLoopOutput?.OutputS3Uri;
    let output: HumanLoopOutput | undefined;
    if (outputUri) {
      const ref = S3Uri.parse(outputUri);
      const raw = await readJson(objects, ref.bucket, ref.key);
      try {
        output = raw === undefined ? undefined : Answer.parseOutput(raw);
      } catch {
        output = undefined;
      }
    }
    return {
      name,
      status: described.HumanLoopStatus ?? "Unknown",
      createdAt: described.CreationTime,
      failureReason: described.FailureReason,
      outputUri,
      output,
    };
  }

  async function loops(nextToken: string | undefined, maxResults: number) {
    const page = await clients().a2i.send(
      new ListHumanLoopsCommand({
        FlowDefinitionArn: sources.flowDefinitionArn,
        SortOrder: "Descending",
        MaxResults: maxResults,
        NextToken: nextToken,
      }),
    );
    const views = await Promise.all(
      (page.HumanLoopSummaries ?? []).map((summary) => loop(summary.HumanLoopName ?? "")),
    );
    return { loops: views, nextToken: page.NextToken };
  }

  async function settingsParameters(): Promise<Record<string, string>> {
    const values: Record<string, string> = {};
    let nextToken: string | undefined;
    do {
      const page = await clients().ssm.send(
        new GetParametersByPathCommand({ Path: sources.settingsPath, Recursive: true, NextToken: nextToken }),
      );
      for (const p of page.Parameters ?? []) {
        if (p.Name && p.Value !== undefined) values[p.Name.slice(sources.settingsPath.length)] = p.Value;
      }
      nextToken = page.NextToken;
    } while (nextToken);
    return values;
  }

  /**
   * Validates the submitted values with the handlers' own schema, then writes only what changed.
   * Throws InvalidSettingsError (nothing written) when any value is invalid.
   */
  async function saveSettings(submitted: Record<string, string>): Promise<string[]> {
    const parsed = Settings.fromParameters(submitted);
    const wanted = Settings.toParameters(parsed);
    const current = await settingsParameters();
    const changed: string[] = [];
    for (const [name, value] of Object.entries(wanted)) {
      if (current[name] === value || (current[name] === undefined && value === "")) continue;
      const Name = `${sources.settingsPath}${name}`;
      // SSM refuses empty values: an emptied setting is removed, which the schema reads as its default.
      if (value === "") await clients().ssm.send(new DeleteParameterCommand({ Name }));
      else
        await clients().ssm.send(
          new PutParameterCommand({ Name, Value: value, Type: "String", Overwrite: true }),
        );
      changed.push(name);
    }
    return changed;
  }

  async function models(): Promise<ModelVersionView[]> {
    const active = Settings.fromParameters(await settingsParameters()).activeModelVersionArn;
    const versions: ProjectVersionDescription[] = [];
    let nextToken: string | undefined;
    do {
      const page = await clients().rekognition.send(
        new DescribeProjectVersionsCommand({ ProjectArn: sources.projectArn, NextToken: nextToken }),
      );
      versions.push(...(page.ProjectVersionDescriptions ?? []));
      nextToken = page.NextToken;
    } while (nextToken);
    return Promise.all(versions.map((v) => modelView(v, active)));
  }

  async function modelView(v: ProjectVersionDescription, active: string): Promise<ModelVersionView> {
    const arn = v.ProjectVersionArn ?? "";
    const summaryRef = v.EvaluationResult?.Summary?.S3Object;
    const summary = (
      summaryRef?.Bucket && summaryRef.Name
        ? await readJson(objects, summaryRef.Bucket, summaryRef.Name)
        : undefined
    ) as SummaryFile | undefined;
    const aggregated = summary?.AggregatedEvaluationResults;
    const confusion = new Map<string, Map<string, number>>();
    for (const cell of aggregated?.ConfusionMatrix ?? []) {
      const row = confusion.get(cell.GroundTruthLabel) ?? new Map<string, number>();
      row.set(cell.PredictedLabel, cell.Value);
      confusion.set(cell.GroundTruthLabel, row);
    }
    return {
      arn,
      name: arn.split("/version/")[1]?.split("/")[0] ?? arn,
      status: v.Status ?? "Unknown",
      createdAt: v.CreationTimestamp,
      f1: v.EvaluationResult?.F1Score ?? aggregated?.F1Score,
      precision: aggregated?.Precision,
      recall: aggregated?.Recall,
      labels: summary?.EvaluationDetails?.Labels ?? [],
      confusion,
      active: arn !== "" && arn === active,
    };
  }

  return {
    listExecutions: (input: {
      machine: MachineKey;
      /** A Distributed Map run: lists its child executions instead of the machine's. */
      mapRunArn?: string;
      status: ExecutionStatus | undefined;
      pageSize: number;
      nextToken?: string;
    }) =>
      states.listExecutions({
        ...(input.mapRunArn
          ? { mapRunArn: input.mapRunArn }
          : { stateMachineArn: sources.stateMachineArns[input.machine] }),
        statusFilter: input.status,
        maxResults: input.pageSize,
        nextToken: input.nextToken,
      }),
    execution,
    outcome,
    loop,
    loops,
    models,
    settingsParameters,
    saveSettings,
  };
}

export type ConsoleData = ReturnType<typeof createConsoleData>;

interface SummaryFile {
  AggregatedEvaluationResults?: {
    ConfusionMatrix?: { GroundTruthLabel: string; PredictedLabel: string; Value: number }[];
    F1Score?: number;
    Precision?: number;
    Recall?: number;
  };
  EvaluationDetails?: { Labels?: string[] };
}
