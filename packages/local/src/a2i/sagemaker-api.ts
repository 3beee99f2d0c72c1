/**
 * The SageMaker control-plane operations A2I needs (awsJson1_1, `X-Amz-Target: SageMaker.<Op>`,
 * epoch-second timestamps): human task UIs, flow definitions and RenderUiTemplate.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ServiceHandler } from "../contracts";
import { readJson, ServiceError, sendAwsJsonError, sendJson, toServiceError } from "../edge/protocol";
import type { ControlPlane } from "./control-plane";
import {
  CreateFlowDefinitionRequest,
  CreateHumanTaskUiRequest,
  FlowDefinitionNameRequest,
  HumanTaskUiNameRequest,
  parseRequest,
  RenderUiTemplateRequest,
  SageMakerListRequest,
} from "./schemas";

const CONTENT_TYPE = "application/x-amz-json-1.1";
const NAMESPACE = "com.amazonaws.sagemaker";

type Operation = (plane: ControlPlane, body: Record<string, unknown>) => Promise<unknown>;

const operations: Record<string, Operation> = {
  CreateHumanTaskUi: async (plane, body) => ({
    HumanTaskUiArn: await plane.createHumanTaskUi(parseRequest(CreateHumanTaskUiRequest, body)),
  }),
  DescribeHumanTaskUi: async (plane, body) =>
    plane.describeHumanTaskUi(parseRequest(HumanTaskUiNameRequest, body).HumanTaskUiName),
  ListHumanTaskUis: async (plane, body) => plane.listHumanTaskUis(parseRequest(SageMakerListRequest, body)),
  DeleteHumanTaskUi: async (plane, body) => {
    await plane.deleteHumanTaskUi(parseRequest(HumanTaskUiNameRequest, body).HumanTaskUiName);
    return {};
  },
  CreateFlowDefinition: async (plane, body) => ({
    FlowDefinitionArn: await plane.createFlowDefinition(parseRequest(CreateFlowDefinitionRequest, body)),
  }),
  DescribeFlowDefinition: async (plane, body) =>
    plane.describeFlowDefinition(parseRequest(FlowDefinitionNameRequest, body).FlowDefinitionName),
  ListFlowDefinitions: async (plane, body) =>
    plane.listFlowDefinitions(parseRequest(SageMakerListRequest, body)),
  DeleteFlowDefinition: async (plane, body) => {
    await plane.deleteFlowDefinition(parseRequest(FlowDefinitionNameRequest, body).FlowDefinitionName);
    return {};
  },
  RenderUiTemplate: async (plane, body) =>
    plane.renderUiTemplate(parseRequest(RenderUiTemplateRequest, body)),
};

/** The SageMaker operations this handler serves (the edge may route only these here). */
export const SAGEMAKER_OPERATIONS = Object.keys(operations);

async function handle(plane: ControlPlane, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const target = req.headers["x-amz-target"];
  const name = typeof target === "string" && target.startsWith("SageMaker.") ? target.slice(10) : undefined;
  const operation = name === undefined ? undefined : operations[name];
  if (!operation) {
    throw new ServiceError(
      "UnknownOperationException",
      `The local SageMaker does not implement ${target ?? "(none)"}.`,
    );
  }
  sendJson(res, 200, await operation(plane, await readJson(req)), CONTENT_TYPE);
}

/** Builds the awsJson1_1 handler the edge calls for `X-Amz-Target: SageMaker.*`. */
export function createSageMakerHandler(plane: ControlPlane): ServiceHandler {
  return async (req, res) => {
    try {
      await handle(plane, req, res);
    } catch (error) {
      const serviceError = toServiceError(error);
      sendAwsJsonError(res, serviceError, NAMESPACE, CONTENT_TYPE);
    }
  };
}
