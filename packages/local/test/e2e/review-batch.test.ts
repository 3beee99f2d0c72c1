/**
 * review-batch end to end on the local cloud: a Ground Truth JSON Lines manifest uploaded under
 * manifests/ starts the batch, a Distributed Map runs one review-image per line, a reviewer answers
 * the one image the model does not know through the portal, and the results land under
 * batch-results/ in AWS's ResultWriter layout. The AWS CLI reads the map run.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { DescribeMapRunCommand, ListExecutionsCommand, ListMapRunsCommand } from "@aws-sdk/client-sfn";
import { Prefixes } from "@secondlook/core/blueprint";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cloudClients } from "../../src/demo/bootstrap";
import { Browserish } from "../portal/fakes";
import { eventually, finished, readObject, startTrainedCloud, type TrainedCloud } from "./support";

let fixture: TrainedCloud;
let reviewer: Browserish;
let cliHome: string;

beforeAll(async () => {
  fixture = await startTrainedCloud();
  const { password } = await fixture.cloud.services.portal.accounts.add("bea");
  reviewer = new Browserish(fixture.cloud.webUrl);
  await reviewer.signInFresh("bea", password);
  cliHome = await mkdtemp(join(tmpdir(), "secondlook-batch-cli-"));
}, 120_000);

afterAll(async () => {
  await fixture?.close();
  if (cliHome) await rm(cliHome, { recursive: true, force: true });
});

/** Debian's AWS CLI against the local edge, with throwaway credentials; returns parsed JSON. */
async function aws(...args: string[]) {
  const { stdout } = await promisify(execFile)(
    "/usr/bin/aws",
    ["--endpoint-url", fixture.cloud.endpoint, "--region", "us-east-1", "--output", "json", ...args],
    {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: cliHome,
        AWS_ACCESS_KEY_ID: "cli",
        AWS_SECRET_ACCESS_KEY: "cli-secret",
        AWS_CONFIG_FILE: join(cliHome, "config"),
        AWS_SHARED_CREDENTIALS_FILE: join(cliHome, "credentials"),
        AWS_PAGER: "",
      },
    },
  );
  return JSON.parse(stdout) as Record<string, unknown>;
}

async function put(key: string, body: Buffer | string) {
  await cloudClients(fixture.cloud.endpoint).s3.send(
    new PutObjectCommand({ Bucket: fixture.cloud.bucket, Key: key, Body: body }),
  );
}

/** Claims the next portal task and answers it with a label, as a reviewer would. */
async function answerNextTask(label: string) {
  const taskPath = await eventually(
    "a task in the portal",
    async () => {
      const csrf = await reviewer.csrfFrom("/");
      const response = await reviewer.postForm("/work", { _csrf: csrf });
      const location = response.headers.get("location") ?? "";
      return location.startsWith("/tasks/") ? location : undefined;
    },
    60_000,
  );
  const csrf = await reviewer.csrfFrom(taskPath);
  return reviewer.postJson(`${taskPath}/submit`, { category: { label } }, { "x-csrf-token": csrf });
}

describe("review-batch on the local cloud", () => {
  it("reviews every image of a JSON Lines manifest and writes the results under batch-results/", async () => {
    // Arrange: two images the model knows and one it has never seen, outside the watched prefix.
    const { cloud, dataset, labels } = fixture;
    const known = dataset.seed.slice(0, 2);
    const unseen = dataset.inference.find((image) => !image.known);
    if (known.length < 2 || !unseen) throw new Error("the demo data set is too small");
    const keys = ["batch-input/known-0.png", "batch-input/known-1.png", "batch-input/unseen.png"];
    await put(keys[0] as string, known[0]?.body as Buffer);
    await put(keys[1] as string, known[1]?.body as Buffer);
    await put(keys[2] as string, unseen.body);
    const manifest = keys
      .map((key) => JSON.stringify({ "source-ref": `s3://${cloud.bucket}/${key}` }))
      .join("\n");
    const { sfn } = cloudClients(cloud.endpoint);

    // Act
    await put(`${Prefixes.manifests}batch-1.jsonl`, `${manifest}\n`);
    const batch = await eventually("the review-batch execution", async () => {
      const page = await sfn.send(
        new ListExecutionsCommand({ stateMachineArn: cloud.stateMachineArns.reviewBatch }),
      );
      return page.executions?.[0];
    });
    await answerNextTask(labels[0] as string);
    const described = await finished(cloud, batch.executionArn as string);

    // Assert
    expect(described.status).toBe("SUCCEEDED");
    const output = JSON.parse(described.output ?? "{}");
    const mapRunId = String(output.MapRunArn).split(":").at(-1);
    expect(output.ResultWriterDetails).toEqual({
      Bucket: cloud.bucket,
      Key: `${Prefixes.batchResults}${mapRunId}/manifest.json`,
    });
    const resultManifest = JSON.parse(String(await readObject(cloud, output.ResultWriterDetails.Key)));
    expect(resultManifest.MapRunArn).toBe(output.MapRunArn);
    expect(resultManifest.ResultFiles.FAILED).toEqual([]);
    expect(resultManifest.ResultFiles.PENDING).toEqual([]);
    const [file] = resultManifest.ResultFiles.SUCCEEDED;
    const records = JSON.parse(String(await readObject(cloud, file.Key))) as Record<string, string>[];
    expect(records).toHaveLength(3);
    expect(records.map((r) => r.Status)).toEqual(["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);
    expect(records.map((r) => JSON.parse(r.Input as string).detail["source-ref"])).toEqual(
      keys.map((key) => `s3://${cloud.bucket}/${key}`),
    );
    const children = records.map((r) => JSON.parse(r.Output as string) as { status: string });
    expect(children.map((c) => c.status)).toEqual(["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);

    const { mapRuns } = await sfn.send(new ListMapRunsCommand({ executionArn: batch.executionArn }));
    const mapRun = await sfn.send(new DescribeMapRunCommand({ mapRunArn: mapRuns?.[0]?.mapRunArn }));
    expect(mapRun.status).toBe("SUCCEEDED");
    expect(mapRun.itemCounts).toMatchObject({ total: 3, succeeded: 3, failed: 0, pending: 0 });
    expect(mapRun.maxConcurrency).toBe(10);
    expect(mapRun.toleratedFailurePercentage).toBe(10);

    const cli = await aws("stepfunctions", "list-map-runs", "--execution-arn", batch.executionArn as string);
    expect(cli.mapRuns).toEqual([
      expect.objectContaining({ mapRunArn: output.MapRunArn, executionArn: batch.executionArn }),
    ]);
  }, 180_000);
});
