/**
 * boto3 (Debian's python3-boto3) drives the local A2I: the SageMaker calls that create and describe a
 * flow definition and render a template, and every A2I runtime operation with its errors.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  answerLoop,
  type CompatCloud,
  inputFor,
  ROLE_ARN,
  startCompatCloud,
  TEMPLATE,
  WORKTEAM_ARN,
} from "./support";

const run = promisify(execFile);
const PYTHON = "/usr/bin/python3";
const SCRIPT = fileURLToPath(new URL("./boto3_call.py", import.meta.url));

interface Boto3Error {
  code: string;
  message: string;
  status: number;
}
type Outcome = { ok: Record<string, unknown> } | { error: Boto3Error } | { pages: Record<string, unknown>[] };
/** boto3 turns timestamps into datetimes; the script prints them back as `{ datetime, aware }`. */
interface Stamp {
  datetime: string;
  aware: boolean;
}

let fixture: CompatCloud;
let flowArn: string;

async function boto3(
  service: string,
  operation: string,
  params: Record<string, unknown> = {},
): Promise<Outcome> {
  const { stdout } = await run(PYTHON, [SCRIPT, service, operation, JSON.stringify(params)], {
    env: {
      PATH: process.env.PATH ?? "",
      HOME: fixture.cloud.dataDir,
      SECONDLOOK_ENDPOINT: fixture.cloud.endpoint,
    },
  });
  return JSON.parse(stdout) as Outcome;
}

async function ok(service: string, operation: string, params: Record<string, unknown> = {}) {
  const outcome = await boto3(service, operation, params);
  if (!("ok" in outcome)) throw new Error(`${operation} failed: ${JSON.stringify(outcome)}`);
  return outcome.ok;
}

async function fails(service: string, operation: string, params: Record<string, unknown> = {}) {
  const outcome = await boto3(service, operation, params);
  if (!("error" in outcome)) throw new Error(`${operation} succeeded but was expected to fail`);
  return outcome.error;
}

const runtime = (operation: string, params: Record<string, unknown> = {}) =>
  ok("sagemaker-a2i-runtime", operation, params);
const start = (name: string, text = name, flow = flowArn) =>
  runtime("start_human_loop", {
    HumanLoopName: name,
    FlowDefinitionArn: flow,
    HumanLoopInput: { InputContent: inputFor(text) },
  });

/** Creates a flow definition the way a boto3 user would, and waits for it to be Active. */
async function createFlow(name: string, lifetimeSeconds = 3_600): Promise<string> {
  const ui = await ok("sagemaker", "create_human_task_ui", {
    HumanTaskUiName: `${name}-ui`,
    UiTemplate: { Content: TEMPLATE },
  });
  const created = await ok("sagemaker", "create_flow_definition", {
    FlowDefinitionName: name,
    RoleArn: ROLE_ARN,
    OutputConfig: { S3OutputPath: `s3://${fixture.cloud.bucket}/boto3-output` },
    HumanLoopConfig: {
      WorkteamArn: WORKTEAM_ARN,
      HumanTaskUiArn: ui.HumanTaskUiArn,
      TaskTitle: "How does it sound?",
      TaskDescription: "Pick the sentiment of the text.",
      TaskKeywords: ["text"],
      TaskCount: 1,
      TaskTimeLimitInSeconds: 300,
      TaskAvailabilityLifetimeInSeconds: lifetimeSeconds,
    },
  });
  fixture.clock.advance(5_000);
  return created.FlowDefinitionArn as string;
}

beforeAll(async () => {
  fixture = await startCompatCloud();
  flowArn = await createFlow("boto3-review");
}, 60_000);

afterAll(async () => {
  await fixture?.close();
});

describe("boto3's sagemaker client", () => {
  it("creates a flow definition that is Initializing, then Active, with every HumanLoopConfig field", async () => {
    // Arrange
    await ok("sagemaker", "create_human_task_ui", {
      HumanTaskUiName: "boto3-fresh-ui",
      UiTemplate: { Content: TEMPLATE },
    });
    const ui = await ok("sagemaker", "describe_human_task_ui", { HumanTaskUiName: "boto3-fresh-ui" });

    // Act
    const created = await ok("sagemaker", "create_flow_definition", {
      FlowDefinitionName: "boto3-fresh",
      RoleArn: ROLE_ARN,
      OutputConfig: { S3OutputPath: `s3://${fixture.cloud.bucket}/boto3-output` },
      HumanLoopConfig: {
        WorkteamArn: WORKTEAM_ARN,
        HumanTaskUiArn: ui.HumanTaskUiArn,
        TaskTitle: "Fresh",
        TaskDescription: "A fresh flow.",
        TaskKeywords: ["fresh"],
        TaskCount: 3,
        TaskTimeLimitInSeconds: 120,
        TaskAvailabilityLifetimeInSeconds: 900,
      },
    });
    const initializing = await ok("sagemaker", "describe_flow_definition", {
      FlowDefinitionName: "boto3-fresh",
    });
    fixture.clock.advance(5_000);
    const active = await ok("sagemaker", "describe_flow_definition", { FlowDefinitionName: "boto3-fresh" });

    // Assert
    expect(ui.HumanTaskUiStatus).toBe("Active");
    expect((ui.UiTemplate as { Url?: string }).Url).toBeTruthy();
    expect(initializing.FlowDefinitionStatus).toBe("Initializing");
    expect(active).toMatchObject({
      FlowDefinitionArn: created.FlowDefinitionArn,
      FlowDefinitionStatus: "Active",
      HumanLoopConfig: {
        TaskCount: 3,
        TaskTimeLimitInSeconds: 120,
        TaskAvailabilityLifetimeInSeconds: 900,
        TaskTitle: "Fresh",
        TaskKeywords: ["fresh"],
      },
    });
    expect((active.CreationTime as Stamp).aware).toBe(true);
  });

  it("refuses a TaskCount above 3 and a duplicate flow definition name with named errors", async () => {
    // Arrange
    const ui = await ok("sagemaker", "describe_human_task_ui", { HumanTaskUiName: "boto3-review-ui" });
    const request = (name: string, taskCount: number) => ({
      FlowDefinitionName: name,
      RoleArn: ROLE_ARN,
      OutputConfig: { S3OutputPath: `s3://${fixture.cloud.bucket}/boto3-output` },
      HumanLoopConfig: {
        WorkteamArn: WORKTEAM_ARN,
        HumanTaskUiArn: ui.HumanTaskUiArn,
        TaskTitle: "t",
        TaskDescription: "d",
        TaskCount: taskCount,
      },
    });

    // Act
    const tooMany = await fails("sagemaker", "create_flow_definition", request("boto3-four", 4));
    const duplicate = await fails("sagemaker", "create_flow_definition", request("boto3-review", 1));

    // Assert
    expect(tooMany.code).toBe("ValidationException");
    expect(duplicate.code).toBe("ResourceInUse");
  });

  it("lists flow definitions and deletes one", async () => {
    // Arrange
    await createFlow("boto3-doomed");

    // Act
    const listed = await ok("sagemaker", "list_flow_definitions", { MaxResults: 100 });
    await ok("sagemaker", "delete_flow_definition", { FlowDefinitionName: "boto3-doomed" });
    const gone = await fails("sagemaker", "describe_flow_definition", { FlowDefinitionName: "boto3-doomed" });

    // Assert
    const names = (listed.FlowDefinitionSummaries as { FlowDefinitionName: string }[]).map(
      (s) => s.FlowDefinitionName,
    );
    expect(names).toEqual(expect.arrayContaining(["boto3-review", "boto3-doomed"]));
    expect(gone.code).toBe("ResourceNotFound");
  });

  it("renders a template with RenderUiTemplate and reports a broken one in Errors", async () => {
    // Act
    const rendered = await ok("sagemaker", "render_ui_template", {
      UiTemplate: { Content: TEMPLATE },
      Task: { Input: inputFor("it's <b>great</b>") },
      RoleArn: ROLE_ARN,
    });
    const broken = await ok("sagemaker", "render_ui_template", {
      UiTemplate: { Content: "{% if task.input.text %}<p>never closed</p>" },
      Task: { Input: inputFor("x") },
      RoleArn: ROLE_ARN,
    });

    // Assert
    expect(rendered.Errors).toEqual([]);
    expect(rendered.RenderedContent).toContain("it&#39;s &lt;b&gt;great&lt;/b&gt;");
    expect(rendered.RenderedContent).toContain("<crowd-classifier");
    expect(broken.RenderedContent).toBe("");
    expect((broken.Errors as { Code: string }[]).length).toBe(1);
  });

  it("renders grant_read_access as a signed local URL that serves the object, and refuses it unsigned", async () => {
    // Arrange
    // Outside images_for_detection/, so the upload does not start a review of its own.
    const key = "compat/render-me.png";
    await fixture.cloud.services.s3.objects.put(
      fixture.cloud.bucket,
      key,
      Buffer.from("png bytes"),
      "image/png",
    );

    // Act
    const rendered = await ok("sagemaker", "render_ui_template", {
      UiTemplate: { Content: `<img src="{{ task.input.taskObject | grant_read_access }}">` },
      Task: { Input: JSON.stringify({ taskObject: `s3://${fixture.cloud.bucket}/${key}` }) },
      RoleArn: ROLE_ARN,
    });
    const url = /src="([^"]+)"/.exec(String(rendered.RenderedContent))?.[1]?.replaceAll("&amp;", "&") ?? "";
    const signed = await fetch(url);
    const unsigned = await fetch(url.split("?")[0] ?? "");

    // Assert
    expect(rendered.Errors).toEqual([]);
    expect(url.startsWith(`${fixture.cloud.webUrl}/files/`)).toBe(true);
    expect(signed.status).toBe(200);
    expect(Buffer.from(await signed.arrayBuffer()).toString()).toBe("png bytes");
    expect(unsigned.status).toBe(403);
  });
});

describe("boto3's sagemaker-a2i-runtime client", () => {
  it("starts, describes with timezone-aware timestamps, and repeats an identical start", async () => {
    // Act
    const started = await start("boto3-start");
    const again = await start("boto3-start");
    const described = await runtime("describe_human_loop", { HumanLoopName: "boto3-start" });

    // Assert
    expect(again.HumanLoopArn).toBe(started.HumanLoopArn);
    expect(described).toMatchObject({
      HumanLoopName: "boto3-start",
      HumanLoopStatus: "InProgress",
      FlowDefinitionArn: flowArn,
    });
    expect((described.CreationTime as Stamp).aware).toBe(true);
  });

  it("answers every runtime error with the code A2I uses", async () => {
    // Arrange
    await start("boto3-taken", "first");

    // Act
    const conflict = await fails("sagemaker-a2i-runtime", "start_human_loop", {
      HumanLoopName: "boto3-taken",
      FlowDefinitionArn: flowArn,
      HumanLoopInput: { InputContent: inputFor("second") },
    });
    const badClassifier = await fails("sagemaker-a2i-runtime", "start_human_loop", {
      HumanLoopName: "boto3-classifier",
      FlowDefinitionArn: flowArn,
      HumanLoopInput: { InputContent: inputFor("x") },
      DataAttributes: { ContentClassifiers: ["FreeOfEverything"] },
    });
    const notJson = await fails("sagemaker-a2i-runtime", "start_human_loop", {
      HumanLoopName: "boto3-not-json",
      FlowDefinitionArn: flowArn,
      HumanLoopInput: { InputContent: "not json" },
    });
    const missing = await fails("sagemaker-a2i-runtime", "describe_human_loop", {
      HumanLoopName: "boto3-missing",
    });
    const inProgressDelete = await fails("sagemaker-a2i-runtime", "delete_human_loop", {
      HumanLoopName: "boto3-taken",
    });

    // Assert
    expect(conflict).toMatchObject({ code: "ConflictException", status: 409 });
    expect(badClassifier).toMatchObject({ code: "ValidationException", status: 400 });
    expect(notJson).toMatchObject({ code: "ValidationException", status: 400 });
    expect(missing).toMatchObject({ code: "ResourceNotFoundException", status: 404 });
    expect(inProgressDelete).toMatchObject({ code: "ValidationException", status: 400 });
  });

  it("stops, then deletes, a loop", async () => {
    // Arrange
    await start("boto3-stop");

    // Act
    await runtime("stop_human_loop", { HumanLoopName: "boto3-stop" });
    const stopped = await runtime("describe_human_loop", { HumanLoopName: "boto3-stop" });
    await runtime("delete_human_loop", { HumanLoopName: "boto3-stop" });
    const gone = await fails("sagemaker-a2i-runtime", "describe_human_loop", { HumanLoopName: "boto3-stop" });

    // Assert
    expect(stopped.HumanLoopStatus).toBe("Stopped");
    expect(gone.code).toBe("ResourceNotFoundException");
  });

  it("describes a completed loop with its output location and an expired one as Failed/Expired", async () => {
    // Arrange
    const shortFlow = await createFlow("boto3-short", 60);
    await start("boto3-done");
    await answerLoop(fixture.cloud, "boto3-done", { sentiment: { label: "negative" } });
    await start("boto3-expiring", "expiring", shortFlow);
    fixture.clock.advance(61_000);

    // Act
    const done = await runtime("describe_human_loop", { HumanLoopName: "boto3-done" });
    const expired = await runtime("describe_human_loop", { HumanLoopName: "boto3-expiring" });

    // Assert
    expect(done.HumanLoopStatus).toBe("Completed");
    expect((done.HumanLoopOutput as { OutputS3Uri: string }).OutputS3Uri).toMatch(
      /\/boto3-output\/boto3-review\/.*\/boto3-done\/output\.json$/,
    );
    expect(expired).toMatchObject({ HumanLoopStatus: "Failed", FailureCode: "Expired" });
  });

  it("pages with the list_human_loops paginator, sorts and filters by creation time", async () => {
    // Arrange: three loops a minute apart on a flow of their own.
    const pagingFlow = await createFlow("boto3-paging");
    const times: number[] = [];
    for (const name of ["boto3-p1", "boto3-p2", "boto3-p3"]) {
      times.push(fixture.clock.now().getTime());
      await start(name, name, pagingFlow);
      fixture.clock.advance(60_000);
    }
    const names = (page: Record<string, unknown>) =>
      (page.HumanLoopSummaries as { HumanLoopName: string }[]).map((s) => s.HumanLoopName);

    // Act
    const paged = await boto3("sagemaker-a2i-runtime", "paginate:list_human_loops", {
      FlowDefinitionArn: pagingFlow,
      SortOrder: "Ascending",
      PaginationConfig: { PageSize: 2 },
    });
    const descending = await runtime("list_human_loops", {
      FlowDefinitionArn: pagingFlow,
      SortOrder: "Descending",
    });
    const window = await runtime("list_human_loops", {
      FlowDefinitionArn: pagingFlow,
      SortOrder: "Ascending",
      CreationTimeAfter: new Date((times[0] ?? 0) + 30_000).toISOString(),
      CreationTimeBefore: new Date((times[2] ?? 0) - 30_000).toISOString(),
    });
    const badToken = await fails("sagemaker-a2i-runtime", "list_human_loops", {
      FlowDefinitionArn: pagingFlow,
      NextToken: "not-a-token",
    });

    // Assert
    if (!("pages" in paged)) throw new Error(`paginator failed: ${JSON.stringify(paged)}`);
    expect(paged.pages.map(names)).toEqual([["boto3-p1", "boto3-p2"], ["boto3-p3"]]);
    expect(names(descending)).toEqual(["boto3-p3", "boto3-p2", "boto3-p1"]);
    expect(names(window)).toEqual(["boto3-p2"]);
    expect(badToken.code).toBe("ValidationException");
  });
});
