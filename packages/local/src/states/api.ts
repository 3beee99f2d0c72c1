/**
 * The awsJson1_0 surface of the engine (`X-Amz-Target: AWSStepFunctions.<Op>`): request
 * validation with zod, dispatch to the engine, AWS-shaped answers and errors.
 */
import { z } from "zod";
import { LOCAL_ACCOUNT, LOCAL_REGION, type ServiceHandler } from "../contracts";
import { readJson, ServiceError, sendAwsJsonError, sendJson, toServiceError } from "../edge/protocol";
import type { StatesEngine } from "./engine";

const ERROR_NAMESPACE = "com.amazonaws.swf.service.v2.model";
const CONTENT_TYPE = "application/x-amz-json-1.0";

const status = z.enum(["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]);
const paging = { maxResults: z.number().int().optional(), nextToken: z.string().min(1).optional() };

const schemas = {
  CreateStateMachine: z.object({
    name: z.string(),
    definition: z.string().min(1),
    roleArn: z.string().optional(),
    type: z.enum(["STANDARD", "EXPRESS"]).optional(),
  }),
  DescribeStateMachine: z.object({ stateMachineArn: z.string() }),
  UpdateStateMachine: z.object({
    stateMachineArn: z.string(),
    definition: z.string().min(1).optional(),
    roleArn: z.string().optional(),
  }),
  DeleteStateMachine: z.object({ stateMachineArn: z.string() }),
  ListStateMachines: z.object(paging),
  StartExecution: z.object({
    stateMachineArn: z.string().min(1).max(256),
    name: z.string().optional(),
    input: z.string().optional(),
  }),
  DescribeExecution: z.object({ executionArn: z.string() }),
  DescribeStateMachineForExecution: z.object({ executionArn: z.string() }),
  ListExecutions: z.object({
    stateMachineArn: z.string().optional(),
    mapRunArn: z.string().optional(),
    statusFilter: status.optional(),
    redriveFilter: z.enum(["REDRIVEN", "NOT_REDRIVEN"]).optional(),
    ...paging,
  }),
  ListMapRuns: z.object({ executionArn: z.string(), ...paging }),
  DescribeMapRun: z.object({ mapRunArn: z.string() }),
  StopExecution: z.object({
    executionArn: z.string(),
    error: z.string().max(256).optional(),
    cause: z.string().max(32_768).optional(),
  }),
  RedriveExecution: z.object({
    executionArn: z.string().min(1).max(2048),
    clientToken: z.string().min(1).max(64).optional(),
  }),
  GetExecutionHistory: z.object({
    executionArn: z.string(),
    reverseOrder: z.boolean().optional(),
    includeExecutionData: z.boolean().optional(),
    ...paging,
  }),
  SendTaskSuccess: z.object({ taskToken: z.string(), output: z.string() }),
  SendTaskFailure: z.object({
    taskToken: z.string(),
    error: z.string().max(256).optional(),
    cause: z.string().max(32_768).optional(),
  }),
  SendTaskHeartbeat: z.object({ taskToken: z.string() }),
} as const;

type Operation = keyof typeof schemas;
type EngineOperations = Omit<StatesEngine, "handler">;
type Input<O extends Operation> = z.infer<(typeof schemas)[O]>;

function operations(engine: EngineOperations): { [O in Operation]: (input: Input<O>) => Promise<unknown> } {
  return {
    async CreateStateMachine(input) {
      const arn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${input.name}`;
      const existing = await engine.describeStateMachine(arn).catch(() => undefined);
      if (existing) {
        // AWS: re-creating with identical settings returns the machine; anything else is a conflict.
        const same =
          existing.definition === input.definition &&
          (input.roleArn === undefined || existing.roleArn === input.roleArn) &&
          existing.type === (input.type ?? "STANDARD");
        if (!same)
          throw new ServiceError("StateMachineAlreadyExists", `State Machine Already Exists: '${arn}'`);
        return { stateMachineArn: arn, creationDate: existing.creationDate };
      }
      const created = await engine.createStateMachine(input);
      const described = await engine.describeStateMachine(created.stateMachineArn);
      return { stateMachineArn: created.stateMachineArn, creationDate: described.creationDate };
    },
    DescribeStateMachine: (input) => engine.describeStateMachine(input.stateMachineArn),
    UpdateStateMachine: (input) => engine.updateStateMachine(input),
    DeleteStateMachine: async (input) => {
      await engine.deleteStateMachine(input.stateMachineArn);
      return {};
    },
    ListStateMachines: (input) => engine.listStateMachines(input),
    StartExecution: (input) => engine.startExecution(input),
    DescribeExecution: (input) => engine.describeExecution(input.executionArn),
    async DescribeStateMachineForExecution(input) {
      const execution = await engine.describeExecution(input.executionArn);
      const machine = await engine.describeStateMachine(execution.stateMachineArn);
      return {
        stateMachineArn: machine.stateMachineArn,
        name: machine.name,
        definition: machine.definition,
        roleArn: machine.roleArn,
        updateDate: machine.creationDate,
      };
    },
    ListExecutions: (input) => engine.listExecutions(input),
    ListMapRuns: (input) => engine.listMapRuns(input),
    DescribeMapRun: (input) => engine.describeMapRun(input.mapRunArn),
    StopExecution: (input) => engine.stopExecution(input.executionArn, input.error, input.cause),
    GetExecutionHistory: (input) => engine.getExecutionHistory(input),
    RedriveExecution: (input) => engine.redriveExecution(input.executionArn),
    SendTaskSuccess: async (input) => {
      await engine.sendTaskSuccess(input.taskToken, input.output);
      return {};
    },
    SendTaskFailure: async (input) => {
      await engine.sendTaskFailure(input.taskToken, input.error, input.cause);
      return {};
    },
    SendTaskHeartbeat: async (input) => {
      await engine.sendTaskHeartbeat(input.taskToken);
      return {};
    },
  };
}

/** Builds the HTTP handler the edge router calls for `AWSStepFunctions.*` requests. */
export function createStatesHandler(engine: EngineOperations): ServiceHandler {
  const ops = operations(engine);
  return async (req, res) => {
    try {
      const target = String(req.headers["x-amz-target"] ?? "");
      const name = target.startsWith("AWSStepFunctions.") ? target.slice("AWSStepFunctions.".length) : "";
      if (req.method !== "POST" || !(name in schemas)) {
        throw new ServiceError("UnknownOperationException", `Unknown operation ${target || "(none)"}`);
      }
      const operation = name as Operation;
      const parsed = schemas[operation].safeParse(await readJson(req));
      if (!parsed.success) {
        const problem = parsed.error.issues
          .map((i) => `${i.path.join(".") || "input"}: ${i.message}`)
          .join("; ");
        throw new ServiceError("ValidationException", `1 validation error detected: ${problem}`);
      }
      const run = ops[operation] as (input: unknown) => Promise<unknown>;
      sendJson(res, 200, await run(parsed.data), CONTENT_TYPE);
    } catch (error) {
      sendAwsJsonError(res, toServiceError(error), ERROR_NAMESPACE, CONTENT_TYPE);
    }
  };
}
