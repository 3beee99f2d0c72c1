/**
 * A read-only CloudFormation (awsQuery protocol: form-encoded POST, XML answers) that answers
 * DescribeStacks with the local cloud's resources under the SST stacks' names and output keys, so
 * the CLI finds a stage the same way whether it talks to AWS or to this machine.
 */
import type { ServerResponse } from "node:http";
import { STACK_IDS, StackOutputs, stackName } from "@secondlook/core/blueprint";
import { XMLBuilder } from "fast-xml-parser";
import { LOCAL_ACCOUNT, LOCAL_REGION, type ServiceHandler } from "../contracts";
import { readBody, ServiceError } from "../edge/protocol";

export const CLOUDFORMATION_XMLNS = "http://cloudformation.amazonaws.com/doc/2010-05-15/";

/** Form bodies of DescribeStacks are tiny; anything big is not one. */
const MAX_FORM_BYTES = 64 * 1024;

/** One stack as DescribeStacks reports it. */
export interface LocalStack {
  name: string;
  /** `arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>` */
  id: string;
  createdAt: Date;
  outputs: Record<string, string>;
}

export interface LocalCloudFormationOptions {
  /** The stacks that exist right now; empty while the cloud is still provisioning. */
  stacks: () => LocalStack[];
}

/** What the Review stack outputs, as the local cloud provisioned it. */
export interface ReviewStackResources {
  bucket: string;
  settingsPath: string;
  flowDefinitionArn: string;
  projectArn: string;
  reviewImageStateMachineArn: string;
  trainModelStateMachineArn: string;
  reviewBatchStateMachineArn: string;
}

/**
 * The SST stacks of one stage as `sst deploy` leaves them: Storage and Training without outputs,
 * Review with the outputs the CLI reads (the workteam is not one: the local portal has no ARN for it).
 */
export function sstStacks(stage: string, createdAt: Date, resources: ReviewStackResources): LocalStack[] {
  const outputs: Record<string, string> = {
    [StackOutputs.bucketName]: resources.bucket,
    [StackOutputs.settingsPath]: resources.settingsPath,
    [StackOutputs.flowDefinitionArn]: resources.flowDefinitionArn,
    [StackOutputs.projectArn]: resources.projectArn,
    [StackOutputs.reviewImageStateMachineArn]: resources.reviewImageStateMachineArn,
    [StackOutputs.trainModelStateMachineArn]: resources.trainModelStateMachineArn,
    [StackOutputs.reviewBatchStateMachineArn]: resources.reviewBatchStateMachineArn,
  };
  return STACK_IDS.map((id) => {
    const name = stackName(stage, id);
    return {
      name,
      // Stable per stage and stack, like a real stack id that outlives updates.
      id: `arn:aws:cloudformation:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stack/${name}/${stage}-${id.toLowerCase()}`,
      createdAt,
      outputs: id === "Review" ? outputs : {},
    };
  });
}

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: "@_" });

function sendQueryXml(res: ServerResponse, status: number, document: Record<string, unknown>) {
  const text = `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build(document)}`;
  res.writeHead(status, {
    "content-type": "text/xml",
    "content-length": Buffer.byteLength(text),
    "x-amzn-requestid": crypto.randomUUID(),
  });
  res.end(text);
}

/** awsQuery error: `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`. */
export function sendQueryError(res: ServerResponse, error: ServiceError) {
  sendQueryXml(res, error.status, {
    ErrorResponse: {
      "@_xmlns": CLOUDFORMATION_XMLNS,
      Error: { Type: error.status >= 500 ? "Receiver" : "Sender", Code: error.code, Message: error.message },
      RequestId: crypto.randomUUID(),
    },
  });
}

function describeStacks(all: LocalStack[], stackName: string | null) {
  // CloudFormation accepts a stack's name or its id (ARN) here.
  const stacks = stackName ? all.filter((s) => s.name === stackName || s.id === stackName) : all;
  if (stackName && stacks.length === 0) {
    throw new ServiceError("ValidationError", `Stack with id ${stackName} does not exist`);
  }
  return {
    Stacks: {
      member: stacks.map((stack) => ({
        StackId: stack.id,
        StackName: stack.name,
        CreationTime: stack.createdAt.toISOString(),
        StackStatus: "CREATE_COMPLETE",
        DisableRollback: false,
        Outputs: {
          member: Object.entries(stack.outputs).map(([key, value]) => ({
            OutputKey: key,
            OutputValue: value,
          })),
        },
        Tags: "",
      })),
    },
  };
}

/** Builds the edge handler for CloudFormation requests (the edge routes form-encoded POSTs to `/` here). */
export function createLocalCloudFormation(options: LocalCloudFormationOptions): { handler: ServiceHandler } {
  const handler: ServiceHandler = async (req, res) => {
    if (req.method !== "POST") {
      req.resume();
      throw new ServiceError("InvalidAction", "CloudFormation requests are form-encoded POSTs");
    }
    const form = new URLSearchParams((await readBody(req, MAX_FORM_BYTES)).toString("utf8"));
    const action = form.get("Action");
    if (action !== "DescribeStacks") {
      throw new ServiceError(
        "InvalidAction",
        `The local cloud's CloudFormation is read-only and answers DescribeStacks only, not ${action ?? "(no Action)"}`,
      );
    }
    const result = describeStacks(options.stacks(), form.get("StackName"));
    sendQueryXml(res, 200, {
      DescribeStacksResponse: {
        "@_xmlns": CLOUDFORMATION_XMLNS,
        DescribeStacksResult: result,
        ResponseMetadata: { RequestId: crypto.randomUUID() },
      },
    });
  };
  return { handler };
}
