/**
 * Debian's AWS CLI v2 drives every A2I runtime operation against a started local cloud through
 * --endpoint-url, exactly as an operator would against a deployed stage.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  answerLoop,
  aWorker,
  type CompatCloud,
  claimLoop,
  createActiveFlow,
  inputFor,
  startCompatCloud,
} from "./support";

const run = promisify(execFile);
/** Debian's awscli v2 (a pyenv shim may shadow it on PATH). */
const AWS = "/usr/bin/aws";

let fixture: CompatCloud;
let homeDir: string;
let flowArn: string;

function cliEnv() {
  return {
    PATH: process.env.PATH ?? "",
    HOME: homeDir,
    AWS_ACCESS_KEY_ID: "cli",
    AWS_SECRET_ACCESS_KEY: "cli-secret",
    AWS_CONFIG_FILE: join(homeDir, "config"),
    AWS_SHARED_CREDENTIALS_FILE: join(homeDir, "credentials"),
    AWS_PAGER: "",
    AWS_MAX_ATTEMPTS: "1",
  };
}

/** Runs `aws sagemaker-a2i-runtime <command> …` (or any other service) and parses its JSON output. */
async function aws(...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(
    AWS,
    ["--endpoint-url", fixture.cloud.endpoint, "--region", "us-east-1", "--output", "json", ...args],
    { env: cliEnv() },
  );
  return stdout.trim() === "" ? {} : (JSON.parse(stdout) as Record<string, unknown>);
}

/** Runs a command that must fail; resolves to the CLI's exit code and error line. */
async function awsFails(...args: string[]): Promise<{ exitCode: number; stderr: string }> {
  try {
    await aws(...args);
  } catch (error) {
    const failed = error as { code?: number; stderr?: string };
    return { exitCode: failed.code ?? -1, stderr: failed.stderr ?? "" };
  }
  throw new Error(`aws ${args.join(" ")} succeeded but was expected to fail`);
}

const a2i = (command: string, ...args: string[]) => aws("sagemaker-a2i-runtime", command, ...args);
const a2iFails = (command: string, ...args: string[]) => awsFails("sagemaker-a2i-runtime", command, ...args);

async function start(name: string, text = name, flow = flowArn, ...extra: string[]) {
  return a2i(
    "start-human-loop",
    "--human-loop-name",
    name,
    "--flow-definition-arn",
    flow,
    "--human-loop-input",
    JSON.stringify({ InputContent: inputFor(text) }),
    ...extra,
  );
}

const names = (listing: Record<string, unknown>) =>
  (listing.HumanLoopSummaries as { HumanLoopName: string }[]).map((s) => s.HumanLoopName);

beforeAll(async () => {
  fixture = await startCompatCloud();
  homeDir = await mkdtemp(join(tmpdir(), "secondlook-a2i-cli-home-"));
  flowArn = await createActiveFlow(fixture, "cli-review");
}, 60_000);

afterAll(async () => {
  await fixture?.close();
  if (homeDir) await rm(homeDir, { recursive: true, force: true });
});

describe("the AWS CLI's sagemaker-a2i-runtime commands", () => {
  it("starts a loop and describes it InProgress with ISO-8601 times and its output location", async () => {
    // Arrange
    const before = fixture.clock.now().getTime();

    // Act
    const started = await start("cli-start");
    const described = await a2i("describe-human-loop", "--human-loop-name", "cli-start");

    // Assert
    expect(started.HumanLoopArn).toBe("arn:aws:sagemaker:us-east-1:000000000000:human-loop/cli-start");
    expect(described).toMatchObject({
      HumanLoopName: "cli-start",
      HumanLoopArn: started.HumanLoopArn,
      HumanLoopStatus: "InProgress",
      FlowDefinitionArn: flowArn,
    });
    expect(String(described.CreationTime)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    expect(Date.parse(String(described.CreationTime))).toBeGreaterThanOrEqual(before - 1_000);
    expect((described.HumanLoopOutput as { OutputS3Uri: string }).OutputS3Uri).toMatch(
      new RegExp(
        `^s3://${fixture.cloud.bucket}/compat-output/cli-review/\\d{4}/\\d\\d/\\d\\d/\\d\\d/\\d\\d/\\d\\d/cli-start/output\\.json$`,
      ),
    );
  });

  it("accepts a repeated identical start and refuses the same name with other input as ConflictException", async () => {
    // Arrange
    const first = await start("cli-conflict", "same text");

    // Act
    const repeated = await start("cli-conflict", "same text");
    const conflict = await a2iFails(
      "start-human-loop",
      "--human-loop-name",
      "cli-conflict",
      "--flow-definition-arn",
      flowArn,
      "--human-loop-input",
      JSON.stringify({ InputContent: inputFor("different text") }),
    );

    // Assert
    expect(repeated.HumanLoopArn).toBe(first.HumanLoopArn);
    expect(conflict.exitCode).toBe(254);
    expect(conflict.stderr).toContain("(ConflictException) when calling the StartHumanLoop operation");
  });

  it("passes content classifiers through and refuses an unknown one, a bad name and an unknown flow", async () => {
    // Arrange
    const classifiers = ["FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent"];

    // Act
    const accepted = await start(
      "cli-classified",
      "classified",
      flowArn,
      "--data-attributes",
      JSON.stringify({ ContentClassifiers: classifiers }),
    );
    const badClassifier = await a2iFails(
      "start-human-loop",
      "--human-loop-name",
      "cli-bad-classifier",
      "--flow-definition-arn",
      flowArn,
      "--human-loop-input",
      JSON.stringify({ InputContent: inputFor("x") }),
      "--data-attributes",
      JSON.stringify({ ContentClassifiers: ["FreeOfEverything"] }),
    );
    const badName = await a2iFails(
      "start-human-loop",
      "--human-loop-name",
      "Not_A_Valid_Name",
      "--flow-definition-arn",
      flowArn,
      "--human-loop-input",
      JSON.stringify({ InputContent: inputFor("x") }),
    );
    const unknownFlow = await a2iFails(
      "start-human-loop",
      "--human-loop-name",
      "cli-unknown-flow",
      "--flow-definition-arn",
      "arn:aws:sagemaker:us-east-1:000000000000:flow-definition/nowhere",
      "--human-loop-input",
      JSON.stringify({ InputContent: inputFor("x") }),
    );

    // Assert
    expect(accepted.HumanLoopArn).toMatch(/human-loop\/cli-classified$/);
    expect(badClassifier.stderr).toContain("(ValidationException)");
    expect(badName.stderr).toContain("(ValidationException)");
    // StartHumanLoop has no ResourceNotFoundException in A2I's API: an unknown flow is a ValidationException.
    expect(unknownFlow.stderr).toContain("(ValidationException)");
    expect(unknownFlow.stderr).toContain("does not exist");
  });

  it("describes, stops and deletes a missing loop as ResourceNotFoundException", async () => {
    // Act
    const described = await a2iFails("describe-human-loop", "--human-loop-name", "cli-never-started");
    const stopped = await a2iFails("stop-human-loop", "--human-loop-name", "cli-never-started");
    const deleted = await a2iFails("delete-human-loop", "--human-loop-name", "cli-never-started");

    // Assert
    for (const failure of [described, stopped, deleted]) {
      expect(failure.stderr).toContain("(ResourceNotFoundException)");
    }
  });

  it("stops a loop nobody holds at once and deletes it only when it is no longer in progress", async () => {
    // Arrange
    await start("cli-stop-delete");

    // Act
    const earlyDelete = await a2iFails("delete-human-loop", "--human-loop-name", "cli-stop-delete");
    await a2i("stop-human-loop", "--human-loop-name", "cli-stop-delete");
    const afterStop = await a2i("describe-human-loop", "--human-loop-name", "cli-stop-delete");
    await a2i("delete-human-loop", "--human-loop-name", "cli-stop-delete");
    const afterDelete = await a2iFails("describe-human-loop", "--human-loop-name", "cli-stop-delete");

    // Assert
    expect(earlyDelete.stderr).toContain("(ValidationException) when calling the DeleteHumanLoop operation");
    expect(afterStop.HumanLoopStatus).toBe("Stopped");
    expect(afterDelete.stderr).toContain("(ResourceNotFoundException)");
  });

  it("reports Stopping while a reviewer holds the task, then Stopped once they submit", async () => {
    // Arrange
    const flow = await createActiveFlow(fixture, "cli-held");
    await start("cli-held-loop", "held", flow);
    const worker = aWorker("holder");
    await claimLoop(fixture.cloud, "cli-held-loop", worker);

    // Act
    await a2i("stop-human-loop", "--human-loop-name", "cli-held-loop");
    const whileHeld = await a2i("describe-human-loop", "--human-loop-name", "cli-held-loop");
    await fixture.cloud.services.a2i.queue.submit(worker, "cli-held-loop", {
      sentiment: { label: "positive" },
    });
    const afterSubmit = await a2i("describe-human-loop", "--human-loop-name", "cli-held-loop");

    // Assert
    expect(whileHeld.HumanLoopStatus).toBe("Stopping");
    expect(afterSubmit.HumanLoopStatus).toBe("Stopped");
  });

  it("describes a completed loop and s3 cp fetches the output.json its OutputS3Uri names", async () => {
    // Arrange
    await start("cli-completed", "a lovely day");
    await answerLoop(fixture.cloud, "cli-completed", { sentiment: { label: "positive" } });
    const target = join(homeDir, "output.json");

    // Act
    const described = await a2i("describe-human-loop", "--human-loop-name", "cli-completed");
    const uri = (described.HumanLoopOutput as { OutputS3Uri: string }).OutputS3Uri;
    await run(
      AWS,
      ["--endpoint-url", fixture.cloud.endpoint, "--region", "us-east-1", "s3", "cp", uri, target],
      {
        env: cliEnv(),
      },
    );
    const output = JSON.parse(await readFile(target, "utf8")) as {
      humanAnswers: { answerContent: unknown }[];
      inputContent: unknown;
    };

    // Assert
    expect(described.HumanLoopStatus).toBe("Completed");
    expect(output.humanAnswers.map((a) => a.answerContent)).toEqual([{ sentiment: { label: "positive" } }]);
    expect(output.inputContent).toEqual(JSON.parse(inputFor("a lovely day")));
  });

  it("reports an expired loop as Failed with FailureCode Expired", async () => {
    // Arrange
    const flow = await createActiveFlow(fixture, "cli-short-lived", {
      taskAvailabilityLifetimeInSeconds: 60,
    });
    await start("cli-expiring", "soon gone", flow);

    // Act
    fixture.clock.advance(61_000);
    const described = await a2i("describe-human-loop", "--human-loop-name", "cli-expiring");

    // Assert
    expect(described).toMatchObject({ HumanLoopStatus: "Failed", FailureCode: "Expired" });
    expect(String(described.FailureReason)).not.toBe("");
  });
});

describe("list-human-loops from the AWS CLI", () => {
  let pagingFlow: string;
  let times: number[];

  beforeAll(async () => {
    // Three loops a minute apart on a flow of their own.
    pagingFlow = await createActiveFlow(fixture, "cli-paging");
    times = [];
    for (const name of ["page-a", "page-b", "page-c"]) {
      times.push(fixture.clock.now().getTime());
      await start(name, name, pagingFlow);
      fixture.clock.advance(60_000);
    }
  }, 30_000);

  it("sorts by creation time in both orders", async () => {
    // Act
    const ascending = await a2i(
      "list-human-loops",
      "--flow-definition-arn",
      pagingFlow,
      "--sort-order",
      "Ascending",
    );
    const descending = await a2i(
      "list-human-loops",
      "--flow-definition-arn",
      pagingFlow,
      "--sort-order",
      "Descending",
    );

    // Assert
    expect(names(ascending)).toEqual(["page-a", "page-b", "page-c"]);
    expect(names(descending)).toEqual(["page-c", "page-b", "page-a"]);
    expect((ascending.HumanLoopSummaries as { HumanLoopStatus: string }[])[0]?.HumanLoopStatus).toBe(
      "InProgress",
    );
  });

  it("follows NextToken page by page with --page-size and resumes with --starting-token", async () => {
    // Act: page size 1 makes the CLI follow the service's NextToken across three requests.
    const all = await a2i(
      "list-human-loops",
      "--flow-definition-arn",
      pagingFlow,
      "--sort-order",
      "Ascending",
      "--page-size",
      "1",
    );
    const first = await a2i(
      "list-human-loops",
      "--flow-definition-arn",
      pagingFlow,
      "--sort-order",
      "Ascending",
      "--max-items",
      "2",
    );
    const rest = await a2i(
      "list-human-loops",
      "--flow-definition-arn",
      pagingFlow,
      "--sort-order",
      "Ascending",
      "--starting-token",
      String(first.NextToken),
    );

    // Assert
    expect(names(all)).toEqual(["page-a", "page-b", "page-c"]);
    expect(names(first)).toEqual(["page-a", "page-b"]);
    expect(typeof first.NextToken).toBe("string");
    expect(names(rest)).toEqual(["page-c"]);
  });

  it("filters by creation time after and before", async () => {
    // Arrange
    const afterFirst = new Date((times[0] ?? 0) + 30_000).toISOString();
    const beforeLast = new Date((times[2] ?? 0) - 30_000).toISOString();

    // Act
    const after = await a2i(
      "list-human-loops",
      "--flow-definition-arn",
      pagingFlow,
      "--creation-time-after",
      afterFirst,
      "--sort-order",
      "Ascending",
    );
    const before = await a2i(
      "list-human-loops",
      "--flow-definition-arn",
      pagingFlow,
      "--creation-time-before",
      beforeLast,
      "--sort-order",
      "Ascending",
    );
    const between = await a2i(
      "list-human-loops",
      "--flow-definition-arn",
      pagingFlow,
      "--creation-time-after",
      afterFirst,
      "--creation-time-before",
      beforeLast,
    );

    // Assert
    expect(names(after)).toEqual(["page-b", "page-c"]);
    expect(names(before)).toEqual(["page-a", "page-b"]);
    expect(names(between)).toEqual(["page-b"]);
  });

  it("refuses an out-of-range page size and an unknown flow definition with named errors", async () => {
    // Act
    const tooMany = await a2iFails(
      "list-human-loops",
      "--flow-definition-arn",
      pagingFlow,
      "--page-size",
      "101",
    );
    const unknown = await a2iFails(
      "list-human-loops",
      "--flow-definition-arn",
      "arn:aws:sagemaker:us-east-1:000000000000:flow-definition/nowhere",
    );

    // Assert
    expect(tooMany.stderr).toContain("(ValidationException)");
    expect(unknown.stderr).toContain("(ResourceNotFoundException)");
  });
});
