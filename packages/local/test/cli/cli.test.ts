/**
 * The `secondlook` CLI as a child process against a real local cloud with a trained model: runs of
 * folders and manifests with their summaries, settings validation, the --stage path through
 * CloudFormation DescribeStacks, and the exit codes scripts rely on.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { DescribeExecutionCommand, ListExecutionsCommand, StopExecutionCommand } from "@aws-sdk/client-sfn";
import { GetParameterCommand } from "@aws-sdk/client-ssm";
import { Prefixes } from "@secondlook/core/blueprint";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readRunInput } from "../../src/cli/inputs";
import type { RunSummary } from "../../src/cli/run";
import { cloudClients } from "../../src/demo/bootstrap";
import type { DemoImage } from "../../src/demo/dataset";
import { startTrainedCloud, type TrainedCloud } from "../e2e/support";
import { Browserish } from "../portal/fakes";
import { cliEnv, freePort, runCli, startCli } from "./support";

let fixture: TrainedCloud;
let home: string;
let reviewer: Browserish;
let env: NodeJS.ProcessEnv;
/** What `--stage` reads from the environment, as on a developer's machine. */
let awsEnv: NodeJS.ProcessEnv;
let local: string[];

beforeAll(async () => {
  fixture = await startTrainedCloud();
  home = await mkdtemp(join(tmpdir(), "secondlook-cli-"));
  env = cliEnv(home);
  awsEnv = cliEnv(home, {
    AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
    AWS_SECRET_ACCESS_KEY: "secret",
    AWS_REGION: "us-east-1",
  });
  local = ["--endpoint-url", fixture.cloud.endpoint];
  const { password } = await fixture.cloud.services.portal.accounts.add("cli-reviewer");
  reviewer = new Browserish(fixture.cloud.webUrl);
  await reviewer.signInFresh("cli-reviewer", password);
}, 120_000);

afterAll(async () => {
  await fixture?.close();
  if (home) await rm(home, { recursive: true, force: true });
});

/** Seed images of two different labels: the trained model is sure of them. */
function knownImages(): DemoImage[] {
  const first = fixture.dataset.seed[0];
  const second = fixture.dataset.seed.find((image) => image.label !== first?.label);
  if (!first || !second) throw new Error("the demo data set has fewer than two labels");
  return [first, second];
}

/** An image of a logo the model has never seen: it goes to a reviewer. */
function unseenImage(index: number): DemoImage {
  const image = fixture.dataset.inference.filter((candidate) => !candidate.known)[index];
  if (!image) throw new Error(`no unseen image ${index}`);
  return image;
}

const extension = (image: DemoImage) => image.name.slice(image.name.lastIndexOf("."));

async function folderOf(name: string, images: DemoImage[]) {
  const folder = join(home, name);
  await mkdir(folder, { recursive: true });
  for (const [index, image] of images.entries()) {
    await writeFile(join(folder, `image-${index + 1}${extension(image)}`), image.body);
  }
  return folder;
}

async function keysUnder(prefix: string) {
  const listed = await cloudClients(fixture.cloud.endpoint).s3.send(
    new ListObjectsV2Command({ Bucket: fixture.cloud.bucket, Prefix: prefix }),
  );
  return (listed.Contents ?? []).map((object) => object.Key);
}

const detectionKeys = () => keysUnder(Prefixes.detection);

async function readText(key: string) {
  const object = await cloudClients(fixture.cloud.endpoint).s3.send(
    new GetObjectCommand({ Bucket: fixture.cloud.bucket, Key: key }),
  );
  return (await object.Body?.transformToString()) ?? "";
}

/** Claims the next task in the portal and answers it, as a reviewer would; false when none is offered. */
async function answerNextTask(label: string) {
  const csrf = await reviewer.csrfFrom("/");
  const response = await reviewer.postForm("/work", { _csrf: csrf });
  const location = response.headers.get("location") ?? "";
  if (!location.startsWith("/tasks/")) return false;
  const taskCsrf = await reviewer.csrfFrom(location);
  await reviewer.postJson(`${location}/submit`, { category: { label } }, { "x-csrf-token": taskCsrf });
  return true;
}

/** The start of a terminal control sequence (colours, cursor moves). */
const ESCAPE = "\u001b[";

const row = (title: string, count: number) =>
  new RegExp(`│ ${title.replace(/[()]/g, "\\$&")}\\s+│ ${count}\\s+│`);

describe("secondlook run", () => {
  it("runs a folder and sums it up in a table, with quiet line-based progress when not a terminal", async () => {
    // Arrange
    const folder = await folderOf("folder-run", [...knownImages(), unseenImage(0)]);
    await writeFile(join(folder, "notes.txt"), "not an image");

    // Act
    const result = await runCli(["run", folder, ...local], env);

    // Assert
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`3 image(s) from ${folder}, uploaded under ${Prefixes.detection}run-`);
    expect(result.stdout).toContain("Left out 1 file(s) that are not PNG or JPEG.");
    expect(result.stdout).toMatch(row("Auto-labeled", 2));
    expect(result.stdout).toMatch(row("Waiting for review", 1));
    expect(result.stdout).toMatch(row("Failed", 0));
    expect(result.stdout).toMatch(row("Total", 3));
    for (const image of knownImages()) expect(result.stdout).toContain(image.label);
    // Not a terminal: no carriage returns or escape codes, and only a handful of progress lines.
    expect(result.stdout).not.toContain("\r");
    expect(result.stdout).not.toContain(ESCAPE);
    const progressLines = result.stdout.split("\n").filter((line) => /^(Uploading|Following)/.test(line));
    expect(progressLines.length).toBeGreaterThanOrEqual(4);
    expect(progressLines.length).toBeLessThanOrEqual(12);
    expect(progressLines.at(-1)).toBe(
      "Following: 3/3 (auto-labeled 2, reviewed 0, waiting for review 1, failed 0)",
    );
  });

  it("runs a Ground Truth manifest through one review-batch execution and prints the summary as JSON", async () => {
    // Arrange
    const known = knownImages();
    const folder = await folderOf("manifest-run", known);
    const manifest = join(folder, "batch.manifest");
    await writeFile(
      manifest,
      known
        .map((image, index) => JSON.stringify({ "source-ref": `image-${index + 1}${extension(image)}` }))
        .join("\n"),
    );
    const detectionBefore = await detectionKeys();

    // Act
    const result = await runCli(["run", manifest, "--json", ...local], env);

    // Assert
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as RunSummary;
    expect(summary.input).toEqual({ kind: "manifest", path: manifest, skipped: [] });
    expect(summary.manifestMode).toBe("review-batch");
    expect(summary.prefix).toBe(`${Prefixes.batchInputs}${summary.runId}/`);
    expect(summary.counts).toMatchObject({ total: 2, "auto-labeled": 2, failed: 0 });
    expect(summary.images.map((image) => image.label)).toEqual(known.map((image) => image.label));
    for (const image of summary.images) {
      expect(image.key.startsWith(summary.prefix)).toBe(true);
      expect(image.executionArn).toMatch(/^arn:aws:states:.*:execution:review-image:/);
    }
    expect(summary.batch).toMatchObject({
      stateMachineArn: fixture.cloud.stateMachineArns.reviewBatch,
      manifestKey: `${Prefixes.manifests}${summary.runId}.jsonl`,
      status: "SUCCEEDED",
      error: null,
      itemCounts: { succeeded: 2, failed: 0, running: 0, pending: 0, total: 2 },
    });
    expect(summary.batch?.executionArn).toMatch(/^arn:aws:states:.*:execution:review-batch:/);
    expect(summary.batch?.mapRunArn).toMatch(/^arn:aws:states:.*:mapRun:review-batch\//);
    // The uploaded manifest names the staged copies; staging them started no review-image of its own.
    const uploaded = (await readText(`${Prefixes.manifests}${summary.runId}.jsonl`)).trim().split("\n");
    expect(uploaded.map((line) => JSON.parse(line))).toEqual(
      summary.images.map((image) => ({ "source-ref": `s3://${fixture.cloud.bucket}/${image.key}` })),
    );
    expect(await detectionKeys()).toEqual(detectionBefore);
    const { sfn } = cloudClients(fixture.cloud.endpoint);
    const listed = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: fixture.cloud.stateMachineArns.reviewImage }),
    );
    const inputs = await Promise.all(
      (listed.executions ?? []).map(
        async (execution) =>
          (await sfn.send(new DescribeExecutionCommand({ executionArn: execution.executionArn }))).input ??
          "",
      ),
    );
    // Only the batch's children review the staged images: staging them started nothing.
    const ofThisRun = inputs.filter((input) => input.includes(summary.prefix));
    expect(ofThisRun).toHaveLength(2);
    for (const input of ofThisRun) expect(JSON.parse(input)["detail-type"]).toBe("Manifest Item");
    expect(await keysUnder(`${Prefixes.batchResults}`)).not.toEqual([]);
  });

  it("sums up a manifest run for people: the batch, its map run items and the outcomes", async () => {
    // Arrange
    const [image] = knownImages();
    if (!image) throw new Error("no known image");
    const unseen = unseenImage(3);
    const folder = await folderOf("manifest-table", [image, unseen]);
    const manifest = join(folder, "batch.json");
    await writeFile(
      manifest,
      JSON.stringify([
        { "source-ref": `image-1${extension(image)}` },
        { "source-ref": `image-2${extension(unseen)}` },
      ]),
    );

    // Act
    const result = await runCli(["run", manifest, ...local], env);

    // Assert
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      `2 image(s) from ${manifest}, uploaded under ${Prefixes.batchInputs}run-`,
    );
    expect(result.stdout).toMatch(/Manifest manifests\/run-[^ ]+\.jsonl ran through review-batch/);
    expect(result.stdout).toMatch(/Execution arn:aws:states:[^ ]+:execution:review-batch:[^ ]+: RUNNING/);
    // Not --wait: it stops while the unseen image waits for a reviewer, its item still running.
    expect(result.stdout).toContain("Map run items: 1 succeeded, 0 failed, 1 running, 0 pending, of 2");
    expect(result.stdout).toMatch(row("Auto-labeled", 1));
    expect(result.stdout).toMatch(row("Waiting for review", 1));
    expect(result.stdout).toMatch(row("Total", 2));
    expect(result.stdout).not.toContain(ESCAPE);
  });

  it("stages the s3:// items of a CSV manifest and follows their batch through the --stage path", async () => {
    // Arrange
    const [image] = knownImages();
    if (!image) throw new Error("no known image");
    await cloudClients(fixture.cloud.endpoint).s3.send(
      new PutObjectCommand({ Bucket: fixture.cloud.bucket, Key: "incoming/logo one.png", Body: image.body }),
    );
    const manifest = join(home, "batch.csv");
    await writeFile(manifest, `source-ref\ns3://${fixture.cloud.bucket}/incoming/logo one.png\n`);

    // Act
    const result = await runCli(["run", manifest, "--json", "--stage", "local", ...local], awsEnv);

    // Assert
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as RunSummary;
    expect(summary.stage).toBe("local");
    expect(summary.manifestMode).toBe("review-batch");
    expect(summary.batch?.status).toBe("SUCCEEDED");
    expect(summary.counts).toMatchObject({ total: 1, "auto-labeled": 1 });
    expect(summary.images[0]).toMatchObject({
      image: `s3://${fixture.cloud.bucket}/incoming/logo one.png`,
      label: image.label,
    });
    expect(summary.images[0]?.key).toBe(`${summary.prefix}00001-logo one.png`);
  });

  it("refuses a manifest naming an s3:// object that does not exist, and uploads nothing", async () => {
    // Arrange
    const manifest = join(home, "missing.json");
    await writeFile(manifest, JSON.stringify([`s3://${fixture.cloud.bucket}/incoming/nothing-here.png`]));
    const before = await Promise.all([Prefixes.batchInputs, Prefixes.manifests].map(keysUnder));

    // Act
    const result = await runCli(["run", manifest, ...local], env);

    // Assert
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("1 s3:// image(s) in the manifest do not exist");
    expect(await Promise.all([Prefixes.batchInputs, Prefixes.manifests].map(keysUnder))).toEqual(before);
  });

  it("keeps following with --wait until a reviewer has answered", async () => {
    // Arrange
    const folder = await folderOf("wait-run", [unseenImage(1)]);
    const label = fixture.labels[0] as string;

    // Act
    const cli = startCli(["run", folder, "--wait", "--timeout", "50", "--json", ...local], env);
    // Answer whatever the portal offers (earlier runs left reviews waiting too) until the CLI is done.
    while (cli.running()) {
      if (!(await answerNextTask(label))) await new Promise((done) => setTimeout(done, 200));
    }
    const result = await cli.result;

    // Assert
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as RunSummary;
    expect(summary.waitedForReviews).toBe(true);
    expect(summary.counts).toMatchObject({ total: 1, "human-labeled": 1, "waiting-for-review": 0 });
    expect(summary.images[0]).toMatchObject({ state: "human-labeled", label, answers: [label] });
    expect(summary.images[0]?.loopName).toMatch(/^review-[0-9a-f]{32}-0$/);

    const loops = await runCli(["loops", "--status", "Completed", "--json", ...local], env);
    expect(loops.code).toBe(0);
    const completed = JSON.parse(loops.stdout) as {
      name: string;
      image: string;
      answers: { label: string }[];
    }[];
    const loop = completed.find((candidate) => candidate.name === summary.images[0]?.loopName);
    expect(loop?.image).toBe(`s3://${fixture.cloud.bucket}/${summary.images[0]?.key}`);
    expect(loop?.answers.map((answer) => answer.label)).toEqual([label]);
  });

  it("fails the images of a batch stopped before they were reviewed, and exits 1", async () => {
    // Arrange
    const unseen = unseenImage(4);
    const folder = await folderOf("aborted-batch", [unseen]);
    const manifest = join(folder, "batch.manifest");
    await writeFile(manifest, JSON.stringify({ "source-ref": `image-1${extension(unseen)}` }));
    const { sfn } = cloudClients(fixture.cloud.endpoint);
    const running = async () =>
      (
        await sfn.send(
          new ListExecutionsCommand({
            stateMachineArn: fixture.cloud.stateMachineArns.reviewBatch,
            statusFilter: "RUNNING",
          }),
        )
      ).executions ?? [];
    const before = new Set((await running()).map((execution) => execution.executionArn));

    // Act
    const cli = startCli(["run", manifest, "--wait", "--timeout", "50", "--json", ...local], env);
    let stopped: string | undefined;
    while (cli.running()) {
      const started = (await running()).find((execution) => !before.has(execution.executionArn));
      if (!stopped && started?.executionArn) {
        stopped = started.executionArn;
        await sfn.send(
          new StopExecutionCommand({ executionArn: stopped, error: "Operator", cause: "stopped by hand" }),
        );
      }
      await new Promise((done) => setTimeout(done, 100));
    }
    const result = await cli.result;

    // Assert
    expect(stopped).toBeDefined();
    expect(result.code).toBe(1);
    const summary = JSON.parse(result.stdout) as RunSummary;
    expect(summary.timedOut).toBe(false);
    expect(summary.batch).toMatchObject({ executionArn: stopped, status: "ABORTED" });
    expect(summary.batch?.error).toMatch(/^review-batch ABORTED/);
    expect(summary.counts).toMatchObject({ total: 1, failed: 1 });
    expect(summary.images[0]?.error).toMatch(/^review-batch ABORTED/);
    expect(result.stderr).toContain("1 of 1 image(s) failed");
  });

  it("stops following at --timeout and exits 1, leaving the executions running", async () => {
    // Arrange
    const folder = await folderOf("timeout-run", [unseenImage(2)]);

    // Act
    const result = await runCli(["run", folder, "--wait", "--timeout", "2", "--json", ...local], env);

    // Assert
    expect(result.code).toBe(1);
    const summary = JSON.parse(result.stdout) as RunSummary;
    expect(summary.timedOut).toBe(true);
    expect(summary.counts["waiting-for-review"]).toBe(1);
    expect(result.stderr).toContain("stopped following after the timeout with 1 image(s) not finished");
  });

  it("names a path that does not exist and exits 2", async () => {
    // Act
    const result = await runCli(["run", join(home, "no-such-folder"), ...local], env);

    // Assert
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("no-such-folder: no such folder or manifest file");
  });
});

describe("secondlook settings", () => {
  it("refuses a value the settings schema refuses, naming the setting, and exits 2", async () => {
    // Act
    const result = await runCli(["settings", "set", "min-confidence", "150", ...local], env);

    // Assert
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Invalid parameter min-confidence");
    expect(result.stderr).toContain("<=100");
  });

  it("refuses labels that are not a JSON array", async () => {
    // Act
    const result = await runCli(["settings", "set", "labels", "Acme,Globex", ...local], env);

    // Assert
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("must be a JSON array of strings");
  });

  it("lists the settings there are when the name is unknown", async () => {
    // Act
    const result = await runCli(["settings", "get", "min-confidance", ...local], env);

    // Assert
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown setting "min-confidance"; the settings are min-confidence,');
  });

  it("writes a valid value in its canonical form and reads it back", async () => {
    // Act
    const set = await runCli(["settings", "set", "trainingPollSeconds", " 60 ", ...local], env);
    const get = await runCli(["settings", "get", "training-poll-seconds", ...local], env);

    // Assert
    expect(set.code).toBe(0);
    expect(set.stdout).toContain(`Set ${fixture.cloud.settingsPath}training-poll-seconds = 60`);
    expect(get.stdout.trim()).toBe("60");
    const stored = await cloudClients(fixture.cloud.endpoint).ssm.send(
      new GetParameterCommand({ Name: `${fixture.cloud.settingsPath}training-poll-seconds` }),
    );
    expect(stored.Parameter?.Value).toBe("60");
  });
});

describe("secondlook status", () => {
  it("reports executions by status, waiting loops and the active model's F1 as JSON", async () => {
    // Act
    const result = await runCli(["status", "--json", ...local], env);

    // Assert
    expect(result.code).toBe(0);
    const status = JSON.parse(result.stdout) as {
      stateMachines: { name: string; executions: Record<string, { count: number }> }[];
      loopsWaiting: { count: number };
      activeModel: { arn: string; status: string; f1: number } | null;
    };
    const reviewImage = status.stateMachines.find((machine) => machine.name === "review-image");
    expect(reviewImage?.executions.SUCCEEDED?.count).toBeGreaterThanOrEqual(1);
    expect(status.loopsWaiting.count).toBeGreaterThanOrEqual(0);
    expect(status.activeModel?.status).toBe("RUNNING");
    expect(status.activeModel?.f1).toBeGreaterThan(0);
    expect(status.activeModel?.f1).toBeLessThanOrEqual(1);
  });

  it("prints a table for people", async () => {
    // Act
    const result = await runCli(["status", ...local], env);

    // Assert
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/│ review-image\s+│/);
    expect(result.stdout).toMatch(/Active model: .*\(RUNNING, F1 \d\.\d{3}\)/);
  });
});

describe("targets and exit codes", () => {
  it("finds a stage through CloudFormation DescribeStacks with --stage and --endpoint-url", async () => {
    // Act
    const result = await runCli(["status", "--json", "--stage", "local", ...local], awsEnv);

    // Assert
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ stage: "local", bucket: fixture.cloud.bucket });
  });

  it("names a stage that is not deployed and exits 2", async () => {
    // Act
    const result = await runCli(["status", "--stage", "prod", ...local], awsEnv);

    // Assert
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("stage prod is not deployed: there is no stack prod-secondlook-Review");
  });

  it("says how to provide credentials when there are none, and exits 3", async () => {
    // Act
    const result = await runCli(
      ["status", "--stage", "local", ...local],
      cliEnv(home, { AWS_REGION: "us-east-1" }),
    );

    // Assert
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("AWS_ACCESS_KEY_ID");
  });

  it("says how to set a region when there is none, and exits 3", async () => {
    // Act
    const result = await runCli(
      ["status", "--stage", "local", ...local],
      cliEnv(home, { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "secret" }),
    );

    // Assert
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("no AWS region: set AWS_REGION");
  });

  it("tells the user to start the local cloud when nothing answers, and exits 3", async () => {
    // Arrange
    const port = await freePort();
    const folder = await folderOf("unreachable-run", knownImages());

    // Act
    const status = await runCli(["status", "--endpoint-url", `http://127.0.0.1:${port}`], env);
    const run = await runCli(["run", folder], cliEnv(home, { SECONDLOOK_PORT: String(port) }));

    // Assert
    expect(status.code).toBe(3);
    expect(status.stderr).toContain(`cannot reach the local cloud at http://127.0.0.1:${port}`);
    expect(status.stderr).toContain("`npm start`");
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`http://127.0.0.1:${port}`);
  });

  it("exits 2 on usage mistakes", async () => {
    // Act
    const results = await Promise.all([
      runCli(["run"], env),
      runCli(["loops", "--status", "Sleeping"], env),
      runCli(["status", "--endpoint-url", "not a url"], env),
      runCli(["no-such-command"], env),
    ]);

    // Assert
    expect(results.map((result) => result.code)).toEqual([2, 2, 2, 2]);
    expect(results[1]?.stderr).toContain(
      "Allowed choices are InProgress, Completed, Failed, Stopped, Stopping",
    );
  });

  it("has --help on every command, exiting 0", async () => {
    // Act
    const commands = [
      [],
      ["run"],
      ["status"],
      ["loops"],
      ["settings"],
      ["settings", "get"],
      ["settings", "set"],
      ["demo"],
      ["reviewers"],
      ["start"],
    ];
    const results = [];
    // One at a time: ten Node processes at once would crowd a two-core CI machine.
    for (const command of commands) results.push(await runCli([...command, "--help"], env));

    // Assert
    for (const [index, result] of results.entries()) {
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`Usage: secondlook ${commands[index]?.join(" ")}`.trimEnd());
    }
  });
});

describe("secondlook demo", () => {
  it("writes the demo data set into a folder, ready for secondlook run", async () => {
    // Arrange
    const out = join(home, "demo-out");

    // Act
    const result = await runCli(["demo", "--out", out, "--seed", "3", "--json"], env);

    // Assert
    expect(result.code).toBe(0);
    const written = JSON.parse(result.stdout) as { labeled: number; inference: number; labels: string[] };
    expect(written.labels.length).toBeGreaterThanOrEqual(2);
    const labelFolders = await readdir(join(out, Prefixes.labeled));
    expect(labelFolders.sort()).toEqual(written.labels);
    expect(await readdir(join(out, "inference"))).toHaveLength(written.inference);
    const input = await readRunInput(join(out, "inference.manifest"));
    expect(input.items).toHaveLength(written.inference);
  });

  it("loads the demo data set into the local cloud, promotes the model it trains, and sends the new images", async () => {
    // Act
    const result = await runCli(["demo", "--seed", "3", "--json", ...local], env);

    // Assert
    expect(result.code).toBe(0);
    const loaded = JSON.parse(result.stdout) as { versionArn: string; f1: number; uploaded: number };
    expect(loaded.versionArn).toMatch(/:project\/.+\/version\/demo-\d{14}\//);
    expect(loaded.f1).toBeGreaterThan(0);
    expect(loaded.uploaded).toBeGreaterThan(0);
    const active = await cloudClients(fixture.cloud.endpoint).ssm.send(
      new GetParameterCommand({ Name: `${fixture.cloud.settingsPath}active-model-version-arn` }),
    );
    expect(active.Parameter?.Value).toBe(loaded.versionArn);
  });

  it("refuses to train on a deployed stage and says what to do instead", async () => {
    // Act
    const result = await runCli(["demo", "--stage", "local", ...local], awsEnv);

    // Assert
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--out <folder>");
  });
});
