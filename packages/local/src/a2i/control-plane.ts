/**
 * The SageMaker side of A2I: human task UIs (worker templates) and flow definitions, plus the
 * RenderUiTemplate preview. Human loops look their flow definition up here when they start.
 */
import { createHash } from "node:crypto";
import type { Clock } from "../contracts";
import { ServiceError } from "../edge/protocol";
import {
  type FlowDefinitionRecord,
  type FlowDefinitionStatus,
  type HumanTaskUiRecord,
  nameFromArn,
  parseS3OutputPath,
  sagemakerArn,
} from "./model";
import { page } from "./paging";
import type { CreateFlowDefinitionRequest } from "./schemas";
import type { A2IStore } from "./store";
import { checkTemplateSyntax, renderTaskTemplate, TemplateRenderError } from "./template";

/** Until A2I documents one, a loop with no TaskAvailabilityLifetimeInSeconds stays available 10 days. */
export const DEFAULT_TASK_AVAILABILITY_SECONDS = 864_000;
/** SageMaker's documented default for TaskTimeLimitInSeconds. */
export const DEFAULT_TASK_TIME_LIMIT_SECONDS = 3_600;

export interface ControlPlaneOptions {
  store: A2IStore;
  clock: Clock;
  /** How long a new flow definition stays Initializing. */
  activationDelayMs: number;
  grantReadAccess: (s3Uri: string) => string;
  /** Called before a flow definition is deleted: A2I stops its loops that no worker has started. */
  onFlowDefinitionDeleted: (flowDefinitionArn: string) => Promise<void>;
}

export interface ListOptions {
  CreationTimeAfter?: number;
  CreationTimeBefore?: number;
  SortOrder?: "Ascending" | "Descending";
  NextToken?: string;
  MaxResults?: number;
}

const notFound = (what: string) => new ServiceError("ResourceNotFound", `${what} does not exist.`);
const epochMs = (seconds: number | undefined) => (seconds === undefined ? undefined : seconds * 1000);

export class ControlPlane {
  private readonly uis = new Map<string, HumanTaskUiRecord>();
  private readonly flows = new Map<string, FlowDefinitionRecord>();

  constructor(private readonly options: ControlPlaneOptions) {}

  /** Reads the UIs and flow definitions a previous run left on disk. */
  async load(): Promise<void> {
    for (const ui of await this.options.store.taskUis.loadAll()) this.uis.set(ui.name, ui);
    for (const flow of await this.options.store.flowDefinitions.loadAll()) this.flows.set(flow.name, flow);
  }

  async createHumanTaskUi(input: {
    HumanTaskUiName: string;
    UiTemplate: { Content: string };
    Tags?: { Key: string; Value: string }[];
  }): Promise<string> {
    if (this.uis.has(input.HumanTaskUiName)) {
      throw new ServiceError("ResourceInUse", `HumanTaskUi ${input.HumanTaskUiName} already exists.`);
    }
    // A template that cannot parse would only fail later, in front of a reviewer.
    try {
      checkTemplateSyntax(input.UiTemplate.Content);
    } catch (error) {
      throw new ServiceError(
        "ValidationException",
        `UiTemplate is not a valid Liquid template: ${(error as Error).message}`,
      );
    }
    const record: HumanTaskUiRecord = {
      name: input.HumanTaskUiName,
      arn: sagemakerArn("human-task-ui", input.HumanTaskUiName),
      content: input.UiTemplate.Content,
      creationTime: this.options.clock.now().toISOString(),
      tags: input.Tags ?? [],
    };
    this.uis.set(record.name, record);
    await this.options.store.taskUis.save(record.name, record);
    return record.arn;
  }

  humanTaskUi(name: string): HumanTaskUiRecord {
    const ui = this.uis.get(name);
    if (!ui) throw notFound(`HumanTaskUi ${name}`);
    return ui;
  }

  describeHumanTaskUi(name: string) {
    const ui = this.humanTaskUi(name);
    return {
      HumanTaskUiArn: ui.arn,
      HumanTaskUiName: ui.name,
      HumanTaskUiStatus: "Active",
      CreationTime: Date.parse(ui.creationTime) / 1000,
      UiTemplate: {
        // A self-contained URL: the local cloud has no template bucket to point a presigned URL at.
        Url: `data:text/html;charset=utf-8;base64,${Buffer.from(ui.content).toString("base64")}`,
        ContentSha256: createHash("sha256").update(ui.content).digest("hex"),
      },
    };
  }

  listHumanTaskUis(input: ListOptions) {
    const result = page(this.uis.values(), this.pageRequest("human-task-uis", input));
    return {
      HumanTaskUiSummaries: result.items.map((ui) => ({
        HumanTaskUiName: ui.name,
        HumanTaskUiArn: ui.arn,
        CreationTime: Date.parse(ui.creationTime) / 1000,
      })),
      ...(result.nextToken ? { NextToken: result.nextToken } : {}),
    };
  }

  async deleteHumanTaskUi(name: string): Promise<void> {
    const ui = this.humanTaskUi(name);
    const user = [...this.flows.values()].find((flow) => flow.humanLoopConfig?.HumanTaskUiArn === ui.arn);
    if (user) {
      throw new ServiceError("ResourceInUse", `HumanTaskUi ${name} is used by flow definition ${user.name}.`);
    }
    this.uis.delete(name);
    await this.options.store.taskUis.remove(name);
  }

  async createFlowDefinition(input: CreateFlowDefinitionRequest): Promise<string> {
    if (this.flows.has(input.FlowDefinitionName)) {
      throw new ServiceError("ResourceInUse", `Flow definition ${input.FlowDefinitionName} already exists.`);
    }
    const config = input.HumanLoopConfig;
    // Only custom task types exist locally, and they cannot run without a worker task UI.
    if (!config) {
      throw new ServiceError(
        "ValidationException",
        "HumanLoopConfig is required: the local A2I supports custom task types only.",
      );
    }
    if (!this.uis.has(nameFromArn(config.HumanTaskUiArn))) {
      throw new ServiceError("ValidationException", `HumanTaskUi ${config.HumanTaskUiArn} does not exist.`);
    }
    if (!parseS3OutputPath(input.OutputConfig.S3OutputPath)) {
      throw new ServiceError(
        "ValidationException",
        `S3OutputPath ${input.OutputConfig.S3OutputPath} names no bucket.`,
      );
    }
    const now = this.options.clock.now();
    const record: FlowDefinitionRecord = {
      name: input.FlowDefinitionName,
      arn: sagemakerArn("flow-definition", input.FlowDefinitionName),
      roleArn: input.RoleArn,
      creationTime: now.toISOString(),
      activeAt: new Date(now.getTime() + this.options.activationDelayMs).toISOString(),
      outputConfig: input.OutputConfig,
      humanLoopConfig: {
        ...config,
        TaskTimeLimitInSeconds: config.TaskTimeLimitInSeconds ?? DEFAULT_TASK_TIME_LIMIT_SECONDS,
        TaskAvailabilityLifetimeInSeconds:
          config.TaskAvailabilityLifetimeInSeconds ?? DEFAULT_TASK_AVAILABILITY_SECONDS,
      },
      humanLoopRequestSource: input.HumanLoopRequestSource,
      humanLoopActivationConfig: input.HumanLoopActivationConfig,
      tags: input.Tags ?? [],
    };
    this.flows.set(record.name, record);
    await this.options.store.flowDefinitions.save(record.name, record);
    return record.arn;
  }

  flowStatus(flow: FlowDefinitionRecord): FlowDefinitionStatus {
    return this.options.clock.now().getTime() >= Date.parse(flow.activeAt) ? "Active" : "Initializing";
  }

  flowDefinition(name: string): FlowDefinitionRecord {
    const flow = this.flows.get(name);
    if (!flow) throw notFound(`Flow definition ${name}`);
    return flow;
  }

  /** The flow definition a new loop may start under; ValidationException when unknown or not Active. */
  activeFlowDefinition(arn: string): FlowDefinitionRecord {
    const flow = this.flows.get(nameFromArn(arn));
    if (!flow || flow.arn !== arn) {
      throw new ServiceError("ValidationException", `Flow definition ${arn} does not exist.`);
    }
    const status = this.flowStatus(flow);
    if (status !== "Active") {
      throw new ServiceError("ValidationException", `Flow definition ${arn} is ${status}, not Active.`);
    }
    return flow;
  }

  hasFlowDefinitionArn(arn: string): boolean {
    return this.flows.get(nameFromArn(arn))?.arn === arn;
  }

  describeFlowDefinition(name: string) {
    const flow = this.flowDefinition(name);
    return {
      FlowDefinitionArn: flow.arn,
      FlowDefinitionName: flow.name,
      FlowDefinitionStatus: this.flowStatus(flow),
      CreationTime: Date.parse(flow.creationTime) / 1000,
      ...(flow.humanLoopRequestSource ? { HumanLoopRequestSource: flow.humanLoopRequestSource } : {}),
      ...(flow.humanLoopActivationConfig
        ? { HumanLoopActivationConfig: flow.humanLoopActivationConfig }
        : {}),
      HumanLoopConfig: flow.humanLoopConfig,
      OutputConfig: flow.outputConfig,
      RoleArn: flow.roleArn,
    };
  }

  listFlowDefinitions(input: ListOptions) {
    const result = page(this.flows.values(), this.pageRequest("flow-definitions", input));
    return {
      FlowDefinitionSummaries: result.items.map((flow) => ({
        FlowDefinitionName: flow.name,
        FlowDefinitionArn: flow.arn,
        FlowDefinitionStatus: this.flowStatus(flow),
        CreationTime: Date.parse(flow.creationTime) / 1000,
      })),
      ...(result.nextToken ? { NextToken: result.nextToken } : {}),
    };
  }

  async deleteFlowDefinition(name: string): Promise<void> {
    const flow = this.flowDefinition(name);
    await this.options.onFlowDefinitionDeleted(flow.arn);
    this.flows.delete(name);
    await this.options.store.flowDefinitions.remove(name);
  }

  /** RenderUiTemplate: template problems are reported in `Errors`, never as a failed request. */
  async renderUiTemplate(input: {
    UiTemplate?: { Content: string };
    HumanTaskUiArn?: string;
    Task: { Input: string };
  }): Promise<{ RenderedContent: string; Errors: { Code: string; Message: string }[] }> {
    let template: string;
    if (input.UiTemplate) {
      template = input.UiTemplate.Content;
    } else {
      const arn = input.HumanTaskUiArn as string;
      const ui = this.uis.get(nameFromArn(arn));
      if (!ui || ui.arn !== arn) throw notFound(`HumanTaskUi ${arn}`);
      template = ui.content;
    }
    let taskInput: unknown;
    try {
      taskInput = JSON.parse(input.Task.Input);
    } catch {
      throw new ServiceError("ValidationException", "Task.Input must be a JSON document.");
    }
    try {
      const rendered = await renderTaskTemplate(template, taskInput, {
        grantReadAccess: this.options.grantReadAccess,
      });
      return { RenderedContent: rendered, Errors: [] };
    } catch (error) {
      if (!(error instanceof TemplateRenderError)) throw error;
      return { RenderedContent: "", Errors: [{ Code: "TemplateRenderError", Message: error.message }] };
    }
  }

  private pageRequest(scope: string, input: ListOptions) {
    return {
      scope,
      sortOrder: input.SortOrder,
      maxResults: input.MaxResults,
      nextToken: input.NextToken,
      after: epochMs(input.CreationTimeAfter),
      before: epochMs(input.CreationTimeBefore),
    };
  }
}
