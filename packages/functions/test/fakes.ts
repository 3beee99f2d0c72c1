/**
 * Test doubles at the AWS SDK boundary: an in-memory S3 behind aws-sdk-client-mock, and builders
 * for the raw events and files AWS produces. The handlers under test run unchanged.
 */
import { createHash } from "node:crypto";
import {
  CopyObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { GetParametersByPathCommand, SSMClient } from "@aws-sdk/client-ssm";
import { Settings } from "@secondlook/core";
import { mockClient } from "aws-sdk-client-mock";

export const BUCKET = "secondlook-test-data";
export const SETTINGS_PATH = "/secondlook/test/";
export const FLOW_DEFINITION_ARN = "arn:aws:sagemaker:us-east-1:111122223333:flow-definition/secondlook-test";
export const MODEL_ARN =
  "arn:aws:rekognition:us-east-1:111122223333:project/secondlook-test/version/secondlook-test.1/1700000000000";

/** Points the handlers' env schema at the test deployment. */
export function setHandlerEnv(): void {
  process.env.SECONDLOOK_BUCKET = BUCKET;
  process.env.SECONDLOOK_SETTINGS_PATH = SETTINGS_PATH;
  process.env.SECONDLOOK_FLOW_DEFINITION_ARN = FLOW_DEFINITION_ARN;
  process.env.AWS_REGION = "us-east-1";
  // Keeps test output readable; the handlers' logs are asserted through their results instead.
  process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
}

const s3Error = (name: string, status: number) =>
  new S3ServiceException({ name, $fault: "client", $metadata: { httpStatusCode: status }, message: name });

/**
 * The S3 and SSM clients resolve to an older @smithy/types than aws-sdk-client-mock's, so their
 * classes do not type-check against its signatures; the runtime stubbing is unaffected.
 */
// biome-ignore lint/suspicious/noExplicitAny: bridging two @smithy/types versions, see above
export const untyped = (value: unknown): any => value;

const etagOf = (body: string) => `"${createHash("md5").update(body).digest("hex")}"`;

/** An in-memory S3 bucket set answering the commands the adapters send, If-None-Match included. */
export function fakeS3() {
  const objects = new Map<string, { body: string; etag: string }>();
  const id = (bucket: string, key: string) => `${bucket}/${key}`;
  const mock = mockClient(untyped(S3Client));

  mock.on(untyped(GetObjectCommand)).callsFake((input: { Bucket: string; Key: string }) => {
    const found = objects.get(id(input.Bucket, input.Key));
    if (!found) throw s3Error("NoSuchKey", 404);
    return { ETag: found.etag, Body: { transformToString: async () => found.body } };
  });
  mock.on(untyped(HeadObjectCommand)).callsFake((input: { Bucket: string; Key: string }) => {
    const found = objects.get(id(input.Bucket, input.Key));
    if (!found) throw s3Error("NotFound", 404);
    return { ETag: found.etag, ContentLength: Buffer.byteLength(found.body) };
  });
  mock
    .on(untyped(PutObjectCommand))
    .callsFake((input: { Bucket: string; Key: string; Body: string; IfNoneMatch?: string }) => {
      const key = id(input.Bucket, input.Key);
      if (input.IfNoneMatch === "*" && objects.has(key)) throw s3Error("PreconditionFailed", 412);
      const etag = etagOf(input.Body);
      objects.set(key, { body: input.Body, etag });
      return { ETag: etag };
    });
  mock
    .on(untyped(CopyObjectCommand))
    .callsFake((input: { Bucket: string; Key: string; CopySource: string }) => {
      const slash = input.CopySource.indexOf("/");
      const source = objects.get(
        id(input.CopySource.slice(0, slash), decodeURIComponent(input.CopySource.slice(slash + 1))),
      );
      if (!source) throw s3Error("NoSuchKey", 404);
      objects.set(id(input.Bucket, input.Key), { ...source });
      return { CopyObjectResult: { ETag: source.etag } };
    });

  return {
    mock,
    put(bucket: string, key: string, body: string) {
      objects.set(id(bucket, key), { body, etag: etagOf(body) });
    },
    text(bucket: string, key: string): string | undefined {
      return objects.get(id(bucket, key))?.body;
    },
    json(bucket: string, key: string): unknown {
      const body = objects.get(id(bucket, key))?.body;
      return body === undefined ? undefined : JSON.parse(body);
    },
    keys(prefix = ""): string[] {
      return [...objects.keys()]
        .filter((key) => key.startsWith(`${BUCKET}/${prefix}`))
        .map((key) => key.slice(BUCKET.length + 1))
        .sort();
    },
  };
}

/** SSM answering GetParametersByPath from a settings object the test can change. */
export function fakeSsm(initial: Partial<Settings>) {
  let current: Settings = { ...Settings.defaults(), ...initial };
  const mock = mockClient(untyped(SSMClient));
  mock.on(untyped(GetParametersByPathCommand)).callsFake((input: { Path: string }) => ({
    Parameters: Object.entries(Settings.toParameters(current))
      // SSM refuses empty values, so an unset setting is simply absent.
      .filter(([, value]) => value !== "")
      .map(([name, value]) => ({ Name: `${input.Path}${name}`, Value: value, Type: "String" })),
  }));
  return {
    mock,
    set(change: Partial<Settings>) {
      current = { ...current, ...change };
    },
  };
}

/** An EventBridge "Object Created" event, with the key URL-encoded as S3 notifications encode it. */
export function objectCreatedEvent(key: string, bucket = BUCKET) {
  return {
    version: "0",
    id: "17793124-05d4-b198-2fde-7ededc63b103",
    "detail-type": "Object Created",
    source: "aws.s3",
    account: "111122223333",
    time: "2026-01-01T00:00:00Z",
    region: "us-east-1",
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: "0",
      bucket: { name: bucket },
      object: {
        key: encodeURIComponent(key).replace(/%2F/g, "/").replace(/%20/g, "+"),
        size: 1234,
        etag: "b1946ac92492d2347c6235b4d2611184",
        sequencer: "617f08299329d189",
      },
      "request-id": "N4N7GDK58NMKJ12R",
      requester: "111122223333",
      reason: "PutObject",
    },
  };
}

/** One reviewer's answer as A2I records it (2021 format). */
export function humanAnswer(label: string, workerId = "7fe4cd6b55282093") {
  return {
    acceptanceTime: "2026-01-01T00:01:00.000Z",
    answerContent: { category: { label } },
    submissionTime: "2026-01-01T00:02:00.000Z",
    timeSpentInSeconds: 60.5,
    workerId,
    workerMetadata: {
      identityData: {
        identityProviderType: "Cognito",
        issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE",
        sub: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
      },
    },
  };
}

/** output.json of a completed loop. */
export function outputJson(loopName: string, inputContent: unknown, answers: unknown[]) {
  return {
    flowDefinitionArn: FLOW_DEFINITION_ARN,
    humanAnswers: answers,
    humanLoopName: loopName,
    inputContent,
  };
}

/** Where A2I writes a loop's output.json. */
export function outputKey(loopName: string) {
  return `a2i-output/secondlook-test/2026/01/01/00/00/00/${loopName}/output.json`;
}

/** The A2I status-change event for a loop. */
export function statusEvent(
  loopName: string,
  status: "Completed" | "Failed" | "Stopped",
  failure: { code: string; reason: string } | null = null,
) {
  return {
    version: "0",
    id: "5b3c1d2e-0000-4000-8000-000000000000",
    "detail-type": "SageMaker A2I HumanLoop Status Change",
    source: "aws.sagemaker",
    account: "111122223333",
    time: "2026-01-01T00:03:00Z",
    region: "us-east-1",
    resources: [`arn:aws:sagemaker:us-east-1:111122223333:human-loop/${loopName}`],
    detail: {
      creationTime: "2026-01-01T00:00:00.000Z",
      failureCode: failure?.code ?? null,
      failureReason: failure?.reason ?? null,
      flowDefinitionArn: FLOW_DEFINITION_ARN,
      humanLoopArn: `arn:aws:sagemaker:us-east-1:111122223333:human-loop/${loopName}`,
      humanLoopName: loopName,
      humanLoopOutput: { outputS3Uri: `s3://${BUCKET}/${outputKey(loopName)}` },
      humanLoopStatus: status,
    },
  };
}
