/**
 * The console in Chromium against a trained local cloud: find a running review in the list as it
 * appears, follow it to completion while a reviewer answers in another tab, check the graph's
 * colours, open its human loop and see the answer; then the models and health pages.
 * Set SECONDLOOK_SCREENSHOTS_DIR to also save screenshots of the execution and health pages.
 */
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Prefixes } from "@secondlook/core/blueprint";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Worker } from "../../src/a2i/workforce";
import { putSetting } from "../../src/demo/bootstrap";
import { eventually, executionFor, startTrainedCloud, type TrainedCloud, uploadImage } from "../e2e/support";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../support/chromium";

const PASSWORD = "a calm and long passphrase";
const SHOTS = process.env.SECONDLOOK_SCREENSHOTS_DIR;

let fixture: TrainedCloud;
let context: BrowserContext;
let profileDir: string;
let page: Page;

async function screenshot(target: Page, name: string, fullPage = true) {
  if (!SHOTS) return;
  await mkdir(SHOTS, { recursive: true });
  await target.screenshot({ path: join(SHOTS, name), fullPage });
}

/** The status the graph shows for each state. */
async function graphStatuses(target: Page): Promise<Record<string, string>> {
  return target
    .locator("svg.graph g.state")
    .evaluateAll((nodes) =>
      Object.fromEntries(
        nodes.map((n) => [n.getAttribute("data-state") ?? "", n.getAttribute("data-status") ?? ""]),
      ),
    );
}

/** A reviewer who answers through the A2I task queue, as the portal does for a signed-in one. */
function simulatedReviewer(): Worker {
  return {
    id: randomUUID().replaceAll("-", "").slice(0, 16),
    sub: randomUUID(),
    username: "simulated",
    identityProviderType: "Oidc",
    issuer: fixture.cloud.webUrl,
  };
}

/**
 * Real outcomes for the health page: images human sampling sends to an auditor (who agrees with
 * the model on the first two and corrects it on the third, answering through the A2I task queue),
 * then images the model labels on its own. Any image the model is unsure of gets its label too.
 */
async function seedOutcomes() {
  const { cloud } = fixture;
  const queue = cloud.services.a2i.queue;
  const known = fixture.dataset.inference.filter((image) => image.known);
  const auditor = simulatedReviewer();
  const tally = { images: 0, audits: 0, agreements: 0 };
  const settle = async (name: string, body: Buffer, correct: boolean) => {
    const started = await executionFor(cloud, await uploadImage(cloud, name, body));
    tally.images += 1;
    await eventually(`${name} to finish`, async () => {
      const now = await cloud.services.states.describeExecution(started.executionArn ?? "");
      if (now.status !== "RUNNING") return now;
      const task = await queue.claimNext(auditor);
      if (!task) return undefined;
      const input = task.input as { detectedLabel?: string | null; reason?: string };
      const said = input.detectedLabel ?? fixture.labels[0] ?? "";
      const label = correct ? said : (fixture.labels.find((l) => l !== said) ?? said);
      if (input.reason === "sampling") {
        tally.audits += 1;
        if (label === said) tally.agreements += 1;
      }
      await queue.submit(auditor, task.humanLoopName, { category: { label } });
      return undefined;
    });
  };
  await putSetting(cloud, "humanSamplingPercent", 100);
  for (const [i, image] of known.slice(0, 3).entries()) await settle(`audited-${i}.png`, image.body, i < 2);
  await putSetting(cloud, "humanSamplingPercent", 0);
  for (const [i, image] of known.slice(3).entries()) await settle(`known-${i}.png`, image.body, true);
  return tally;
}

let seeded = { images: 0, audits: 0, agreements: 0 };

beforeAll(async () => {
  fixture = await startTrainedCloud();
  seeded = await seedOutcomes();
  profileDir = await mkdtemp(join(tmpdir(), "secondlook-chromium-"));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1360, height: 900 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  const { password } = await fixture.cloud.services.portal.accounts.add("ops");
  await page.goto(`${fixture.cloud.webUrl}/sign-in`);
  await page.getByLabel("Username").fill("ops");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL("**/change-password");
  await page.getByLabel("New password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("New password again").fill(PASSWORD);
  await page.getByRole("button", { name: "Save password" }).click();
  await page.waitForURL("**/?notice=password-changed");
}, 240_000);

afterAll(async () => {
  await context?.close();
  await fixture?.close();
  if (profileDir) await rm(profileDir, { recursive: true, force: true });
});

describe("the console in Chromium", () => {
  it("follows a review from the list to completion live, with the graph coloured and the loop's answer", async () => {
    // Arrange: the list is open before the image arrives.
    await page.goto(`${fixture.cloud.webUrl}/console/executions`);
    const unseen = fixture.dataset.inference.find((image) => !image.known);
    if (!unseen) throw new Error("no unseen image in the demo data set");
    const label = fixture.labels[1] ?? "";

    // Act: the new execution appears in the open list without a reload; open it.
    const key = await uploadImage(fixture.cloud, "watched.png", unseen.body);
    const started = await executionFor(fixture.cloud, key);
    const row = page.getByRole("link", { name: started.name ?? "" });
    await row.waitFor({ timeout: 20_000 });
    await row.click();
    await page.locator('g[data-state="StartHumanReview"][data-status="in-progress"]').waitFor();
    await page.evaluate(() => {
      (window as unknown as { stillSamePage: boolean }).stillSamePage = true;
    });
    const reviewer = await context.newPage();
    await reviewer.goto(`${fixture.cloud.webUrl}/`);
    await reviewer.getByRole("button", { name: "Start working" }).click();
    await reviewer.waitForURL("**/tasks/**");
    await reviewer.getByRole("radio", { name: label }).click();
    await reviewer.locator("crowd-form .crowd-btn-primary").click();
    await reviewer.waitForURL("**/?notice=done");
    await reviewer.close();
    await page.locator("h1 .badge.succeeded").waitFor({ timeout: 30_000 });
    const statuses = await graphStatuses(page);
    const succeededFill = await page
      .locator('g[data-state="CopyToLabeledFolder"] rect')
      .evaluate((rect) => getComputedStyle(rect).fill);
    const notRunFill = await page
      .locator('g[data-state="RecordAutoLabel"] rect')
      .evaluate((rect) => getComputedStyle(rect).fill);
    const samePage = await page.evaluate(
      () => (window as unknown as { stillSamePage?: boolean }).stillSamePage,
    );
    await page.setViewportSize({ width: 1360, height: 1480 });
    await screenshot(page, "console-execution.png", false);
    await page.setViewportSize({ width: 1360, height: 900 });
    await page.getByRole("link", { name: /^Human loop / }).click();
    const answer = await page.locator("td.answer").first().textContent();
    await screenshot(page, "console-human-loop.png");

    // Assert
    expect(samePage).toBe(true);
    expect(statuses).toMatchObject({
      DetectLabels: "succeeded",
      CheckConfidence: "succeeded",
      StartHumanReview: "succeeded",
      RouteAnswer: "succeeded",
      CopyToLabeledFolder: "succeeded",
      RecordAutoLabel: "not-run",
      KeepNegativeExample: "not-run",
      RecordSkip: "not-run",
    });
    expect(succeededFill).toBe("rgb(231, 246, 225)");
    expect(notRunFill).toBe("rgb(240, 242, 245)");
    expect(answer).toBe(label);
  });

  it("follows a running batch's map run to completion as its items are answered", async () => {
    // Arrange: two images the model has never seen, so each item waits for a reviewer.
    const { cloud } = fixture;
    const unseen = fixture.dataset.inference.filter((image) => !image.known).slice(1, 3);
    const refs: string[] = [];
    for (const [i, image] of unseen.entries()) {
      // Outside images_for_detection/, which would start a review of its own.
      const key = `batch-input/item-${i}.png`;
      await cloud.services.s3.objects.put(cloud.bucket, key, image.body);
      refs.push(JSON.stringify({ "source-ref": `s3://${cloud.bucket}/${key}` }));
    }
    await cloud.services.s3.objects.put(
      cloud.bucket,
      `${Prefixes.manifests}watched.jsonl`,
      Buffer.from(refs.join("\n")),
    );
    const reviewer = simulatedReviewer();

    // Act: find the running batch in the list, open it, then answer both items.
    await page.goto(`${cloud.webUrl}/console/executions?machine=reviewBatch&status=RUNNING`);
    const batch = page.locator('tr[data-status="RUNNING"] a').first();
    await batch.waitFor({ timeout: 20_000 });
    await batch.click();
    await page.locator('.map-run b.items-running:text-is("2")').waitFor({ timeout: 20_000 });
    for (let answered = 0; answered < 2; ) {
      const task = await cloud.services.a2i.queue.claimNext(reviewer);
      if (!task) {
        await new Promise((done) => setTimeout(done, 100));
        continue;
      }
      await cloud.services.a2i.queue.submit(reviewer, task.humanLoopName, {
        category: { label: fixture.labels[0] ?? "" },
      });
      answered += 1;
    }
    await page.locator("h1 .badge.succeeded").waitFor({ timeout: 30_000 });
    const succeeded = await page.locator(".map-run b.items-succeeded").textContent();
    const progress = await page.locator(".map-run svg.progress").getAttribute("aria-label");
    await screenshot(page, "console-batch.png", false);

    // Assert
    expect(succeeded).toBe("2");
    expect(progress).toBe("2 of 2 items done");
  });

  it("shows the active model version with its F1, precision, recall and confusion matrix", async () => {
    // Arrange
    const url = `${fixture.cloud.webUrl}/console/models`;

    // Act
    await page.goto(url);
    const active = page.locator("article.model.active");
    const f1 = Number(await active.locator("dd.f1").textContent());
    const cells = await active.locator("table.confusion td").count();
    await screenshot(page, "console-models.png");

    // Assert
    expect(await active.count()).toBe(1);
    expect(f1).toBeGreaterThan(0);
    expect(f1).toBeLessThanOrEqual(1);
    expect(cells).toBeGreaterThanOrEqual(fixture.labels.length ** 2);
  });

  it("charts the loop's health from the outcomes recorded", async () => {
    // Arrange
    const url = `${fixture.cloud.webUrl}/console/health`;

    // Act
    await page.goto(url);
    const images = Number(await page.locator(".stats div").first().locator("b").textContent());
    const bars = await page.locator("figure.images rect.bar").count();
    await screenshot(page, "console-health.png");

    // Assert
    // The seeded images, the one answered in the browser and the batch's two.
    expect(images).toBe(seeded.images + 3);
    expect(bars).toBeGreaterThanOrEqual(1);
    expect(await page.locator("figure.review-rate circle.dot").count()).toBeGreaterThanOrEqual(1);
    const accuracy = await page.locator(".stats div").nth(2).textContent();
    expect(seeded.audits).toBeGreaterThan(0);
    expect(accuracy).toContain(`${((100 * seeded.agreements) / seeded.audits).toFixed(1)} %`);
    expect(accuracy).toContain(`(${seeded.audits} audits)`);
  });
});
