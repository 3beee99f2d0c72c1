/**
 * The whole local cloud SIGKILLed while a batch of uploads is in flight and reviewers are answering
 * through the portal, restarted on the same data folder several times. Protects: nothing lost and
 * nothing done twice across crashes — one execution per image, no human loop started twice, every
 * image ends exactly once in its right branch, and no answer the portal accepted is asked again.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { ListHumanLoopsCommand } from "@aws-sdk/client-sagemaker-a2i-runtime";
import {
  DescribeExecutionCommand,
  type ExecutionListItem,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
} from "@aws-sdk/client-sfn";
import { Prefixes } from "@secondlook/core/blueprint";
import { describe, expect, it } from "vitest";
import { cloudClients } from "../../src/demo/bootstrap";
import { generateDemoDataset } from "../../src/demo/dataset";
import { eventually } from "../e2e/support";
import { Browserish } from "../portal/fakes";
import { answer } from "./support";

/** What the child prints once it serves requests. */
interface Ready {
  endpoint: string;
  webUrl: string;
  bucket: string;
  flowDefinitionArn: string;
  reviewImageArn: string;
  labels: string[];
  username: string;
  password: string;
}

const KILLS_WHILE_REVIEWING = 3;

function startChild(dataDir: string): { child: ChildProcess; ready: Promise<Ready> } {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "fixtures/cloud-child.ts"), dataDir],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  const ready = new Promise<Ready>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /READY (\{.*\})\n/.exec(out);
      if (match) resolve(JSON.parse(match[1] as string) as Ready);
    });
    child.on("exit", (code, signal) =>
      reject(new Error(`the cloud exited before it was ready (${code ?? signal})`)),
    );
  });
  return { child, ready };
}

async function kill(child: ChildProcess | undefined) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.on("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

/** A request cut off at the socket: the process was killed, or a pooled connection went stale. */
function cutOff(error: unknown): boolean {
  const code = (error as { cause?: { code?: string } }).cause?.code;
  return (
    error instanceof TypeError &&
    (code === "ECONNRESET" || code === "ECONNREFUSED" || code === "UND_ERR_SOCKET")
  );
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** What the reviewer saw of their answers, across every process the test killed. */
interface Tally {
  /** Submits the portal answered 200: each must stay answered. */
  accepted: number;
  /** Submits cut off by a kill: the portal may or may not have kept them. */
  interrupted: number;
  /** Tasks claimed but not answered before a kill; revisited after the restart, as a reviewer would. */
  held: Set<string>;
  /** Whether the reviewer already replaced their generated password (the first sign-in does). */
  passwordChosen: boolean;
}

const PASSPHRASE = "a calm and long passphrase";

/** Signs in, revisits held tasks, then claims and answers tasks until `stop()` or the queue is empty. */
async function review(ready: Ready, tally: Tally, stopped: () => boolean, untilEmpty: boolean) {
  const reviewer = new Browserish(ready.webUrl);
  if (tally.passwordChosen) {
    const signedIn = await reviewer.signIn(ready.username, PASSPHRASE);
    if (signedIn.status !== 303) throw new Error(`sign-in after a restart failed: ${signedIn.status}`);
  } else {
    await reviewer.signInFresh(ready.username, ready.password, PASSPHRASE);
    tally.passwordChosen = true;
  }
  const label = ready.labels[0] as string;
  const submit = async (taskPath: string) => {
    try {
      const response = await answer(reviewer, taskPath, label);
      tally.held.delete(taskPath);
      if (response.status === 200) tally.accepted++;
    } catch (error) {
      if (!stopped() && !cutOff(error)) throw error;
      // The task stays in `held`: the next pass revisits it, as a reviewer reloading the page would.
      tally.interrupted++;
    }
  };
  for (const taskPath of [...tally.held]) {
    if (stopped()) return;
    await submit(taskPath);
  }
  let idle = 0;
  while (!stopped()) {
    let location = "";
    try {
      const csrf = await reviewer.csrfFrom("/");
      location = (await reviewer.postForm("/work", { _csrf: csrf })).headers.get("location") ?? "";
    } catch (error) {
      if (!stopped() && !cutOff(error)) throw error;
    }
    if (!location.startsWith("/tasks/")) {
      if (!untilEmpty && ++idle > 20) return;
      await sleep(100);
      continue;
    }
    idle = 0;
    tally.held.add(location);
    for (const taskPath of [...tally.held]) {
      if (stopped()) return;
      await submit(taskPath);
    }
  }
}

/** A report of unfinished executions (their last events) and of the human loops, for a timeout. */
async function whereTheyStand(
  clients: ReturnType<typeof cloudClients>,
  ready: Ready,
  executions: ExecutionListItem[],
  expected: number,
  tally: Tally,
): Promise<string> {
  const lines = [
    `${executions.length} of ${expected} executions started; tally ${JSON.stringify({ ...tally, held: [...tally.held] })}`,
  ];
  for (const execution of executions.filter((item) => item.status === "RUNNING")) {
    const history = await clients.sfn.send(
      new GetExecutionHistoryCommand({
        executionArn: execution.executionArn,
        reverseOrder: true,
        maxResults: 4,
      }),
    );
    const last = (history.events ?? []).map((event) => event.type).join(" < ");
    lines.push(`RUNNING ${execution.name}: ${last}`);
  }
  const loops = await clients.a2i.send(
    new ListHumanLoopsCommand({ FlowDefinitionArn: ready.flowDefinitionArn, MaxResults: 100 }),
  );
  for (const loop of loops.HumanLoopSummaries ?? []) {
    lines.push(`loop ${loop.HumanLoopName}: ${loop.HumanLoopStatus}`);
  }
  return lines.join("\n");
}

describe("the local cloud SIGKILLed with reviews in flight", () => {
  it("loses nothing and does nothing twice across repeated kills and restarts (protects: crash safety of the whole cloud)", async () => {
    // Arrange
    const dataDir = await mkdtemp(join(tmpdir(), "secondlook-cloud-crash-"));
    const dataset = await generateDemoDataset({
      seed: 23,
      perClass: 1,
      inferencePerClass: 1,
      hardPerClass: 0,
      unseenPerClass: 3,
      negatives: 0,
    });
    const images = dataset.inference.map((image, index) => ({
      key: `${Prefixes.detection}crash-${String(index).padStart(2, "0")}.png`,
      body: image.body,
    }));
    const tally: Tally = { accepted: 0, interrupted: 0, held: new Set(), passwordChosen: false };
    let current: ChildProcess | undefined;
    try {
      let started = startChild(dataDir);
      current = started.child;
      let ready = await started.ready;

      // Act: upload every image, then kill while the uploads' events are being delivered.
      const s3 = cloudClients(ready.endpoint).s3;
      await Promise.all(
        images.map((image) =>
          s3.send(new PutObjectCommand({ Bucket: ready.bucket, Key: image.key, Body: image.body })),
        ),
      );
      await sleep(Math.floor(Math.random() * 300));
      await kill(current);

      // Restart and kill again at a random moment once the reviewer is answering.
      for (let round = 0; round < KILLS_WHILE_REVIEWING; round++) {
        started = startChild(dataDir);
        current = started.child;
        ready = await started.ready;
        let stop = false;
        const acceptedBefore = tally.accepted;
        const working = review(ready, tally, () => stop, false).catch((error: Error) => {
          if (!stop) throw error;
        });
        await Promise.race([
          working,
          eventually("an answer in this round", async () =>
            tally.accepted > acceptedBefore ? true : undefined,
          ).catch(() => undefined),
        ]);
        await sleep(Math.floor(Math.random() * 400));
        stop = true;
        await kill(current);
        await working;
      }
      const acceptedBeforeLastStart = tally.accepted;

      // The last start answers what is left and lets every execution finish.
      started = startChild(dataDir);
      current = started.child;
      ready = await started.ready;
      const clients = cloudClients(ready.endpoint);
      let done = false;
      let reviewFailure: unknown;
      const working = review(ready, tally, () => done, true).catch((error: unknown) => {
        reviewFailure = error;
      });
      let seen: ExecutionListItem[] = [];
      const executions = await eventually(
        "every execution to finish",
        async () => {
          if (reviewFailure) throw reviewFailure;
          const page = await clients.sfn.send(
            new ListExecutionsCommand({ stateMachineArn: ready.reviewImageArn, maxResults: 1000 }),
          );
          seen = page.executions ?? [];
          return seen.length >= images.length && seen.every((execution) => execution.status !== "RUNNING")
            ? seen
            : undefined;
        },
        120_000,
      ).catch(async (error: Error) => {
        // Say where each unfinished execution stands, so a failure here can be told from slowness.
        throw new Error(
          `${error.message}\n${await whereTheyStand(clients, ready, seen, images.length, tally)}`,
        );
      });
      done = true;
      await working;

      // Assert: one execution per image, each succeeded once in its branch.
      const label = ready.labels[0] as string;
      const keys: string[] = [];
      let reviewed = 0;
      for (const execution of executions) {
        const described = await clients.sfn.send(
          new DescribeExecutionCommand({ executionArn: execution.executionArn }),
        );
        // The name and any error travel with the status, so a failure says which execution and why.
        expect({ name: execution.name, status: described.status, error: described.error }).toEqual({
          name: execution.name,
          status: "SUCCEEDED",
          error: undefined,
        });
        const input = JSON.parse(described.input ?? "{}") as { detail?: { object?: { key?: string } } };
        keys.push(decodeURIComponent(input.detail?.object?.key ?? ""));
        const history = await clients.sfn.send(
          new GetExecutionHistoryCommand({ executionArn: execution.executionArn, maxResults: 1000 }),
        );
        const entered = (history.events ?? [])
          .filter((event) => event.type?.endsWith("StateEntered"))
          .map((event) => event.stateEnteredEventDetails?.name);
        const outcome = JSON.parse(
          (await (
            await clients.s3.send(
              new GetObjectCommand({
                Bucket: ready.bucket,
                Key: `${Prefixes.outcomes}${execution.name}.json`,
              }),
            )
          ).Body?.transformToString()) ?? "{}",
        ) as { outcome?: string; label?: string };
        if (entered.includes("StartHumanReview")) {
          reviewed++;
          expect(entered.filter((name) => name === "StartHumanReview")).toHaveLength(1);
          expect(entered.filter((name) => name === "CopyToLabeledFolder")).toHaveLength(1);
          expect(entered.filter((name) => name === "RecordLabel")).toHaveLength(1);
          expect(outcome).toMatchObject({ outcome: "human-labeled", label });
        } else {
          expect(entered.filter((name) => name === "RecordAutoLabel")).toHaveLength(1);
          expect(outcome.outcome).toBe("auto-labeled");
        }
      }
      expect(keys.sort()).toEqual(images.map((image) => image.key).sort());
      // No human loop started twice, and every one of them completed.
      const loops = await clients.a2i.send(
        new ListHumanLoopsCommand({ FlowDefinitionArn: ready.flowDefinitionArn, MaxResults: 100 }),
      );
      const summaries = loops.HumanLoopSummaries ?? [];
      expect(summaries).toHaveLength(reviewed);
      expect(summaries.every((loop) => loop.HumanLoopStatus === "Completed")).toBe(true);

      // Exactly one labeled copy per reviewed image.
      const copies = await clients.s3.send(
        new ListObjectsV2Command({ Bucket: ready.bucket, Prefix: `${Prefixes.labeled}${label}/` }),
      );
      expect((copies.Contents ?? []).filter((object) => object.Key?.includes("crash-"))).toHaveLength(
        reviewed,
      );

      // An accepted answer is never asked again: each loop took one answer, give or take cut-off submits.
      expect(reviewed).toBeGreaterThan(0);
      expect(acceptedBeforeLastStart).toBeGreaterThan(0);
      expect(tally.accepted).toBeLessThanOrEqual(reviewed);
      expect(tally.accepted + tally.interrupted).toBeGreaterThanOrEqual(reviewed);
    } finally {
      await kill(current);
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});
