/**
 * Real-browser tests: Chromium drives the portal the way a reviewer does, and each crowd element
 * must submit exactly the answerContent shape A2I stores.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FlowDefinition } from "@secondlook/core/blueprint";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../support/chromium";
import { type PortalFixture, startPortal } from "./fakes";

const PASSWORD = "a calm and long passphrase";
const IMAGE_KEY = "images_for_detection/logo.png";

let fixture: PortalFixture;
let context: BrowserContext;
let profileDir: string;
let page: Page;
let loopCounter = 0;
let workerTemplate: string;

async function logoPng(width: number, height: number): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="#f4efe6"/>
    <circle cx="${width / 2}" cy="${height / 2}" r="${Math.min(width, height) / 3}" fill="#d9480f"/>
    <rect x="${width / 2 - 30}" y="${height / 2 - 8}" width="60" height="16" rx="4" fill="#fff"/>
  </svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** Queues one task with `template` and `input`, then opens it through "Start working". */
async function openTask(template: string, input: Record<string, unknown> = {}): Promise<string> {
  loopCounter += 1;
  const name = `loop-${loopCounter}`;
  fixture.queue.add(name, { taskObject: `s3://bucket-a/${IMAGE_KEY}`, ...input }, template);
  await page.goto(`${fixture.portal.url}/`);
  await page.getByRole("button", { name: "Start working" }).click();
  await page.waitForURL(`**/tasks/${name}`);
  return name;
}

/** Clicks Submit and returns what the queue recorded for that task. */
async function submitAndRead(name: string): Promise<Record<string, unknown> | undefined> {
  await page.locator("crowd-form .crowd-btn-primary").click();
  await page.waitForURL("**/?notice=done");
  return fixture.queue.answers.find((a) => a.humanLoopName === name)?.answerContent;
}

beforeAll(async () => {
  fixture = await startPortal();
  await fixture.objects.put("bucket-a", IMAGE_KEY, await logoPng(240, 160));
  workerTemplate = await readFile(
    new URL(`../../../../${FlowDefinition.templateFile}`, import.meta.url),
    "utf8",
  );
  profileDir = await mkdtemp(join(tmpdir(), "secondlook-chromium-"));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 820 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  // Sign in through the UI once: generated password, then the forced change.
  const { password } = await fixture.portal.accounts.add("ana");
  await page.goto(`${fixture.portal.url}/`);
  await page.getByLabel("Username").fill("ana");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL("**/change-password");
  await page.getByLabel("New password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("New password again").fill(PASSWORD);
  await page.getByRole("button", { name: "Save password" }).click();
  await page.waitForURL("**/?notice=password-changed");
});

afterAll(async () => {
  await context?.close();
  await fixture?.close();
  if (profileDir) await rm(profileDir, { recursive: true, force: true });
});

beforeEach(() => {
  // Every test starts on an empty queue so "Start working" opens the task it just added.
  for (const entry of fixture.queue.tasks) entry.closed = true;
});

describe("reviewing in the browser", () => {
  it("answers the review-image task by clicking a category and Submit", async () => {
    // Arrange
    const name = await openTask(workerTemplate, {
      categories: ["Acme", "Globex", "None of the Above"],
      detectedLabel: "Acme",
      confidence: 41.72,
      reason: "low-confidence",
      taskToken: "token-that-must-stay-hidden",
    });
    await expect
      .poll(() =>
        page.locator("crowd-image-classifier img").evaluate((i: HTMLImageElement) => i.naturalWidth),
      )
      .toBe(240);
    await page.screenshot({ path: "/tmp/portal-task.png", fullPage: true });

    // Act
    await page.getByRole("radio", { name: "Globex" }).click();
    const answer = await submitAndRead(name);

    // Assert
    expect(answer).toEqual({ category: { label: "Globex" } });
  });

  it("enables Start working when a task arrives while the queue page is open, without a reload", async () => {
    // Arrange
    await page.goto(`${fixture.portal.url}/`);
    const start = page.getByRole("button", { name: "Start working" });
    const disabledAtFirst = await start.isDisabled();

    // Act
    loopCounter += 1;
    fixture.queue.add(`loop-${loopCounter}`, { taskObject: `s3://bucket-a/${IMAGE_KEY}` }, workerTemplate);

    // Assert
    expect(disabledAtFirst).toBe(true);
    await expect.poll(() => start.isEnabled(), { timeout: 10_000 }).toBe(true);
    expect(await page.getByTestId("waiting").textContent()).toBe("1");
    expect(await page.locator("#waiting-noun").textContent()).toBe("task waiting for you");
  });

  it("shows the model's guess and never the task token", async () => {
    // Arrange
    await openTask(workerTemplate, {
      categories: ["Acme", "None of the Above"],
      detectedLabel: "Acme",
      confidence: 41.72,
      reason: "sampling",
      taskToken: "token-that-must-stay-hidden",
    });

    // Act
    const text = ((await page.locator(".crowd-short").textContent()) ?? "").replace(/\s+/g, " ");

    // Assert
    expect(text).toContain("The model guessed Acme with 41.7% confidence.");
    expect(text).toContain("picked at random");
    expect(await page.content()).not.toContain("token-that-must-stay-hidden");
  });

  it("answers with the keyboard only: a number key picks, Enter submits", async () => {
    // Arrange
    fixture.queue.add(
      `loop-kbd`,
      {
        taskObject: `s3://bucket-a/${IMAGE_KEY}`,
        categories: ["Acme", "Globex", "None of the Above"],
        detectedLabel: null,
        reason: "low-confidence",
      },
      workerTemplate,
    );
    await page.goto(`${fixture.portal.url}/`);
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe("Start working");

    // Act
    await page.keyboard.press("Enter");
    await page.waitForURL("**/tasks/loop-kbd");
    await page.locator(".crowd-option").first().waitFor();
    await page.keyboard.press("3");
    await page.keyboard.press("Enter");
    await page.waitForURL("**/?notice=done");

    // Assert
    expect(fixture.queue.answers.find((a) => a.humanLoopName === "loop-kbd")?.answerContent).toEqual({
      category: { label: "None of the Above" },
    });
  });

  it("refuses to submit without a choice and says why", async () => {
    // Arrange
    const name = await openTask(workerTemplate, { categories: ["Acme", "None of the Above"] });

    // Act
    await page.keyboard.press("Enter");

    // Assert
    await expect.poll(() => page.locator(".crowd-form-status").textContent()).toBe("Choose a category.");
    expect(fixture.queue.answers.find((a) => a.humanLoopName === name)).toBeUndefined();
  });

  it("skips with s, shows help with ?, and zooms the image with z", async () => {
    // Arrange
    const name = await openTask(workerTemplate, { categories: ["Acme", "None of the Above"] });
    await page.locator(".crowd-option").first().waitFor();

    // Act
    await page.keyboard.press("z");
    const zoomed = await page.locator(".crowd-zoom").isVisible();
    await page.keyboard.press("Escape");
    await page.keyboard.press("?");
    const help = await page.locator("#shortcuts").isVisible();
    await page.keyboard.press("Escape");
    await page.keyboard.press("s");
    await page.waitForURL("**/?notice=skipped");

    // Assert
    expect(zoomed).toBe(true);
    expect(help).toBe(true);
    expect(fixture.queue.tasks.find((t) => t.task.humanLoopName === name)?.holder).toBeUndefined();
  });

  it("opens the full instructions with one click and with i", async () => {
    // Arrange
    await openTask(workerTemplate, { categories: ["Acme", "None of the Above"] });
    const dialog = page.locator(".crowd-full-dialog");

    // Act
    await page.getByRole("button", { name: "View full instructions" }).click();
    const byClick = await dialog.isVisible();
    await page.keyboard.press("Escape");
    const closed = await dialog.isVisible();
    await page.keyboard.press("i");

    // Assert
    expect(byClick).toBe(true);
    expect(closed).toBe(false);
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await dialog.locator("h2").textContent()).toBe("How to label logos");
  });

  it("tells the reviewer when the hold ran out, keeps the page and offers the way back", async () => {
    // Arrange
    const name = await openTask(workerTemplate, { categories: ["Acme", "None of the Above"] });
    await page.getByRole("radio", { name: "Acme" }).click();
    fixture.clock.advance(601_000);

    // Act
    await page.locator("crowd-form .crowd-btn-primary").click();

    // Assert
    await expect.poll(() => page.locator(".crowd-form-status").textContent()).toContain("ran out");
    expect(page.url()).toContain(`/tasks/${name}`);
    expect(await page.locator(".crowd-form-status a").getAttribute("href")).toBe("/");
    expect(fixture.queue.answers.find((a) => a.humanLoopName === name)).toBeUndefined();
  });

  it("reads category lists written as JSON or in A2I's single-quoted form", async () => {
    // Arrange
    await openTask(workerTemplate, { categories: ["Acme"] });

    // Act
    const parsed = await page.evaluate(() => {
      const { parseList, parseExclusion } = (
        window as unknown as {
          crowdElements: { parseList(s: string): unknown[]; parseExclusion(s: string): string | null };
        }
      ).crowdElements;
      return {
        json: parseList('["a","b, c"]'),
        quoted: parseList("['Cat','Dog', 'None of the Above']"),
        escaped: parseList("['Don\\'t know', \"it's\"]"),
        empty: parseList(""),
        exclusion: parseExclusion("{ text: 'None of the above' }"),
      };
    });

    // Assert
    expect(parsed).toEqual({
      json: ["a", "b, c"],
      quoted: ["Cat", "Dog", "None of the Above"],
      escaped: ["Don't know", "it's"],
      empty: [],
      exclusion: "None of the above",
    });
  });

  it("renders a hostile label as text and runs none of it", async () => {
    // Arrange
    const evil = `<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>`;
    const name = await openTask(workerTemplate, {
      categories: [evil, "None of the Above"],
      detectedLabel: `<script>window.__xss=2</script>`,
    });
    await page.locator(".crowd-option").first().waitFor();

    // Act
    const label = await page.locator(".crowd-option span").first().textContent();
    await page.locator(".crowd-option").first().click();
    const answer = await submitAndRead(name);

    // Assert
    expect(label).toBe(evil);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(answer).toEqual({ category: { label: evil } });
  });
});

describe("each crowd element submits A2I's exact answerContent shape", () => {
  it("crowd-image-classifier reads single-quoted categories and keeps a worker comment", async () => {
    // Arrange
    const name = await openTask(`<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <crowd-image-classifier name="animal" src="{{ task.input.taskObject | grant_read_access }}" header="What is it?"
    categories="['Cat','Dog','None of the Above']">
    <short-instructions>Pick one</short-instructions>
    <worker-comment header="Comment" link-text="Add a comment" placeholder="Why?"></worker-comment>
  </crowd-image-classifier>
</crowd-form>`);

    // Act
    await page.getByRole("radio", { name: "Dog" }).click();
    await page.getByRole("button", { name: "Add a comment" }).click();
    await page.getByRole("textbox", { name: "Comment" }).fill("ears look canine");
    const answer = await submitAndRead(name);

    // Assert
    expect(answer).toEqual({ animal: { label: "Dog", workerComment: "ears look canine" } });
  });

  it("crowd-image-classifier-multi-select submits labels in category order", async () => {
    // Arrange
    const name = await openTask(`<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <crowd-image-classifier-multi-select name="tags" src="{{ task.input.taskObject | grant_read_access }}"
    header="Tags" categories='["red", "round", "text"]' exclusion-category="{ text: 'None of these' }">
  </crowd-image-classifier-multi-select>
</crowd-form>`);

    // Act
    await page.getByRole("checkbox", { name: "text" }).click();
    await page.getByRole("checkbox", { name: "red" }).click();
    const answer = await submitAndRead(name);

    // Assert
    expect(answer).toEqual({ tags: { labels: ["red", "text"] } });
  });

  it("crowd-classifier submits one label for a text target", async () => {
    // Arrange
    const name = await openTask(
      `<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <crowd-classifier name="category" categories="['Legit','Needs furthur review']" header="Fraud?">
    <classification-target>{{ task.input.text }}</classification-target>
  </crowd-classifier>
</crowd-form>`,
      { text: "Order #1 from NJ" },
    );

    // Act
    await expect.poll(() => page.locator(".crowd-target").textContent()).toBe("Order #1 from NJ");
    await page.getByRole("radio", { name: "Needs furthur review" }).click();
    const answer = await submitAndRead(name);

    // Assert
    expect(answer).toEqual({ category: { label: "Needs furthur review" } });
  });

  it("crowd-classifier-multi-select makes the exclusion category exclusive", async () => {
    // Arrange
    const name = await openTask(`<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <crowd-classifier-multi-select name="category" categories="['World','Sports']" header="Topics"
    exclusion-category="{ text: 'None of the above' }">
    <classification-target>MS Dhoni retired from cricket</classification-target>
  </crowd-classifier-multi-select>
</crowd-form>`);

    // Act
    await page.getByRole("checkbox", { name: "Sports" }).click();
    await page.getByRole("checkbox", { name: "None of the above" }).click();
    await page.getByRole("checkbox", { name: "World" }).click();
    const answer = await submitAndRead(name);

    // Assert
    expect(answer).toEqual({ category: { labels: ["World"] } });
  });

  it("crowd-input, crowd-text-area, crowd-checkbox and radio buttons submit their shapes, empty inputs omitted", async () => {
    // Arrange
    const name = await openTask(`<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <crowd-input name="brand" label="Brand name"></crowd-input>
  <crowd-input name="unused" label="Leave empty"></crowd-input>
  <crowd-text-area name="notes" label="Notes"></crowd-text-area>
  <crowd-checkbox name="flags" value="blurry">Blurry</crowd-checkbox>
  <crowd-checkbox name="flags" value="cropped">Cropped</crowd-checkbox>
  <crowd-checkbox name="agree">I looked closely</crowd-checkbox>
  <crowd-radio-group>
    <crowd-radio-button name="size" value="small">Small</crowd-radio-button>
    <crowd-radio-button name="size" value="big">Big</crowd-radio-button>
  </crowd-radio-group>
</crowd-form>`);

    // Act
    await page.getByLabel("Brand name").fill("Acme");
    await page.getByLabel("Notes").fill("line one\nline two");
    await page.getByLabel("Blurry").check();
    await page.getByLabel("I looked closely").check();
    await page.getByLabel("Small").check();
    await page.getByLabel("Big").check();
    const answer = await submitAndRead(name);

    // Assert
    expect(answer).toEqual({
      brand: "Acme",
      notes: "line one\nline two",
      flags: { blurry: true, cropped: false },
      agree: { on: true },
      size: { small: false, big: true },
    });
  });

  it("crowd-bounding-box submits pixel boxes and the image's size", async () => {
    // Arrange
    const name = await openTask(`<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <crowd-bounding-box name="annotatedResult" src="{{ task.input.taskObject | grant_read_access }}"
    header="Draw a box around the logo" labels="['logo']"></crowd-bounding-box>
</crowd-form>`);
    const image = page.locator("crowd-bounding-box img");
    await expect.poll(() => image.evaluate((i: HTMLImageElement) => i.naturalWidth)).toBe(240);
    const box = await image.boundingBox();
    if (!box) throw new Error("image not laid out");
    const scale = 240 / box.width;

    // Act
    await page.mouse.move(box.x + 20 / scale, box.y + 10 / scale);
    await page.mouse.down();
    await page.mouse.move(box.x + 80 / scale, box.y + 50 / scale, { steps: 4 });
    await page.mouse.move(box.x + 120 / scale, box.y + 90 / scale, { steps: 4 });
    await page.mouse.up();
    const answer = (await submitAndRead(name)) as {
      annotatedResult: {
        boundingBoxes: { label: string; left: number; top: number; width: number; height: number }[];
      };
    };

    // Assert
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
    const [drawn] = answer.annotatedResult.boundingBoxes;
    expect(Math.abs((drawn?.left ?? 0) - 20)).toBeLessThanOrEqual(1);
    expect(Math.abs((drawn?.top ?? 0) - 10)).toBeLessThanOrEqual(1);
    expect(Math.abs((drawn?.width ?? 0) - 100)).toBeLessThanOrEqual(1);
    expect(Math.abs((drawn?.height ?? 0) - 80)).toBeLessThanOrEqual(1);
  });
});

describe("template preview", () => {
  it("renders the review-image template with its image inside the sandboxed frame", async () => {
    // Arrange
    await page.goto(`${fixture.portal.url}/preview`);
    await page.getByLabel("Sample input").fill(
      JSON.stringify({
        taskObject: `s3://bucket-a/${IMAGE_KEY}`,
        categories: ["Acme", "None of the Above"],
      }),
    );

    // Act
    await page.getByRole("button", { name: "Render" }).click();
    const frame = page.frameLocator("iframe.preview-frame");

    // Assert
    await expect
      .poll(() =>
        frame.locator("crowd-image-classifier img").evaluate((i: HTMLImageElement) => i.naturalWidth),
      )
      .toBe(240);
    await frame.getByRole("radio", { name: "None of the Above" }).click();
    await frame.locator(".crowd-btn-primary").click();
    await expect
      .poll(async () => JSON.parse((await page.getByTestId("answer-content").textContent()) ?? "null"))
      .toEqual({ category: { label: "None of the Above" } });
  });

  it("shows the answerContent a submit of the pasted template would produce", async () => {
    // Arrange
    await page.goto(`${fixture.portal.url}/preview`);
    await page
      .getByLabel("Worker template")
      .fill(`<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form><crowd-classifier name="topic" categories="{{ task.input.options | to_json | escape }}" header="Topic">
<classification-target>{{ task.input.text }}</classification-target></crowd-classifier></crowd-form>`);
    await page.getByLabel("Sample input").fill(JSON.stringify({ options: ["News", "Sport"], text: "Goal!" }));
    await page.getByRole("button", { name: "Render" }).click();
    const frame = page.frameLocator("iframe.preview-frame");

    // Act
    await frame.getByRole("radio", { name: "Sport" }).click();
    await frame.locator(".crowd-btn-primary").click();

    // Assert
    await expect
      .poll(async () => JSON.parse((await page.getByTestId("answer-content").textContent()) ?? "null"))
      .toEqual({ topic: { label: "Sport" } });
  });
});
