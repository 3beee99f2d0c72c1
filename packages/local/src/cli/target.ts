/**
 * Where a command runs: the local cloud (the default) or a deployed stage (`--stage`). Both are
 * found the same way, through CloudFormation DescribeStacks on the stage's Review stack, so the
 * AWS path is the one the tests exercise against the local cloud.
 */
import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import { RekognitionClient } from "@aws-sdk/client-rekognition";
import { S3Client } from "@aws-sdk/client-s3";
import { SageMakerA2IRuntimeClient } from "@aws-sdk/client-sagemaker-a2i-runtime";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SSMClient } from "@aws-sdk/client-ssm";
import { StackOutputs, stackName } from "@secondlook/core/blueprint";
import { LOCAL_REGION } from "../contracts";
import { defaultLocalEndpoint } from "./defaults";
import { explain, type Place, UnknownStageError } from "./errors";

/** The stage the local cloud provisions. */
export const LOCAL_STAGE = "local";

export interface TargetOptions {
  /** AWS edge of the local cloud, or a custom AWS endpoint with `--stage`. */
  endpointUrl?: string;
  /** A deployed stage: credentials and region come from the SDK's default chain. */
  stage?: string;
}

export interface Target extends Place {
  region: string;
  bucket: string;
  settingsPath: string;
  flowDefinitionArn: string;
  projectArn: string;
  reviewImageStateMachineArn: string;
  trainModelStateMachineArn: string | undefined;
  /** Absent on a stage deployed before review-batch was an output; only manifest runs need it. */
  reviewBatchStateMachineArn: string | undefined;
  clients: {
    s3: S3Client;
    ssm: SSMClient;
    sfn: SFNClient;
    a2i: SageMakerA2IRuntimeClient;
    rekognition: RekognitionClient;
  };
  /** Releases the clients' sockets so the process can exit. */
  close(): void;
}

/** Credentials the local cloud accepts (it checks none); AWS gets the default chain instead. */
const LOCAL_CREDENTIALS = { accessKeyId: "secondlook", secretAccessKey: "secondlook-local" };

/** Finds the stage's resources from its Review stack outputs and builds SDK clients for it. */
export async function resolveTarget(options: TargetOptions): Promise<Target> {
  const local = options.stage === undefined;
  const stage = options.stage ?? LOCAL_STAGE;
  const endpoint = options.endpointUrl ?? (local ? defaultLocalEndpoint() : undefined);
  const place: Place = { local, endpoint, stage };
  // Without --stage the local cloud's fixed region and credentials; with it, whatever the
  // environment and profile say, exactly as the AWS CLI would resolve them.
  const config = {
    ...(endpoint ? { endpoint } : {}),
    ...(local ? { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS } : {}),
  };

  const cloudformation = new CloudFormationClient(config);
  const name = stackName(stage, "Review");
  let outputs: Record<string, string>;
  let region = "";
  try {
    region = await cloudformation.config.region();
    const described = await cloudformation.send(new DescribeStacksCommand({ StackName: name }));
    outputs = Object.fromEntries(
      (described.Stacks?.[0]?.Outputs ?? []).map((output) => [
        output.OutputKey ?? "",
        output.OutputValue ?? "",
      ]),
    );
  } catch (error) {
    if (error instanceof Error && error.name === "ValidationError" && /does not exist/.test(error.message)) {
      throw new UnknownStageError(
        `stage ${stage} is not deployed: there is no stack ${name} in ${region || "this region"}${endpoint ? ` at ${endpoint}` : ""} (deploy it with \`npx sst deploy --stage ${stage}\`)`,
      );
    }
    throw explain(error, place);
  } finally {
    cloudformation.destroy();
  }

  const need = (key: keyof typeof StackOutputs) => {
    const value = outputs[StackOutputs[key]];
    if (!value) {
      throw new UnknownStageError(
        `stack ${name} has no output ${StackOutputs[key]}: redeploy stage ${stage} with this version of secondlook`,
      );
    }
    return value;
  };
  const target = {
    ...place,
    region,
    bucket: need("bucketName"),
    settingsPath: need("settingsPath"),
    flowDefinitionArn: need("flowDefinitionArn"),
    projectArn: need("projectArn"),
    reviewImageStateMachineArn: need("reviewImageStateMachineArn"),
    trainModelStateMachineArn: outputs[StackOutputs.trainModelStateMachineArn] || undefined,
    reviewBatchStateMachineArn: outputs[StackOutputs.reviewBatchStateMachineArn] || undefined,
  };
  const clients = {
    // Path-style for any custom endpoint: the local edge routes S3 by path.
    s3: new S3Client({ ...config, ...(endpoint ? { forcePathStyle: true } : {}) }),
    ssm: new SSMClient(config),
    sfn: new SFNClient(config),
    a2i: new SageMakerA2IRuntimeClient(config),
    rekognition: new RekognitionClient(config),
  };
  return {
    ...target,
    clients,
    close() {
      for (const client of Object.values(clients)) client.destroy();
    },
  };
}
