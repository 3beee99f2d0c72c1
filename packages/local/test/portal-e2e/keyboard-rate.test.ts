/**
 * The keyboard-only bar, measured: a reviewer answers ≥ 30 real review-image loops in Chromium with
 * number keys and Enter alone, and must manage at least 20 tasks a minute from first to last submit.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { FlowDefinition } from "@secondlook/core/blueprint";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../src/paths";
import {
  type BrowserCloud,
  flowWith,
  outputOf,
  type Reviewer,
  signedInReviewer,
  startBrowserCloud,
  startLoop,
} from "./support";

const TASKS = 30;
const REQUIRED_TASKS_PER_MINUTE = 20;
const CATEGORIES = ["Acme", "Globex", "Initech", "None of the Above"];

let fixture: BrowserCloud;
let reviewer: Reviewer;
const names: string[] = [];

beforeAll(async () => {
  fixture = await startBrowserCloud();
  // The project's own worker template, as the deployed flow definition uses it.
  const template = await readFile(join(REPO_ROOT, FlowDefinition.templateFile), "utf8");
  const flowArn = await flowWith(fixture, "keyboard-rate", template);
  for (let i = 0; i < TASKS; i += 1) {
    const name = `kbd-${String(i).padStart(2, "0")}`;
    await startLoop(fixture, flowArn, name, {
      taskObject: fixture.imageUri,
      categories: CATEGORIES,
      detectedLabel: "Acme",
      confidence: 41.7,
      reason: "low-confidence",
    });
    // Loops a second apart, so the queue hands them out in this order.
    fixture.clock.advance(1_000);
    names.push(name);
  }
  reviewer = await signedInReviewer(fixture, "speedy");
}, 120_000);

afterAll(async () => {
  await reviewer?.context.close();
  await fixture?.close();
});

describe("keyboard-only reviewing", () => {
  it(`answers ${TASKS} classification tasks with number keys and Enter at ${REQUIRED_TASKS_PER_MINUTE}+ tasks a minute`, async () => {
    // Arrange: the queue page focuses "Start working", so Enter opens the first task.
    const { page } = reviewer;
    await page.goto(`${fixture.cloud.webUrl}/`);
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe("Start working");
    await page.keyboard.press("Enter");
    const submits: number[] = [];
    const expected = new Map<string, string>();

    // Act: for each task, wait until a person could see it (options and image shown), pick, submit.
    for (let i = 0; i < TASKS; i += 1) {
      await page.waitForURL("**/tasks/**");
      const name = decodeURIComponent(new URL(page.url()).pathname.split("/").pop() ?? "");
      await page.locator(".crowd-option").first().waitFor();
      await page.waitForFunction(() => {
        const image = document.querySelector<HTMLImageElement>("crowd-image-classifier img");
        return image?.complete === true && image.naturalWidth > 0;
      });
      const key = (i % CATEGORIES.length) + 1;
      expected.set(name, CATEGORIES[key - 1] ?? "");
      await page.keyboard.press(String(key));
      await page.keyboard.press("Enter");
      submits.push(performance.now());
      await page.waitForURL((url) => url.pathname !== `/tasks/${name}`);
    }
    const minutes = ((submits.at(-1) ?? 0) - (submits[0] ?? 0)) / 60_000;
    const perMinute = (TASKS - 1) / minutes;
    console.log(
      `keyboard-only reviewing: ${perMinute.toFixed(1)} tasks/minute over ${TASKS} tasks in Chromium`,
    );

    // Assert
    expect(new URL(page.url()).search).toBe("?notice=done");
    expect([...expected.keys()].sort()).toEqual(names);
    for (const [name, label] of expected) {
      const output = await outputOf(fixture, name);
      expect(output?.humanAnswers.map((a) => a.answerContent)).toEqual([{ category: { label } }]);
    }
    expect(perMinute).toBeGreaterThanOrEqual(REQUIRED_TASKS_PER_MINUTE);
  });
});
