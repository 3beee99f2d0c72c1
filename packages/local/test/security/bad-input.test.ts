/**
 * The bad-input corpus: malformed, hostile and oversized requests at every entry point of the local
 * cloud. Each case must get a clear, named 4xx error; after each one the process still serves; and
 * after the whole corpus not one stored file changed (the data folder's file list and hashes).
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { request } from "node:http";
import { join, relative } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { Prefixes } from "@secondlook/core/blueprint";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cloudClients } from "../../src/demo/bootstrap";
import { startTrainedCloud, type TrainedCloud } from "../e2e/support";
import type { Browserish } from "../portal/fakes";
import { signedInReviewer } from "../reliability/support";

let fixture: TrainedCloud;
let reviewer: Browserish;
let reviewerCsrf: string;
let versionArn: string;
let before: Map<string, string>;

interface Reply {
  status: number;
  /** The named error the service answered with (JSON `__type`, XML `<Code>`, header, or portal `error`). */
  code: string;
  body: string;
}

/** Sends one raw HTTP request (no client-side URL normalisation, so `..` reaches the server). */
function raw(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer | string,
): Promise<Reply> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method, path, headers: { ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, code: errorCode(text, res.headers), body: text });
        });
      },
    );
    req.on("error", reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

function errorCode(text: string, headers: Record<string, string | string[] | undefined>): string {
  const header = headers["x-amzn-errortype"];
  if (typeof header === "string") return header.split(":")[0] ?? header;
  const xml = /<Code>([^<]+)<\/Code>/.exec(text);
  if (xml?.[1]) return xml[1];
  try {
    const json = JSON.parse(text) as { __type?: string; code?: string; error?: string };
    const name = json.__type ?? json.code ?? json.error ?? "";
    return name.split("#").pop() ?? name;
  } catch {
    return "";
  }
}

const json = (target: string, body: unknown, version = "1.1") => ({
  headers: { "content-type": `application/x-amz-json-${version}`, "x-amz-target": target },
  body: typeof body === "string" ? body : JSON.stringify(body),
});

/** What a signed SDK request carries; the local cloud accepts any credentials but not anonymous calls. */
const SIGNED = {
  authorization:
    "AWS4-HMAC-SHA256 Credential=secondlook/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000",
  "x-amz-date": "20260101T000000Z",
  "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
};
const edge = (method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string) =>
  raw(fixture.cloud.endpoint, method, path, { ...SIGNED, ...headers }, body);
const api = (target: string, body: unknown, version?: string) => {
  const { headers, body: text } = json(target, body, version);
  return edge("POST", "/", headers, text);
};
const a2iRest = (method: string, path: string, body?: unknown) =>
  edge(
    method,
    path,
    { "content-type": "application/json" },
    body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  );
const detect = (image: Record<string, unknown>, arn = versionArn) =>
  api("RekognitionService.DetectCustomLabels", { ProjectVersionArn: arn, Image: image, MinConfidence: 0 });
const stored = (key: string) => ({ S3Object: { Bucket: fixture.cloud.bucket, Name: key } });
const b = () => fixture.cloud.bucket;

interface Case {
  name: string;
  send: () => Promise<Reply>;
  status: number | number[];
  code?: RegExp;
}

/** Images that are not images Custom Labels accepts, uploaded before the snapshot. */
async function badImages() {
  const png = (width: number, height: number) =>
    sharp({ create: { width, height, channels: 3, background: "#3366aa" } })
      .png()
      .toBuffer();
  const good = await png(128, 128);
  return {
    "zero-bytes.png": Buffer.alloc(0),
    "corrupt.png": Buffer.concat([good.subarray(0, 16), Buffer.alloc(400, 0x5a)]),
    "truncated.png": good.subarray(0, Math.floor(good.length / 2)),
    "not-an-image.png": Buffer.from("GIF89a? no, just text pretending to be an image"),
    "wrong-format.gif": await sharp({ create: { width: 128, height: 128, channels: 3, background: "#000" } })
      .gif()
      .toBuffer(),
    "wide-20-to-1.png": await png(2100, 100),
    "too-large.png": await png(4200, 4200),
    "too-small.png": await png(8, 8),
  };
}

const CASES: Case[] = [
  // S3 REST-XML
  {
    name: "S3 GetObject with ../ segments does not escape the bucket",
    send: () => edge("GET", `/${b()}/..%2F..%2F..%2Fetc%2Fpasswd`),
    status: 404,
    code: /NoSuchKey/,
  },
  {
    name: "S3 GetObject with raw ../ path segments does not escape the bucket",
    send: () => edge("GET", `/${b()}/../../../etc/passwd`),
    status: [400, 403, 404],
    code: /NoSuch|Invalid|AccessDenied/,
  },
  {
    name: "S3 PutObject with a control character in the key",
    send: () => edge("PUT", `/${b()}/${Prefixes.detection}bad%01name.png`, {}, "x"),
    status: 400,
    code: /InvalidObjectName/,
  },
  {
    name: "S3 PutObject with a DEL character in the key",
    send: () => edge("PUT", `/${b()}/bad%7Fname`, {}, "x"),
    status: 400,
    code: /InvalidObjectName/,
  },
  {
    name: "S3 PutObject with a key over 1024 bytes",
    send: () => edge("PUT", `/${b()}/${"k".repeat(1100)}`, {}, "x"),
    status: 400,
    code: /KeyTooLong/,
  },
  {
    name: "S3 PutObject into a bucket that does not exist",
    send: () => edge("PUT", "/no-such-bucket-here/x.png", {}, "x"),
    status: 404,
    code: /NoSuchBucket/,
  },
  {
    name: "S3 PutObject into an invalid bucket name",
    send: () => edge("PUT", "/Bad_Bucket!/x.png", {}, "x"),
    status: [400, 404],
    code: /InvalidBucketName|NoSuchBucket/,
  },
  {
    name: "S3 PutObject with a truncated aws-chunked body",
    send: () =>
      edge(
        "PUT",
        `/${b()}/chunked.png`,
        {
          "content-encoding": "aws-chunked",
          "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
          "x-amz-decoded-content-length": "10",
        },
        "a;chunk-signature=00\r\n01234",
      ),
    status: 400,
    code: /IncompleteBody|InvalidRequest/,
  },
  {
    name: "S3 PutObject with a malformed aws-chunked size line",
    send: () =>
      edge(
        "PUT",
        `/${b()}/chunked.png`,
        {
          "content-encoding": "aws-chunked",
          "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
          "x-amz-decoded-content-length": "1",
        },
        "zz\r\nx\r\n0\r\n\r\n",
      ),
    status: 400,
    code: /InvalidRequest|IncompleteBody/,
  },
  {
    name: "S3 conditional PutObject (If-None-Match: *) over an existing object",
    send: () => edge("PUT", `/${b()}/corpus/too-small.png`, { "if-none-match": "*" }, "replacement"),
    status: 412,
    code: /PreconditionFailed/,
  },
  {
    name: "S3 CopyObject from a missing source",
    send: () => edge("PUT", `/${b()}/copy-target.png`, { "x-amz-copy-source": `/${b()}/does/not/exist.png` }),
    status: 404,
    code: /NoSuchKey/,
  },
  {
    name: "S3 CopyObject from a ../ source outside the bucket",
    send: () => edge("PUT", `/${b()}/copy-target.png`, { "x-amz-copy-source": `/${b()}/../../etc/passwd` }),
    status: [400, 404],
    code: /NoSuch|Invalid/,
  },
  {
    name: "S3 ListObjectsV2 with a negative max-keys",
    send: () => edge("GET", `/${b()}?list-type=2&max-keys=-1`),
    status: 400,
    code: /InvalidArgument/,
  },
  {
    name: "S3 CompleteMultipartUpload with an unknown upload id",
    send: () =>
      edge(
        "POST",
        `/${b()}/mp.png?uploadId=nope`,
        { "content-type": "application/xml" },
        "<CompleteMultipartUpload></CompleteMultipartUpload>",
      ),
    status: [400, 404],
    code: /NoSuchUpload|MalformedXML|InvalidPart/,
  },
  {
    name: "S3 GetObject with an unsatisfiable range",
    send: () => edge("GET", `/${b()}/corpus/too-small.png`, { range: "bytes=999999-1000000" }),
    status: 416,
    code: /InvalidRange/,
  },
  // Step Functions JSON 1.0
  {
    name: "Step Functions request that is not JSON",
    send: () => api("AWSStepFunctions.StartExecution", "{not json", "1.0"),
    status: 400,
    code: /Serialization|Validation|InvalidRequest/,
  },
  {
    name: "Step Functions StartExecution with input that is not JSON",
    send: () =>
      api(
        "AWSStepFunctions.StartExecution",
        { stateMachineArn: fixture.cloud.stateMachineArns.reviewImage, input: "{oops" },
        "1.0",
      ),
    status: 400,
    code: /InvalidExecutionInput/,
  },
  {
    name: "Step Functions StartExecution with an oversize input",
    send: () =>
      api(
        "AWSStepFunctions.StartExecution",
        {
          stateMachineArn: fixture.cloud.stateMachineArns.reviewImage,
          input: JSON.stringify({ pad: "x".repeat(300_000) }),
        },
        "1.0",
      ),
    status: 400,
    code: /InvalidExecutionInput|Validation/,
  },
  {
    name: "Step Functions StartExecution on an unknown state machine",
    send: () =>
      api(
        "AWSStepFunctions.StartExecution",
        { stateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:nope" },
        "1.0",
      ),
    status: 400,
    code: /StateMachineDoesNotExist/,
  },
  {
    name: "Step Functions StartExecution with an HTML execution name",
    send: () =>
      api(
        "AWSStepFunctions.StartExecution",
        { stateMachineArn: fixture.cloud.stateMachineArns.reviewImage, name: "<script>alert(1)</script>" },
        "1.0",
      ),
    status: 400,
    code: /InvalidName/,
  },
  {
    name: "Step Functions SendTaskSuccess with a forged token",
    send: () => api("AWSStepFunctions.SendTaskSuccess", { taskToken: "forged-token", output: "{}" }, "1.0"),
    status: 400,
    code: /InvalidToken|TaskDoesNotExist|TaskTimedOut/,
  },
  {
    name: "Step Functions SendTaskSuccess with output that is not JSON",
    send: () =>
      api("AWSStepFunctions.SendTaskSuccess", { taskToken: "forged-token", output: "{oops" }, "1.0"),
    status: 400,
    code: /InvalidOutput|InvalidToken/,
  },
  {
    name: "Step Functions DescribeExecution with a malformed ARN",
    send: () => api("AWSStepFunctions.DescribeExecution", { executionArn: "../../etc/passwd" }, "1.0"),
    status: 400,
    code: /InvalidArn|ExecutionDoesNotExist/,
  },
  {
    name: "Step Functions CreateStateMachine with an invalid definition",
    send: () =>
      api(
        "AWSStepFunctions.CreateStateMachine",
        {
          name: "broken",
          definition: '{"StartAt":"Nowhere","States":{}}',
          roleArn: "arn:aws:iam::000000000000:role/x",
        },
        "1.0",
      ),
    status: 400,
    code: /InvalidDefinition/,
  },
  {
    name: "Step Functions operation that does not exist",
    send: () => api("AWSStepFunctions.DropAllTables", {}, "1.0"),
    status: 400,
    code: /UnknownOperation|InvalidAction/,
  },
  // A2I runtime REST-JSON
  {
    name: "A2I StartHumanLoop with an invalid loop name",
    send: () =>
      a2iRest("POST", "/human-loops", {
        HumanLoopName: "Bad_Name!",
        FlowDefinitionArn: fixture.cloud.flowDefinitionArn,
        HumanLoopInput: { InputContent: "{}" },
      }),
    status: 400,
    code: /Validation/,
  },
  {
    name: "A2I StartHumanLoop with InputContent that is not JSON",
    send: () =>
      a2iRest("POST", "/human-loops", {
        HumanLoopName: "bad-input",
        FlowDefinitionArn: fixture.cloud.flowDefinitionArn,
        HumanLoopInput: { InputContent: "{oops" },
      }),
    status: 400,
    code: /Validation/,
  },
  {
    name: "A2I StartHumanLoop with an oversize InputContent",
    send: () =>
      a2iRest("POST", "/human-loops", {
        HumanLoopName: "too-big",
        FlowDefinitionArn: fixture.cloud.flowDefinitionArn,
        HumanLoopInput: { InputContent: JSON.stringify({ pad: "x".repeat(3_200_000) }) },
      }),
    status: [400, 413],
    code: /Validation|TooLarge/,
  },
  {
    name: "A2I StartHumanLoop on an unknown flow definition",
    send: () =>
      a2iRest("POST", "/human-loops", {
        HumanLoopName: "orphan",
        FlowDefinitionArn: "arn:aws:sagemaker:us-east-1:000000000000:flow-definition/nope",
        HumanLoopInput: { InputContent: "{}" },
      }),
    status: [400, 404],
    code: /ResourceNotFound|Validation/,
  },
  {
    name: "A2I request body that is not JSON",
    send: () => a2iRest("POST", "/human-loops", "{not json"),
    status: 400,
    code: /Validation|Serialization/,
  },
  {
    name: "A2I DescribeHumanLoop of a loop that does not exist",
    send: () => a2iRest("GET", "/human-loops/no-such-loop"),
    status: 404,
    code: /ResourceNotFound/,
  },
  // SageMaker control plane JSON 1.1
  {
    name: "SageMaker CreateFlowDefinition with an invalid name",
    send: () =>
      api("SageMaker.CreateFlowDefinition", {
        FlowDefinitionName: "<b>bad</b>",
        RoleArn: "arn:aws:iam::000000000000:role/x",
        OutputConfig: { S3OutputPath: `s3://${b()}/x` },
        HumanLoopConfig: {},
      }),
    status: 400,
    code: /Validation/,
  },
  {
    name: "SageMaker CreateHumanTaskUi with a template that is not Liquid",
    send: () =>
      api("SageMaker.CreateHumanTaskUi", {
        HumanTaskUiName: "broken-ui",
        UiTemplate: { Content: "{% for x in %}<crowd-form></crowd-form>" },
      }),
    status: 400,
    code: /Validation/,
  },
  {
    name: "SageMaker RenderUiTemplate with Task.Input that is not JSON",
    send: () =>
      api("SageMaker.RenderUiTemplate", {
        UiTemplate: { Content: "<crowd-form>{{ task.input.x }}</crowd-form>" },
        Task: { Input: "{oops" },
        RoleArn: "arn:aws:iam::000000000000:role/x",
      }),
    status: 400,
    code: /Validation/,
  },
  {
    name: "SageMaker DescribeFlowDefinition of an unknown flow",
    send: () => api("SageMaker.DescribeFlowDefinition", { FlowDefinitionName: "no-such-flow" }),
    status: [400, 404],
    code: /ResourceNotFound/,
  },
  // Rekognition Custom Labels: the images
  {
    name: "Rekognition DetectCustomLabels on a zero-byte image",
    send: () => detect(stored("corpus/zero-bytes.png")),
    status: 400,
    code: /InvalidImageFormat|InvalidParameter/,
  },
  {
    name: "Rekognition DetectCustomLabels on a corrupt PNG",
    send: () => detect(stored("corpus/corrupt.png")),
    status: 400,
    code: /InvalidImageFormat/,
  },
  {
    name: "Rekognition DetectCustomLabels on a truncated PNG",
    send: () => detect(stored("corpus/truncated.png")),
    status: 400,
    code: /InvalidImageFormat/,
  },
  {
    name: "Rekognition DetectCustomLabels on text posing as an image",
    send: () => detect(stored("corpus/not-an-image.png")),
    status: 400,
    code: /InvalidImageFormat/,
  },
  {
    name: "Rekognition DetectCustomLabels on a GIF (wrong format)",
    send: () => detect(stored("corpus/wrong-format.gif")),
    status: 400,
    code: /InvalidImageFormat/,
  },
  {
    name: "Rekognition DetectCustomLabels on a 21:1 image",
    send: () => detect(stored("corpus/wide-20-to-1.png")),
    status: 400,
    code: /InvalidImageFormat|InvalidParameter|ImageTooLarge/,
  },
  {
    name: "Rekognition DetectCustomLabels on an image over 4096 px",
    send: () => detect(stored("corpus/too-large.png")),
    status: 400,
    code: /ImageTooLarge|InvalidImageFormat|InvalidParameter/,
  },
  {
    name: "Rekognition DetectCustomLabels on an 8 × 8 image",
    send: () => detect(stored("corpus/too-small.png")),
    status: 400,
    code: /InvalidImageFormat|InvalidParameter/,
  },
  {
    name: "Rekognition DetectCustomLabels on inline bytes that are not base64 of an image",
    send: () => detect({ Bytes: Buffer.from("<script>alert(1)</script>").toString("base64") }),
    status: 400,
    code: /InvalidImageFormat/,
  },
  {
    name: "Rekognition DetectCustomLabels on a missing S3 object",
    send: () => detect(stored("corpus/missing.png")),
    status: 400,
    code: /InvalidS3Object/,
  },
  {
    name: "Rekognition DetectCustomLabels on a ../ S3 key",
    send: () => detect(stored("../../../etc/passwd")),
    status: 400,
    code: /InvalidS3Object|InvalidParameter/,
  },
  {
    name: "Rekognition DetectCustomLabels on an unknown model version",
    send: () =>
      detect(
        stored("corpus/too-small.png"),
        "arn:aws:rekognition:us-east-1:000000000000:project/nope/version/nope/1",
      ),
    status: [400, 404],
    code: /ResourceNotFound|InvalidParameter|Validation/,
  },
  {
    name: "Rekognition CreateProjectVersion with a manifest that does not exist",
    send: () =>
      api("RekognitionService.CreateProjectVersion", {
        ProjectArn: "arn:aws:rekognition:us-east-1:000000000000:project/nope/1",
        VersionName: "x",
        OutputConfig: { S3Bucket: b(), S3KeyPrefix: "out/" },
        TrainingData: {
          Assets: [{ GroundTruthManifest: { S3Object: { Bucket: b(), Name: "manifests/none.manifest" } } }],
        },
      }),
    status: [400, 404],
    code: /ResourceNotFound|InvalidParameter|InvalidS3Object|Validation/,
  },
  // SSM
  {
    name: "SSM PutParameter with an invalid name",
    send: () => api("AmazonSSM.PutParameter", { Name: "bad name <x>", Value: "v", Type: "String" }),
    status: 400,
    code: /Validation|InvalidParameter/,
  },
  {
    name: "SSM request body that is not JSON",
    send: () => api("AmazonSSM.GetParameter", "{oops"),
    status: 400,
    code: /Serialization|Validation/,
  },
  // Reviewer portal
  {
    name: "Portal sign-in without a CSRF token",
    send: () =>
      raw(
        fixture.cloud.webUrl,
        "POST",
        "/sign-in",
        { "content-type": "application/x-www-form-urlencoded" },
        "username=a&password=b",
      ),
    status: 403,
  },
  {
    name: "Portal claim without a session",
    send: () =>
      raw(
        fixture.cloud.webUrl,
        "POST",
        "/work",
        { "content-type": "application/x-www-form-urlencoded" },
        "_csrf=x",
      ),
    status: [302, 303, 401, 403],
  },
  {
    name: "Portal submit with a body that is not JSON",
    send: () => portalPost("/tasks/none/submit", "{oops"),
    status: [400, 409],
    code: /Invalid|TaskUnavailable/,
  },
  {
    name: "Portal submit for a task the reviewer does not hold",
    send: () => portalPost("/tasks/not-mine/submit", JSON.stringify({ category: { label: "x" } })),
    status: 409,
    code: /TaskUnavailable/,
  },
  {
    name: "Portal submit with an oversize answer",
    send: () => portalPost("/tasks/not-mine/submit", JSON.stringify({ pad: "x".repeat(1_100_000) })),
    status: 413,
  },
  {
    name: "Portal file URL with ../ and no signature",
    send: () => raw(fixture.cloud.webUrl, "GET", `/files/${b()}/..%2F..%2Fportal%2Faccounts.json`),
    status: 403,
  },
  {
    name: "Portal file URL with a forged signature",
    send: () =>
      raw(fixture.cloud.webUrl, "GET", `/files/${b()}/corpus/too-small.png?expires=9999999999&sig=forged`),
    status: 403,
  },
  {
    name: "Portal task page for a script-named loop",
    send: () =>
      raw(fixture.cloud.webUrl, "GET", "/tasks/%3Cscript%3Ealert(1)%3C%2Fscript%3E", {
        cookie: reviewer.cookieHeader(),
      }),
    status: [302, 303, 400, 404],
  },
];

async function portalPost(path: string, body: string): Promise<Reply> {
  return raw(
    fixture.cloud.webUrl,
    "POST",
    path,
    { "content-type": "application/json", "x-csrf-token": reviewerCsrf, cookie: reviewer.cookieHeader() },
    body,
  );
}

/** Every file under the data folder with the hash of its bytes. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(
      relative(dir, path),
      createHash("sha256")
        .update(await readFile(path))
        .digest("hex"),
    );
  }
  return files;
}

beforeAll(async () => {
  fixture = await startTrainedCloud();
  reviewer = await signedInReviewer(fixture.cloud, "mallory");
  reviewerCsrf = await reviewer.csrfFrom("/");
  const { s3, ssm } = cloudClients(fixture.cloud.endpoint);
  for (const [name, body] of Object.entries(await badImages())) {
    await s3.send(new PutObjectCommand({ Bucket: fixture.cloud.bucket, Key: `corpus/${name}`, Body: body }));
  }
  const { GetParameterCommand } = await import("@aws-sdk/client-ssm");
  const active = await ssm.send(
    new GetParameterCommand({ Name: `${fixture.cloud.settingsPath}active-model-version-arn` }),
  );
  versionArn = active.Parameter?.Value ?? "";
  await fixture.cloud.drain();
  before = await snapshot(fixture.cloud.dataDir);
}, 180_000);

afterAll(async () => {
  await fixture?.close();
});

describe("the bad-input corpus (protects: hostile input never crashes the cloud or changes stored data)", () => {
  it("has at least 40 cases", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  it.each(CASES)("$name: a named error, and the cloud keeps serving", async ({ send, status, code }) => {
    // Act
    const reply = await send();

    // Assert
    const statuses = Array.isArray(status) ? status : [status];
    expect(statuses, `${reply.status} ${reply.code} ${reply.body.slice(0, 300)}`).toContain(reply.status);
    if (code) expect(reply.code, reply.body.slice(0, 300)).toMatch(code);
    expect(reply.body).not.toMatch(/\n\s+at .+\(.*:\d+:\d+\)/);
    const alive = await edge("HEAD", `/${fixture.cloud.bucket}`);
    expect(alive.status).toBe(200);
  });

  it("leaves every stored file as it was after the whole corpus", async () => {
    // Arrange
    await fixture.cloud.drain();

    // Act
    const after = await snapshot(fixture.cloud.dataDir);

    // Assert
    expect(after).toEqual(before);
  });
});
