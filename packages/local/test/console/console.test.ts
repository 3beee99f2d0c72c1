/**
 * The console over HTTP, against a real local cloud (no model trained: every upload waits for a
 * reviewer, which gives running executions and open human loops to look at).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetParameterCommand } from "@aws-sdk/client-ssm";
import { Prefixes } from "@secondlook/core/blueprint";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalCloud, startLocalCloud } from "../../src/cloud";
import { cloudClients } from "../../src/demo/bootstrap";
import { eventually, executionFor, uploadImage } from "../e2e/support";
import { Browserish, ONE_PIXEL_PNG } from "../portal/fakes";

let dataDir: string;
let cloud: LocalCloud;
let ops: Browserish;
const arns: string[] = [];

const executionPath = (arn: string) => `/console/executions/${encodeURIComponent(arn)}`;

/** The statuses the execution page's graph gives each state. */
function graphStatuses(page: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of page.matchAll(/<g class="state [^"]*" data-state="([^"]+)" data-status="([^"]+)"/g)) {
    if (m[1] && m[2]) out[m[1]] = m[2];
  }
  return out;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "secondlook-console-"));
  cloud = await startLocalCloud({ dataDir, timeScale: 0.05 });
  const { password } = await cloud.services.portal.accounts.add("ops");
  ops = new Browserish(cloud.webUrl);
  await ops.signInFresh("ops", password);
  for (const name of ["one.png", "two.png", "three.png"]) {
    const key = await uploadImage(cloud, name, ONE_PIXEL_PNG);
    const started = await executionFor(cloud, key);
    arns.push(started.executionArn ?? "");
  }
  // Each execution waits on its reviewer once StartHumanReview has started the loop.
  for (const arn of arns) {
    await eventually(`${arn} to wait for a human`, async () => {
      const page = await (await ops.get(executionPath(arn))).text();
      return graphStatuses(page).StartHumanReview === "in-progress" ? true : undefined;
    });
  }
}, 120_000);

afterAll(async () => {
  await cloud?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("signing in", () => {
  it("sends a visitor who is not signed in to the portal's sign-in page", async () => {
    // Arrange
    const stranger = new Browserish(cloud.webUrl);

    // Act
    const response = await stranger.get("/console/executions");

    // Assert
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/sign-in");
  });

  it("serves pages with the portal's strict content security policy", async () => {
    // Arrange
    const path = "/console/executions";

    // Act
    const response = await ops.get(path);

    // Assert
    expect(response.status).toBe(200);
    expect(response.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(response.headers.get("x-frame-options")).toBe("DENY");
  });
});

describe("executions list", () => {
  it("lists a state machine's executions newest first, filtered by status and paged", async () => {
    // Arrange
    const [first, second, third] = arns.map((arn) => arn.split(":").pop() ?? "");

    // Act
    const page1 = await (
      await ops.get("/console/executions?machine=reviewImage&status=RUNNING&size=2")
    ).text();
    const older = /href="([^"]+)">Older executions/.exec(page1)?.[1]?.replaceAll("&amp;", "&") ?? "";
    const page2 = await (await ops.get(older)).text();
    const succeeded = await (await ops.get("/console/executions?status=SUCCEEDED")).text();

    // Assert
    expect(page1.indexOf(third ?? "")).toBeGreaterThan(0);
    expect(page1.indexOf(third ?? "")).toBeLessThan(page1.indexOf(second ?? ""));
    expect(page1).not.toContain(first);
    expect(older).toContain("status=RUNNING");
    expect(page2).toContain(first);
    expect(page2).not.toContain("Older executions");
    expect(succeeded).toContain("No executions with status SUCCEEDED yet.");
  });

  it("refuses an unknown status, state machine or page size with 400 and says why", async () => {
    // Arrange
    const paths = [
      "/console/executions?status=DONE",
      "/console/executions?machine=nope",
      "/console/executions?size=1000",
    ];

    // Act
    const responses = await Promise.all(paths.map(async (p) => ops.get(p)));
    const bodies = await Promise.all(responses.map((r) => r.text()));

    // Assert
    expect(responses.map((r) => r.status)).toEqual([400, 400, 400]);
    expect(bodies[0]).toContain("Status must be one of RUNNING");
    expect(bodies[1]).toContain("There is no state machine called &quot;nope&quot;");
    expect(bodies[2]).toContain("Page size must be a whole number from 1 to 100");
  });
});

describe("execution page", () => {
  it("draws the graph with the states run so far coloured and the rest not run", async () => {
    // Arrange
    const arn = arns[0] ?? "";

    // Act
    const page = await (await ops.get(executionPath(arn))).text();

    // Assert
    expect(graphStatuses(page)).toMatchObject({
      DetectLabels: "succeeded",
      CheckConfidence: "succeeded",
      StartHumanReview: "in-progress",
      RecordAutoLabel: "not-run",
      CopyToLabeledFolder: "not-run",
    });
    expect(page).toContain('<span class="badge running">RUNNING</span>');
  });

  it("shows the event history with each state's input and output, and links to the image and loop", async () => {
    // Arrange
    const arn = arns[0] ?? "";

    // Act
    const page = await (await ops.get(executionPath(arn))).text();

    // Assert
    expect(page).toContain("ExecutionStarted");
    expect(page).toContain("TaskStateEntered");
    expect(page).toContain("TaskStateExited");
    expect(page).toMatch(/&quot;detection&quot;: \{/);
    expect(page).toContain(`/console/image?key=${encodeURIComponent(`${Prefixes.detection}one.png`)}`);
    expect(page).toMatch(/href="\/console\/loops\/review-[0-9a-f]{32}-0"/);
  });

  it("answers 404 for an execution that does not exist or an address that is not an ARN", async () => {
    // Arrange
    const missing = `${arns[0]?.slice(0, -4)}zzzz`;

    // Act
    const notThere = await ops.get(executionPath(missing));
    const notAnArn = await ops.get("/console/executions/not-an-arn");

    // Assert
    expect(notThere.status).toBe(404);
    expect(notAnArn.status).toBe(404);
  });
});

describe("batches", () => {
  it("shows a batch's map run with its item progress and lists its child executions", async () => {
    // Arrange
    const manifest = ["one.png", "two.png"]
      .map((name) => JSON.stringify({ "source-ref": `s3://${cloud.bucket}/${Prefixes.detection}${name}` }))
      .join("\n");
    await cloud.services.s3.objects.put(
      cloud.bucket,
      `${Prefixes.manifests}batch.jsonl`,
      Buffer.from(manifest),
    );
    const batch = await eventually("the review-batch execution", async () => {
      const page = await cloud.services.states.listExecutions({
        stateMachineArn: cloud.stateMachineArns.reviewBatch,
      });
      return page.executions[0];
    });

    // Act: both children wait for a reviewer, so the run stays open with two items running.
    const page = await eventually("the map run's two running items", async () => {
      const text = await (await ops.get(executionPath(batch.executionArn))).text();
      return text.includes('<b class="items-running">2</b>') ? text : undefined;
    });
    const childrenPath =
      /href="(\/console\/executions\?mapRun=[^"]+)"/.exec(page)?.[1]?.replaceAll("&amp;", "&") ?? "";
    const children = await (await ops.get(childrenPath)).text();

    // Assert
    expect(page).toContain("<h2>Map runs</h2>");
    expect(page).toContain('<b class="items-total">2</b>');
    expect(page).toContain('aria-label="0 of 2 items done"');
    expect(page).toContain('data-stream="/console/stream"');
    expect(children).toContain("Child executions of map run");
    expect(children.match(/<tr data-status="RUNNING">/g)).toHaveLength(2);
  });
});

describe("live updates", () => {
  it("pushes a change event to an open execution page when the execution moves", async () => {
    // Arrange
    const key = await uploadImage(cloud, "to-stop.png", ONE_PIXEL_PNG);
    const arn = (await executionFor(cloud, key)).executionArn ?? "";
    await eventually(`${arn} to wait for a human`, async () => {
      const page = await (await ops.get(executionPath(arn))).text();
      return graphStatuses(page).StartHumanReview === "in-progress" ? true : undefined;
    });
    const controller = new AbortController();
    const response = await fetch(
      new URL(`/console/stream?execution=${encodeURIComponent(arn)}`, cloud.webUrl),
      {
        headers: { cookie: ops.cookieHeader() },
        signal: controller.signal,
      },
    );
    const reader = response.body?.getReader();
    let received = "";

    // Act
    await cloud.services.states.stopExecution(arn, "Test.Stop", "stopped by the test");
    const decoder = new TextDecoder();
    while (reader && !received.includes('"status":"ABORTED"')) {
      const chunk = await reader.read();
      if (chunk.done) break;
      received += decoder.decode(chunk.value);
    }
    controller.abort();
    const page = await (await ops.get(executionPath(arn))).text();

    // Assert
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    expect(received).toContain("event: change");
    expect(received).toContain(JSON.stringify({ executionArn: arn, status: "ABORTED" }));
    expect(page).toContain('<span class="badge aborted">ABORTED</span>');
    expect(graphStatuses(page)).toMatchObject({ DetectLabels: "succeeded", StartHumanReview: "aborted" });
  });
});

describe("images", () => {
  it("serves the image under review to a signed-in user, and nothing to others", async () => {
    // Arrange
    const path = `/console/image?key=${encodeURIComponent(`${Prefixes.detection}one.png`)}`;

    // Act
    const signedIn = await ops.get(path);
    const stranger = await new Browserish(cloud.webUrl).get(path);

    // Assert
    expect(signedIn.status).toBe(200);
    expect(signedIn.headers.get("content-type")).toBe("image/png");
    expect(Buffer.from(await signedIn.arrayBuffer())).toEqual(ONE_PIXEL_PNG);
    expect(stranger.status).toBe(303);
  });

  it("refuses a key that climbs out of its folder with 400 and a missing image with 404", async () => {
    // Arrange
    const climbing = `/console/image?key=${encodeURIComponent("images_for_detection/../secret.png")}`;
    const missing = `/console/image?key=${encodeURIComponent("images_for_detection/none.png")}`;

    // Act
    const refused = await ops.get(climbing);
    const absent = await ops.get(missing);

    // Assert
    expect(refused.status).toBe(400);
    expect(absent.status).toBe(404);
  });
});

describe("human loops", () => {
  it("lists the open loops with their status and image, and opens one", async () => {
    // Arrange
    const page = await (await ops.get(executionPath(arns[0] ?? ""))).text();
    const loopPath = /href="(\/console\/loops\/review-[0-9a-f]{32}-0)"/.exec(page)?.[1] ?? "";

    // Act
    const list = await (await ops.get("/console/loops")).text();
    const loop = await ops.get(loopPath);
    const loopPage = await loop.text();

    // Assert
    expect(list).toContain(loopPath);
    expect(list).toContain('<span class="badge inprogress">InProgress</span>');
    expect(loop.status).toBe(200);
    expect(loopPage).toContain("No answers yet.");
  });

  it("answers 404 for a loop that does not exist or a malformed loop name", async () => {
    // Arrange
    const paths = ["/console/loops/review-nothing-here-0", "/console/loops/Not_A_Loop"];

    // Act
    const statuses = await Promise.all(paths.map(async (p) => (await ops.get(p)).status));

    // Assert
    expect(statuses).toEqual([404, 404]);
  });
});

describe("models", () => {
  it("says no model has been trained yet when the project has no version", async () => {
    // Arrange
    const path = "/console/models";

    // Act
    const page = await (await ops.get(path)).text();

    // Assert
    expect(page).toContain("No model has been trained yet.");
  });
});

describe("settings", () => {
  const minConfidence = async () =>
    (
      await cloudClients(cloud.endpoint).ssm.send(
        new GetParameterCommand({ Name: `${cloud.settingsPath}min-confidence` }),
      )
    ).Parameter?.Value;

  async function formValues(): Promise<Record<string, string>> {
    const page = await (await ops.get("/console/settings")).text();
    const values: Record<string, string> = {};
    for (const m of page.matchAll(/<input name="([^"]+)" value="([^"]*)"/g)) {
      if (m[1]) values[m[1]] = (m[2] ?? "").replaceAll("&quot;", '"').replaceAll("&amp;", "&");
    }
    return values;
  }

  it("shows every setting with its current SSM value", async () => {
    // Arrange
    const current = await minConfidence();

    // Act
    const values = await formValues();

    // Assert
    expect(values["min-confidence"]).toBe(current);
    expect(Object.keys(values)).toContain("human-sampling-percent");
    expect(Object.keys(values)).toContain("labels");
  });

  it("refuses a save without the page's CSRF token and changes nothing", async () => {
    // Arrange
    const before = await minConfidence();
    const values = { ...(await formValues()), "min-confidence": "12" };

    // Act
    const response = await ops.postForm("/console/settings", values);

    // Assert
    expect(response.status).toBe(403);
    expect(await minConfidence()).toBe(before);
  });

  it("refuses a save from another site even with the token", async () => {
    // Arrange
    const before = await minConfidence();
    const csrf = await ops.csrfFrom("/console/settings");
    const values = { ...(await formValues()), "min-confidence": "12", _csrf: csrf };

    // Act
    const response = await ops.postForm("/console/settings", values, { "sec-fetch-site": "cross-site" });

    // Assert
    expect(response.status).toBe(403);
    expect(await minConfidence()).toBe(before);
  });

  it("rejects an invalid value with the schema's message, keeps what was typed, and writes nothing", async () => {
    // Arrange
    const before = await minConfidence();
    const csrf = await ops.csrfFrom("/console/settings");
    const values = {
      ...(await formValues()),
      "min-confidence": "150",
      "human-sampling-percent": "7",
      _csrf: csrf,
    };

    // Act
    const response = await ops.postForm("/console/settings", values);
    const page = await response.text();

    // Assert
    expect(response.status).toBe(400);
    expect(page).toContain("Invalid parameter min-confidence");
    expect(page).toContain('value="150"');
    expect(await minConfidence()).toBe(before);
  });

  it("saves a valid change to SSM and reports which settings changed", async () => {
    // Arrange
    const csrf = await ops.csrfFrom("/console/settings");
    const values = { ...(await formValues()), "min-confidence": "64.5", _csrf: csrf };

    // Act
    const response = await ops.postForm("/console/settings", values);
    const after = await (await ops.get(response.headers.get("location") ?? "")).text();

    // Assert
    expect(response.status).toBe(303);
    expect(await minConfidence()).toBe("64.5");
    expect(after).toContain("Saved: min-confidence.");
  });
});

describe("health", () => {
  it("charts the outcome records per hour and per model version", async () => {
    // Arrange
    const base = {
      outcome: "auto-labeled",
      image: null,
      label: "Acme",
      confidence: 91,
      modelVersionArn: "arn:aws:rekognition:us-east-1:000000000000:project/p/version/health-v1/1",
      loopName: null,
      answers: null,
      copiedKey: null,
      failure: null,
      audit: null,
      startTime: "2026-11-21T08:00:00.000Z",
      durationMs: 10,
    };
    const records = [
      { ...base, executionName: "h1", recordedAt: "2026-11-21T08:05:00.000Z" },
      {
        ...base,
        executionName: "h2",
        recordedAt: "2026-11-21T09:05:00.000Z",
        loopName: "review-x-0",
        audit: { verdict: "correction", modelLabel: "Acme", humanLabel: "Globex" },
        outcome: "human-labeled",
        label: "Globex",
      },
    ];
    for (const r of records) {
      await cloud.services.s3.objects.put(
        cloud.bucket,
        `${Prefixes.outcomes}${r.executionName}.json`,
        Buffer.from(JSON.stringify(r)),
      );
    }

    // Act
    const page = await (await ops.get("/console/health")).text();

    // Assert
    expect(page).toMatch(/<figcaption>Images per [^<]+<\/figcaption>/);
    expect(page).toMatch(/<figcaption>Human review rate \(per [^<]+\)<\/figcaption>/);
    expect(page).toMatch(/<figcaption>Auto-label accuracy from audits \(per [^<]+\)<\/figcaption>/);
    expect(page).toContain('<td class="arn">health-v1</td><td>2</td><td>50.0 %</td><td>1</td><td>0.0 %</td>');
  });
});
