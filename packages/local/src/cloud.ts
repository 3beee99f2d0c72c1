/**
 * The local cloud's composition root: builds every service, wires them together, and provisions
 * the deployment from the same declarations the SST stacks use (blueprint, ASL files, template).
 */
import { createHash } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  CreateProjectCommand,
  DescribeProjectsCommand,
  RekognitionClient,
} from "@aws-sdk/client-rekognition";
import { CreateBucketCommand, PutBucketCorsCommand, S3Client } from "@aws-sdk/client-s3";
import {
  CreateFlowDefinitionCommand,
  CreateHumanTaskUiCommand,
  DescribeFlowDefinitionCommand,
  SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { GetParametersByPathCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import {
  A2I_CORS_RULE,
  Env,
  FlowDefinition,
  Functions,
  IDLE_CHECK_MINUTES,
  OtherSubstitutions,
  Prefixes,
  Rules,
  StateMachines,
  settingsPath,
} from "@secondlook/core/blueprint";
import { Settings } from "@secondlook/core/settings";
import { createLocalA2I } from "./a2i/a2i";
import { createLocalCloudFormation, type LocalStack, sstStacks } from "./cloudformation/cloudformation";
import { createConsole } from "./console/console";
import { type BusEvent, type Clock, LOCAL_ACCOUNT, LOCAL_REGION, systemClock } from "./contracts";
import { ServiceError } from "./edge/protocol";
import { createEdgeServer, type EdgeFaults } from "./edge/server";
import { createEventRules } from "./events/rules";
import { createLocalLambda } from "./lambda/invoker";
import { REPO_ROOT } from "./paths";
import { createPortal } from "./portal/portal";
import { createLocalRekognition } from "./rekognition/service";
import { createLocalS3 } from "./s3/s3";
import { createSdkIntegration } from "./sdk-integration";
import { createLocalSsm } from "./ssm/ssm";
import { substitute } from "./states/definition";
import { createStatesEngine } from "./states/engine";

export interface LocalCloudOptions {
  /** Where everything is persisted; a restart finds all state here. */
  dataDir: string;
  /** Host both listeners bind to (127.0.0.1 unless told otherwise). */
  host?: string;
  /** AWS edge port (0 = pick a free one). */
  port?: number;
  /** Reviewer portal and console port (0 = pick a free one). */
  webPort?: number;
  stage?: string;
  /** Shortens Wait states, retries and timeouts (tests); 1 = real time. */
  timeScale?: number;
  clock?: Clock;
  /** Tests only: faults the edge injects into matching requests (see EdgeFaults); none by default. */
  faults?: EdgeFaults;
  /** Tests only: the Lambda timeout of every function (Lambda's 60 s by default). */
  functionTimeoutMs?: number;
}

export interface LocalCloud {
  endpoint: string;
  webUrl: string;
  dataDir: string;
  stage: string;
  bucket: string;
  settingsPath: string;
  flowDefinitionArn: string;
  projectArn: string;
  stateMachineArns: Record<keyof typeof StateMachines, string>;
  services: {
    s3: Awaited<ReturnType<typeof createLocalS3>>;
    ssm: Awaited<ReturnType<typeof createLocalSsm>>;
    a2i: Awaited<ReturnType<typeof createLocalA2I>>;
    rekognition: Awaited<ReturnType<typeof createLocalRekognition>>;
    states: Awaited<ReturnType<typeof createStatesEngine>>;
    rules: Awaited<ReturnType<typeof createEventRules>>;
    portal: Awaited<ReturnType<typeof createPortal>>;
  };
  /** Waits until every event delivery in flight has reached its target. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/** Credentials the SDK clients sign with locally; the local cloud accepts any. */
const LOCAL_CREDENTIALS = { accessKeyId: "secondlook", secretAccessKey: "secondlook-local" };

/** Starts the local cloud and provisions the deployment; resolves once it serves requests. */
export async function startLocalCloud(options: LocalCloudOptions): Promise<LocalCloud> {
  const dataDir = resolve(options.dataDir);
  const host = options.host ?? "127.0.0.1";
  const stage = options.stage ?? "local";
  const clock = options.clock ?? systemClock;
  const timeScale = options.timeScale ?? 1;
  await mkdir(dataDir, { recursive: true });

  const rules = await createEventRules({ dataDir });
  const s3 = await createLocalS3({ dataDir, bus: rules.bus, clock });
  const ssm = await createLocalSsm({ dataDir });
  // RenderUiTemplate's grant_read_access signs URLs the portal serves; the portal starts later.
  let grantReadAccess = (s3Uri: string): string => {
    throw new Error(`The portal is not running yet to grant read access to ${s3Uri}`);
  };
  const a2i = await createLocalA2I({
    dataDir,
    objects: s3.objects,
    bus: rules.bus,
    clock,
    timeScale,
    grantReadAccess: (s3Uri) => grantReadAccess(s3Uri),
  });
  const rekognition = await createLocalRekognition({ dataDir, objects: s3.objects, clock, timeScale });
  const lambda = createLocalLambda({ stage, timeoutMs: options.functionTimeoutMs });

  // The engine's aws-sdk integrations call the local services through the edge, like AWS would.
  let endpoint = "";
  const sdk = createSdkIntegration(() => ({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  }));
  const states = await createStatesEngine({
    dataDir,
    invoker: lambda,
    sdk,
    clock,
    timeScale,
    objects: s3.objects,
  });
  // DescribeStacks finds the stage only once provisioning has filled in its outputs, as after a deploy.
  let stacks: LocalStack[] = [];
  const cloudformation = createLocalCloudFormation({ stacks: () => stacks });

  const edge = await createEdgeServer({
    host,
    port: options.port ?? 0,
    faults: options.faults,
    services: {
      s3: s3.handler,
      states: states.handler,
      a2iRuntime: a2i.runtimeHandler,
      sagemaker: a2i.sagemakerHandler,
      rekognition: rekognition.handler,
      ssm: ssm.handler,
      cloudformation: cloudformation.handler,
    },
  });
  endpoint = edge.url;

  const bucket = `secondlook-${stage}-data`;
  const path = settingsPath(stage);
  const provisioned = await provision({ endpoint, stage, bucket, settingsPath: path });

  // Handler logs would drown the CLI's own output; POWERTOOLS_LOG_LEVEL=INFO shows them.
  process.env.POWERTOOLS_LOG_LEVEL ??= "WARN";
  // The handlers read their configuration from the environment, as on Lambda.
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    [Env.bucket]: bucket,
    [Env.settingsPath]: path,
    [Env.flowDefinitionArn]: provisioned.flowDefinitionArn,
    [Env.projectArn]: provisioned.projectArn,
    [Env.trainModelStateMachineArn]: stateMachineArn(StateMachines.trainModel.name),
  });

  const stateMachineArns = {} as Record<keyof typeof StateMachines, string>;
  for (const key of Object.keys(StateMachines) as (keyof typeof StateMachines)[]) {
    const text = await readFile(join(REPO_ROOT, "statemachines", StateMachines[key].file), "utf8");
    const definition = substitute(
      text,
      substitutions(lambda.arns, { bucket, projectArn: provisioned.projectArn, settingsPath: path }),
    );
    const created = await states.createStateMachine({ name: StateMachines[key].name, definition });
    stateMachineArns[key] = created.stateMachineArn;
  }

  stacks = sstStacks(stage, clock.now(), {
    bucket,
    settingsPath: path,
    flowDefinitionArn: provisioned.flowDefinitionArn,
    projectArn: provisioned.projectArn,
    reviewImageStateMachineArn: stateMachineArns.reviewImage,
    trainModelStateMachineArn: stateMachineArns.trainModel,
    reviewBatchStateMachineArn: stateMachineArns.reviewBatch,
  });

  // The outbox redelivers an event whose delivery a crash cut short; naming the execution after the
  // event makes that redelivery start nothing new (StartExecution is idempotent per name and input).
  const startOnce = async (stateMachineArn: string, event: BusEvent) => {
    await states
      .startExecution({ stateMachineArn, name: event.id, input: JSON.stringify(event) })
      .catch((error: unknown) => {
        // Already started and since finished: this delivery was done before the crash.
        if (!(error instanceof ServiceError && error.code === "ExecutionAlreadyExists")) throw error;
      });
  };
  rules.addRule({
    name: "image-uploaded",
    pattern: Rules.imageUploaded(bucket),
    target: (event) => startOnce(stateMachineArns.reviewImage, event),
  });
  rules.addRule({
    name: "manifest-uploaded",
    pattern: Rules.manifestUploaded(bucket),
    target: (event) => startOnce(stateMachineArns.reviewBatch, event),
  });
  rules.addRule({
    name: "human-loop-status-changed",
    pattern: Rules.humanLoopStatusChanged(provisioned.flowDefinitionArn),
    target: async (event) => {
      await lambda.invoke(lambda.arns.onHumanLoopStatus, event);
    },
  });

  const executionsConsole = await createConsole({
    states,
    objects: s3.objects,
    endpoint: () => endpoint,
    bucket,
    settingsPath: path,
    flowDefinitionArn: provisioned.flowDefinitionArn,
    projectArn: provisioned.projectArn,
    stateMachineArns,
    clock,
  });
  const portal = await createPortal({
    dataDir,
    queue: a2i.queue,
    objects: s3.objects,
    host,
    port: options.webPort ?? 0,
    mounts: { "/console": executionsConsole.handler },
    clock,
  });
  grantReadAccess = portal.grantReadAccess;
  await states.resume();

  // EventBridge's schedule for the idle check, shortened by timeScale like every other wait.
  const idleCheck = setInterval(
    () => {
      lambda
        .invoke(lambda.arns.stopIdleModel, { source: "aws.events", "detail-type": "Scheduled Event" })
        .catch((error: Error) => console.error(`[local] idle check failed: ${error.message}`));
    },
    IDLE_CHECK_MINUTES * 60_000 * timeScale,
  );
  idleCheck.unref();

  return {
    endpoint,
    webUrl: portal.url,
    dataDir,
    stage,
    bucket,
    settingsPath: path,
    flowDefinitionArn: provisioned.flowDefinitionArn,
    projectArn: provisioned.projectArn,
    stateMachineArns,
    services: { s3, ssm, a2i, rekognition, states, rules, portal },
    drain: () => rules.drain(),
    async close() {
      clearInterval(idleCheck);
      executionsConsole.close();
      await portal.close();
      await edge.close();
      await states.close();
      await rules.close();
      await a2i.close();
      await rekognition.close();
      await lambda.close();
    },
  };
}

function stateMachineArn(name: string) {
  return `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${name}`;
}

/** The `${…}` values for every definition, keyed by the placeholders the blueprint names. */
function substitutions(
  functionArns: Record<keyof typeof Functions, string>,
  deployment: { bucket: string; projectArn: string; settingsPath: string },
): Record<string, string> {
  const values: Record<string, string> = {
    [OtherSubstitutions.trainModelStateMachineArn]: stateMachineArn(StateMachines.trainModel.name),
    [OtherSubstitutions.reviewImageStateMachineArn]: stateMachineArn(StateMachines.reviewImage.name),
    [OtherSubstitutions.projectArn]: deployment.projectArn,
    [OtherSubstitutions.bucketName]: deployment.bucket,
    [OtherSubstitutions.modelOutputPrefix]: Prefixes.modelOutput,
    [OtherSubstitutions.activeModelVersionParameterName]: `${deployment.settingsPath}${Settings.parameterName("activeModelVersionArn")}`,
  };
  for (const key of Object.keys(Functions) as (keyof typeof Functions)[]) {
    const placeholder = Functions[key].substitution;
    if (placeholder) values[placeholder] = functionArns[key];
  }
  return values;
}

/**
 * Creates what `sst deploy` creates, through the same AWS APIs: the bucket with A2I's CORS rule,
 * the settings, the Custom Labels project, the human task UI and the flow definition.
 * Safe to repeat on every start: existing resources are kept as they are.
 */
async function provision(input: { endpoint: string; stage: string; bucket: string; settingsPath: string }) {
  const config = { endpoint: input.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  const ssm = new SSMClient(config);
  const rekognition = new RekognitionClient(config);
  const sagemaker = new SageMakerClient(config);

  await s3.send(new CreateBucketCommand({ Bucket: input.bucket })).catch(ignore("BucketAlreadyOwnedByYou"));
  await s3.send(
    new PutBucketCorsCommand({
      Bucket: input.bucket,
      CORSConfiguration: {
        CORSRules: [
          {
            AllowedHeaders: A2I_CORS_RULE.allowedHeaders,
            AllowedMethods: A2I_CORS_RULE.allowedMethods,
            AllowedOrigins: A2I_CORS_RULE.allowedOrigins,
            ExposeHeaders: A2I_CORS_RULE.exposedHeaders,
          },
        ],
      },
    }),
  );

  // Settings an operator already changed are kept; only missing ones get their defaults.
  const existing = new Set<string>();
  let nextToken: string | undefined;
  do {
    const page = await ssm.send(
      new GetParametersByPathCommand({ Path: input.settingsPath, Recursive: true, NextToken: nextToken }),
    );
    for (const parameter of page.Parameters ?? []) if (parameter.Name) existing.add(parameter.Name);
    nextToken = page.NextToken;
  } while (nextToken);
  for (const [name, value] of Object.entries(Settings.toParameters(Settings.defaults()))) {
    const fullName = `${input.settingsPath}${name}`;
    if (existing.has(fullName)) continue;
    // SSM refuses empty values; an unset setting is simply absent, which the schema defaults.
    if (value === "") continue;
    await ssm.send(new PutParameterCommand({ Name: fullName, Value: value, Type: "String" }));
  }

  const projectName = `secondlook-${input.stage}`;
  const projectArn = await rekognition
    .send(new CreateProjectCommand({ ProjectName: projectName }))
    .then((created) => created.ProjectArn as string)
    .catch(async (error: Error) => {
      if (error.name !== "ResourceInUseException") throw error;
      const found = await rekognition.send(new DescribeProjectsCommand({ ProjectNames: [projectName] }));
      const arn = found.ProjectDescriptions?.[0]?.ProjectArn;
      if (!arn) throw error;
      return arn;
    });

  // A2I has no update API: a changed template or config gets a new name, as in the stack.
  const template = await readFile(join(REPO_ROOT, FlowDefinition.templateFile), "utf8");
  const version = createHash("sha256")
    .update(template)
    .update(JSON.stringify(FlowDefinition))
    .digest("hex")
    .slice(0, 8);
  const uiName = `secondlook-${input.stage}-review-${version}`;
  const flowName = `secondlook-${input.stage}-review-${version}`;
  const ui = await sagemaker
    .send(new CreateHumanTaskUiCommand({ HumanTaskUiName: uiName, UiTemplate: { Content: template } }))
    .then((created) => created.HumanTaskUiArn as string)
    .catch((error: Error) => {
      if (error.name !== "ResourceInUse") throw error;
      return `arn:aws:sagemaker:${LOCAL_REGION}:${LOCAL_ACCOUNT}:human-task-ui/${uiName}`;
    });
  const flowDefinitionArn = await sagemaker
    .send(
      new CreateFlowDefinitionCommand({
        FlowDefinitionName: flowName,
        RoleArn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/secondlook-${input.stage}-a2i`,
        OutputConfig: { S3OutputPath: `s3://${input.bucket}/${Prefixes.humanLoopOutput.replace(/\/$/, "")}` },
        HumanLoopConfig: {
          WorkteamArn: `arn:aws:sagemaker:${LOCAL_REGION}:${LOCAL_ACCOUNT}:workteam/private-crowd/secondlook-${input.stage}`,
          HumanTaskUiArn: ui,
          TaskTitle: FlowDefinition.taskTitle,
          TaskDescription: FlowDefinition.taskDescription,
          TaskKeywords: [...FlowDefinition.taskKeywords],
          TaskCount: FlowDefinition.taskCount,
          TaskTimeLimitInSeconds: FlowDefinition.taskTimeLimitInSeconds,
          TaskAvailabilityLifetimeInSeconds: FlowDefinition.taskAvailabilityLifetimeInSeconds,
        },
      }),
    )
    .then((created) => created.FlowDefinitionArn as string)
    .catch((error: Error) => {
      if (error.name !== "ResourceInUse") throw error;
      return `arn:aws:sagemaker:${LOCAL_REGION}:${LOCAL_ACCOUNT}:flow-definition/${flowName}`;
    });
  // StartHumanLoop needs an Active flow definition, exactly as on AWS.
  for (let attempt = 0; ; attempt++) {
    const described = await sagemaker.send(
      new DescribeFlowDefinitionCommand({ FlowDefinitionName: flowName }),
    );
    if (described.FlowDefinitionStatus === "Active") break;
    if (described.FlowDefinitionStatus === "Failed" || attempt > 200) {
      throw new Error(
        `Flow definition ${flowName} did not become Active: ${described.FailureReason ?? "timed out"}`,
      );
    }
    await new Promise((done) => setTimeout(done, 50));
  }
  for (const client of [s3, ssm, rekognition, sagemaker]) client.destroy();
  return { projectArn, flowDefinitionArn };
}

const ignore = (code: string) => (error: Error) => {
  if (error.name !== code) throw error;
};
