/**
 * Chromium against the portal of a real local cloud: human loops started with the real A2I runtime
 * client on flow definitions made with the real SageMaker client, answered in the browser, and
 * checked in the output.json A2I writes.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type BrowserCloud,
  CROWD_SCRIPT,
  flowWith,
  loopStatus,
  outputOf,
  PASSWORD,
  type Reviewer,
  signedInReviewer,
  startBrowserCloud,
  startLoop,
  startWorking,
  stopOpenLoops,
  submit,
} from "./support";

const CLASSIFIER = `${CROWD_SCRIPT}
<crowd-form>
  <crowd-classifier name="category" categories="{{ task.input.labels | to_json | escape }}" header="{{ task.input.question }}">
    <classification-target>{{ task.input.text }}</classification-target>
    <short-instructions>Pick the one that fits.</short-instructions>
  </crowd-classifier>
</crowd-form>`;

let fixture: BrowserCloud;
let counter = 0;
const reviewers: Reviewer[] = [];

/** A unique, valid name for this test's flow definition, loop or reviewer. */
const unique = (prefix: string) => `${prefix}-${++counter}`;

async function reviewer(): Promise<Reviewer> {
  const created = await signedInReviewer(fixture, unique("reviewer"));
  reviewers.push(created);
  return created;
}

/** A flow with `template` and one loop on it; resolves to the loop name. */
async function aLoop(template: string, input: unknown, options: Parameters<typeof flowWith>[3] = {}) {
  const flowArn = await flowWith(fixture, unique("flow"), template, options);
  const name = unique("loop");
  await startLoop(fixture, flowArn, name, input);
  return { flowArn, name };
}

const textInput = (text: string) => ({ text, question: "Which fits?", labels: ["positive", "negative"] });

const statusText = (page: Page) => page.locator(".crowd-form-status").textContent();

beforeAll(async () => {
  fixture = await startBrowserCloud();
}, 120_000);

afterEach(async () => {
  await stopOpenLoops(fixture);
  for (const r of reviewers.splice(0)) await r.context.close();
});

afterAll(async () => {
  await fixture?.close();
});

describe("signing in and out", () => {
  it("refuses a wrong password with a message, then signs in with the right one and out again", async () => {
    // Arrange
    const { username, page } = await reviewer();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL("**/sign-in");

    // Act
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill("not the passphrase at all");
    await page.getByRole("button", { name: "Sign in" }).click();
    const refusal = await page.getByRole("alert").textContent();
    const urlAfterRefusal = new URL(page.url()).pathname;
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((url) => url.pathname === "/");
    const signedInAs = await page.locator(".nav .who").textContent();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL("**/sign-in");
    await page.goto(`${fixture.cloud.webUrl}/`);

    // Assert
    expect(refusal).toMatch(/username or password/i);
    expect(urlAfterRefusal).toBe("/sign-in");
    expect(signedInAs).toBe(username);
    expect(new URL(page.url()).pathname).toBe("/sign-in");
  });
});

describe("CSRF", () => {
  let attacker: Server;
  let attackerUrl: string;
  let target = "";

  beforeAll(async () => {
    // A page on another origin that posts a form to the portal as soon as it loads.
    attacker = createServer((_req, res) => {
      res.setHeader("content-type", "text/html; charset=utf-8");
      res.end(`<!doctype html><form id="f" method="post" action="${target}">
        <input name="_csrf" value="guessed"></form><script>document.getElementById("f").submit()</script>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, "127.0.0.1", resolve));
    attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => attacker.close(() => resolve()));
  });

  it("refuses a cross-site form post from another origin and keeps the reviewer's task and session", async () => {
    // Arrange
    const { name } = await aLoop(CLASSIFIER, textInput("held while attacked"));
    const r = await reviewer();
    expect(await startWorking(r, fixture)).toBe(name);

    // Act: the reviewer visits the attacker's page, which posts "skip" and then "sign out".
    const results: number[] = [];
    for (const path of [`/tasks/${name}/release`, "/sign-out"]) {
      target = `${fixture.cloud.webUrl}${path}`;
      const response = r.page.waitForResponse((res) => res.url() === target);
      await r.page.goto(attackerUrl);
      results.push((await response).status());
    }
    const back = await r.page.goto(`${fixture.cloud.webUrl}/tasks/${name}`);

    // Assert
    expect(results).toEqual([403, 403]);
    expect(back?.status()).toBe(200);
    expect(await r.page.locator("crowd-classifier .crowd-target").textContent()).toBe("held while attacked");
    expect(await r.page.locator(".nav .who").textContent()).toBe(r.username);
  });
});

describe("one reviewer's task is theirs alone", () => {
  it("answers 404 when another reviewer opens the task and 409 when they try to submit it", async () => {
    // Arrange
    const { name } = await aLoop(CLASSIFIER, textInput("ana's task"));
    const ana = await reviewer();
    const ben = await reviewer();
    await startWorking(ana, fixture);

    // Act
    const opened = await ben.page.goto(`${fixture.cloud.webUrl}/tasks/${name}`);
    const openedText = await ben.page.locator("main").textContent();
    await ben.page.goto(`${fixture.cloud.webUrl}/`);
    const forged = await ben.page.evaluate(async (loop) => {
      const token = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? "";
      const response = await fetch(`/tasks/${loop}/submit`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": token },
        body: JSON.stringify({ category: { label: "negative" } }),
      });
      return { status: response.status, body: await response.json() };
    }, name);
    await ana.page.getByRole("radio", { name: "positive" }).click();
    await submit(ana);

    // Assert
    expect(opened?.status()).toBe(404);
    expect(openedText).not.toContain("ana's task");
    expect(forged.status).toBe(409);
    expect(forged.body.error).toBe("TaskUnavailableError");
    const output = await outputOf(fixture, name);
    expect(output?.humanAnswers.map((a) => a.answerContent)).toEqual([{ category: { label: "positive" } }]);
  });
});

describe("TaskCount, time limits and expiry", () => {
  it("with TaskCount 2, two reviewers each answer once and output.json appears only after the second", async () => {
    // Arrange
    const { name } = await aLoop(CLASSIFIER, textInput("needs two opinions"), { taskCount: 2 });
    const ana = await reviewer();
    const ben = await reviewer();

    // Act
    await startWorking(ana, fixture);
    await ana.page.getByRole("radio", { name: "positive" }).click();
    await submit(ana);
    const afterFirst = (await loopStatus(fixture, name)).HumanLoopStatus;
    const outputAfterFirst = await outputOf(fixture, name);
    const anaAgain = await ana.page
      .goto(`${fixture.cloud.webUrl}/`)
      .then(() => ana.page.getByTestId("waiting").textContent());
    expect(await startWorking(ben, fixture)).toBe(name);
    await ben.page.getByRole("radio", { name: "negative" }).click();
    await submit(ben);
    const afterSecond = (await loopStatus(fixture, name)).HumanLoopStatus;
    const output = await outputOf(fixture, name);

    // Assert
    expect(afterFirst).toBe("InProgress");
    expect(outputAfterFirst).toBeUndefined();
    expect(anaAgain).toBe("0");
    expect(afterSecond).toBe("Completed");
    const accounts = await fixture.cloud.services.portal.accounts.list();
    const idOf = (username: string) => accounts.find((a) => a.username === username)?.workerId;
    expect(output?.humanAnswers.map((a) => [a.workerId, a.answerContent])).toEqual([
      [idOf(ana.username), { category: { label: "positive" } }],
      [idOf(ben.username), { category: { label: "negative" } }],
    ]);
  });

  it("releases a task to another reviewer after its time limit and refuses the first reviewer's late submit", async () => {
    // Arrange
    const { name } = await aLoop(CLASSIFIER, textInput("slow reviewer"), { taskTimeLimitInSeconds: 30 });
    const ana = await reviewer();
    const ben = await reviewer();
    await startWorking(ana, fixture);
    await ana.page.getByRole("radio", { name: "positive" }).click();

    // Act
    fixture.clock.advance(31_000);
    const benGot = await startWorking(ben, fixture);
    await ana.page.locator("crowd-form .crowd-btn-primary").click();
    await expect.poll(() => statusText(ana.page)).toContain("ran out");
    await ben.page.getByRole("radio", { name: "negative" }).click();
    await submit(ben);

    // Assert
    expect(benGot).toBe(name);
    expect(new URL(ana.page.url()).pathname).toBe(`/tasks/${name}`);
    expect((await loopStatus(fixture, name)).HumanLoopStatus).toBe("Completed");
    const output = await outputOf(fixture, name);
    expect(output?.humanAnswers.map((a) => a.answerContent)).toEqual([{ category: { label: "negative" } }]);
  });

  it("expires a loop whose lifetime runs out as Failed/Expired and tells the reviewer it is closed", async () => {
    // Arrange
    const { name } = await aLoop(CLASSIFIER, textInput("too late"), {
      taskTimeLimitInSeconds: 30,
      taskAvailabilityLifetimeInSeconds: 60,
    });
    const ana = await reviewer();
    await startWorking(ana, fixture);
    await ana.page.getByRole("radio", { name: "positive" }).click();

    // Act
    fixture.clock.advance(61_000);
    await ana.page.locator("crowd-form .crowd-btn-primary").click();
    await expect.poll(() => statusText(ana.page)).toContain("expired");
    const described = await loopStatus(fixture, name);
    await ana.page.locator(".crowd-form-status a").click();
    await ana.page.waitForURL((url) => url.pathname === "/");

    // Assert
    expect(described.HumanLoopStatus).toBe("Failed");
    expect(described.FailureCode).toBe("Expired");
    expect(await ana.page.getByTestId("waiting").textContent()).toBe("0");
    expect(await outputOf(fixture, name)).toBeUndefined();
  });
});

describe("escaping", () => {
  it("renders script in a label and in the task input as text, runs none of it, and keeps the label verbatim", async () => {
    // Arrange
    const evilLabel = `<img src=x onerror="window.__xss=1">`;
    const evilText = `<script>window.__xss=2</script><img src=x onerror="window.__xss=3">`;
    const evilQuestion = `"><svg onload="window.__xss=4">`;
    const { name } = await aLoop(CLASSIFIER, {
      text: evilText,
      question: evilQuestion,
      labels: [evilLabel, "fine"],
    });
    const r = await reviewer();
    await startWorking(r, fixture);

    // Act
    const label = await r.page.locator(".crowd-option span").first().textContent();
    const target = await r.page.locator(".crowd-target").textContent();
    const injected = await r.page.locator('img[src="x"], svg[onload]').count();
    await r.page.locator(".crowd-option").first().click();
    const ran = await r.page.evaluate(() => (window as unknown as { __xss?: number }).__xss);
    await submit(r);

    // Assert
    expect(label).toBe(evilLabel);
    expect(target).toBe(evilText);
    expect(injected).toBe(0);
    expect(ran).toBeUndefined();
    const output = await outputOf(fixture, name);
    expect(output?.humanAnswers[0]?.answerContent).toEqual({ category: { label: evilLabel } });
  });
});

describe("each crowd element's answerContent arrives in output.json", () => {
  /** Starts a loop on `template`, lets `act` answer it in the browser, and returns what A2I stored. */
  async function answerThroughA2I(template: string, input: unknown, act: (page: Page) => Promise<void>) {
    const { name } = await aLoop(template, input);
    const r = await reviewer();
    await startWorking(r, fixture);
    await act(r.page);
    await submit(r);
    const output = await outputOf(fixture, name);
    expect(output?.humanAnswers).toHaveLength(1);
    return output?.humanAnswers[0]?.answerContent;
  }

  it("crowd-image-classifier with a worker comment", async () => {
    // Act
    const answer = await answerThroughA2I(
      `${CROWD_SCRIPT}<crowd-form>
  <crowd-image-classifier name="animal" src="{{ task.input.taskObject | grant_read_access }}" header="What is it?"
    categories="['Cat','Dog','None of the Above']">
    <short-instructions>Pick one</short-instructions>
    <worker-comment header="Comment" link-text="Add a comment" placeholder="Why?"></worker-comment>
  </crowd-image-classifier></crowd-form>`,
      { taskObject: fixture.imageUri },
      async (page) => {
        await page.getByRole("radio", { name: "Dog" }).click();
        await page.getByRole("button", { name: "Add a comment" }).click();
        await page.getByRole("textbox", { name: "Comment" }).fill("ears look canine");
      },
    );

    // Assert
    expect(answer).toEqual({ animal: { label: "Dog", workerComment: "ears look canine" } });
  });

  it("crowd-image-classifier-multi-select", async () => {
    // Act
    const answer = await answerThroughA2I(
      `${CROWD_SCRIPT}<crowd-form>
  <crowd-image-classifier-multi-select name="tags" src="{{ task.input.taskObject | grant_read_access }}"
    header="Tags" categories='["red", "round", "text"]' exclusion-category="{ text: 'None of these' }">
  </crowd-image-classifier-multi-select></crowd-form>`,
      { taskObject: fixture.imageUri },
      async (page) => {
        await page.getByRole("checkbox", { name: "text" }).click();
        await page.getByRole("checkbox", { name: "red" }).click();
      },
    );

    // Assert
    expect(answer).toEqual({ tags: { labels: ["red", "text"] } });
  });

  it("crowd-classifier", async () => {
    // Act
    const answer = await answerThroughA2I(CLASSIFIER, textInput("what a day"), async (page) => {
      await page.getByRole("radio", { name: "negative" }).click();
    });

    // Assert
    expect(answer).toEqual({ category: { label: "negative" } });
  });

  it("crowd-classifier-multi-select with an exclusion category", async () => {
    // Act
    const answer = await answerThroughA2I(
      `${CROWD_SCRIPT}<crowd-form>
  <crowd-classifier-multi-select name="topics" categories="{{ task.input.topics | to_json | escape }}" header="Topics"
    exclusion-category="{ text: 'None of the above' }">
    <classification-target>{{ task.input.text }}</classification-target>
  </crowd-classifier-multi-select></crowd-form>`,
      { text: "MS Dhoni retired from cricket", topics: ["World", "Sports", "Business"] },
      async (page) => {
        await page.getByRole("checkbox", { name: "Sports" }).click();
        await page.getByRole("checkbox", { name: "World" }).click();
      },
    );

    // Assert
    expect(answer).toEqual({ topics: { labels: ["World", "Sports"] } });
  });

  it("crowd-input, crowd-text-area, crowd-checkbox and crowd-radio-group", async () => {
    // Act
    const answer = await answerThroughA2I(
      `${CROWD_SCRIPT}<crowd-form>
  <crowd-input name="brand" label="Brand name"></crowd-input>
  <crowd-text-area name="notes" label="Notes"></crowd-text-area>
  <crowd-checkbox name="flags" value="blurry">Blurry</crowd-checkbox>
  <crowd-checkbox name="flags" value="cropped">Cropped</crowd-checkbox>
  <crowd-checkbox name="agree">I looked closely</crowd-checkbox>
  <crowd-radio-group>
    <crowd-radio-button name="size" value="small">Small</crowd-radio-button>
    <crowd-radio-button name="size" value="big">Big</crowd-radio-button>
  </crowd-radio-group></crowd-form>`,
      {},
      async (page) => {
        await page.getByLabel("Brand name").fill("Acme");
        await page.getByLabel("Notes").fill("line one\nline two");
        await page.getByLabel("Cropped").check();
        await page.getByLabel("I looked closely").check();
        await page.getByLabel("Big").check();
      },
    );

    // Assert
    expect(answer).toEqual({
      brand: "Acme",
      notes: "line one\nline two",
      flags: { blurry: false, cropped: true },
      agree: { on: true },
      size: { small: false, big: true },
    });
  });

  it("crowd-bounding-box", async () => {
    // Act
    const answer = await answerThroughA2I(
      `${CROWD_SCRIPT}<crowd-form>
  <crowd-bounding-box name="annotatedResult" src="{{ task.input.taskObject | grant_read_access }}"
    header="Draw a box around the logo" labels="['logo']"></crowd-bounding-box></crowd-form>`,
      { taskObject: fixture.imageUri },
      async (page) => {
        const image = page.locator("crowd-bounding-box img");
        await expect.poll(() => image.evaluate((i: HTMLImageElement) => i.naturalWidth)).toBe(240);
        const box = await image.boundingBox();
        if (!box) throw new Error("image not laid out");
        const scale = 240 / box.width;
        await page.mouse.move(box.x + 20 / scale, box.y + 10 / scale);
        await page.mouse.down();
        await page.mouse.move(box.x + 80 / scale, box.y + 50 / scale, { steps: 4 });
        await page.mouse.move(box.x + 120 / scale, box.y + 90 / scale, { steps: 4 });
        await page.mouse.up();
      },
    );

    // Assert
    const boxes = (answer as { annotatedResult: { boundingBoxes: Record<string, number | string>[] } })
      .annotatedResult.boundingBoxes;
    expect(answer).toEqual({
      annotatedResult: {
        boundingBoxes: [
          {
            label: "logo",
            left: expect.any(Number),
            top: expect.any(Number),
            width: expect.any(Number),
            height: expect.any(Number),
          },
        ],
        inputImageProperties: { height: 160, width: 240 },
      },
    });
    const [drawn] = boxes as { left: number; top: number; width: number; height: number }[];
    expect(Math.abs((drawn?.left ?? 0) - 20)).toBeLessThanOrEqual(1);
    expect(Math.abs((drawn?.top ?? 0) - 10)).toBeLessThanOrEqual(1);
    expect(Math.abs((drawn?.width ?? 0) - 100)).toBeLessThanOrEqual(1);
    expect(Math.abs((drawn?.height ?? 0) - 80)).toBeLessThanOrEqual(1);
  });
});
