/**
 * The whole loop in a real browser: Chromium signs in to the portal of a running local cloud,
 * answers a real review-image task by clicking a category and Submit, and the image lands in
 * its label folder while the execution ends SUCCEEDED.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Prefixes } from "@secondlook/core/blueprint";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../support/chromium";
import {
  executionFor,
  finished,
  outcomeOf,
  readObject,
  startTrainedCloud,
  statesEntered,
  type TrainedCloud,
  uploadImage,
} from "./support";

const PASSWORD = "a calm and long passphrase";

let fixture: TrainedCloud;
let context: BrowserContext;
let profileDir: string;
let page: Page;

beforeAll(async () => {
  fixture = await startTrainedCloud();
  profileDir = await mkdtemp(join(tmpdir(), "secondlook-chromium-"));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 820 },
  });
  page = context.pages()[0] ?? (await context.newPage());
}, 120_000);

afterAll(async () => {
  await context?.close();
  await fixture?.close();
  if (profileDir) await rm(profileDir, { recursive: true, force: true });
});

describe("a reviewer in Chromium", () => {
  it("signs in, answers a task by clicking a category, and the image is labeled", async () => {
    // Arrange: an image the model has never seen goes to review.
    const image = fixture.dataset.inference.find((candidate) => !candidate.known);
    if (!image) throw new Error("no unseen image in the demo data set");
    const label = fixture.labels[2] ?? "";
    const key = await uploadImage(fixture.cloud, "from the browser.png", image.body);
    const started = await executionFor(fixture.cloud, key);
    const { password } = await fixture.cloud.services.portal.accounts.add("bea");

    // Act: sign in with the generated password, choose one's own, start working, answer.
    await page.goto(`${fixture.cloud.webUrl}/`);
    await page.getByLabel("Username").fill("bea");
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL("**/change-password");
    await page.getByLabel("New password", { exact: true }).fill(PASSWORD);
    await page.getByLabel("New password again").fill(PASSWORD);
    await page.getByRole("button", { name: "Save password" }).click();
    await page.waitForURL("**/?notice=password-changed");
    await page.getByRole("button", { name: "Start working" }).click();
    await page.waitForURL("**/tasks/**");
    await expect
      .poll(() =>
        page.locator("crowd-image-classifier img").evaluate((img: HTMLImageElement) => img.naturalWidth),
      )
      .toBeGreaterThan(0);
    await page.getByRole("radio", { name: label }).click();
    await page.locator("crowd-form .crowd-btn-primary").click();
    await page.waitForURL("**/?notice=done");
    const execution = await finished(fixture.cloud, started.executionArn ?? "");

    // Assert
    expect(execution.status).toBe("SUCCEEDED");
    expect(await statesEntered(fixture.cloud, execution.executionArn ?? "")).toContain("CopyToLabeledFolder");
    const outcome = await outcomeOf(fixture.cloud, execution.name ?? "");
    expect(outcome).toMatchObject({ outcome: "human-labeled", label });
    const copiedKey = String(outcome.copiedKey);
    expect(copiedKey.startsWith(`${Prefixes.labeled}${label}/`)).toBe(true);
    expect(await readObject(fixture.cloud, copiedKey)).toEqual(image.body);
  });
});
