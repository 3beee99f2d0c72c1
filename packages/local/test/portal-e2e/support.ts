/**
 * A real local cloud for browser tests: Chromium against the portal of `startLocalCloud`, human loops
 * started with the real A2I runtime client on flow definitions the test creates, and answers read
 * back from the output.json A2I wrote.
 */
import { ListFlowDefinitionsCommand } from "@aws-sdk/client-sagemaker";
import {
  DescribeHumanLoopCommand,
  ListHumanLoopsCommand,
  SageMakerA2IRuntimeClient,
  StartHumanLoopCommand,
  StopHumanLoopCommand,
} from "@aws-sdk/client-sagemaker-a2i-runtime";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import sharp from "sharp";
import {
  type CompatCloud,
  createActiveFlow,
  type FlowOptions,
  startCompatCloud,
} from "../a2i-compat/support";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../support/chromium";

export const PASSWORD = "a calm and long passphrase";
/** Outside images_for_detection/, so uploading it does not start review-image (and a loop of its own). */
export const IMAGE_KEY = "portal-e2e/logo.png";
export const CROWD_SCRIPT = `<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>`;

export interface BrowserCloud extends CompatCloud {
  runtime: SageMakerA2IRuntimeClient;
  browser: Browser;
  /** `s3://<bucket>/<IMAGE_KEY>`: a 240×160 PNG. */
  imageUri: string;
}

export interface Reviewer {
  username: string;
  context: BrowserContext;
  page: Page;
}

/** A 240×160 PNG logo, so image elements have something real to load and measure. */
export async function logoPng(width = 240, height = 160): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="#f4efe6"/>
    <circle cx="${width / 2}" cy="${height / 2}" r="${Math.min(width, height) / 3}" fill="#d9480f"/>
  </svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** Starts the local cloud (tmp data folder, ephemeral ports), uploads the logo and launches Chromium. */
export async function startBrowserCloud(): Promise<BrowserCloud> {
  const base = await startCompatCloud();
  const runtime = new SageMakerA2IRuntimeClient({
    endpoint: base.cloud.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "e2e", secretAccessKey: "e2e" },
    maxAttempts: 1,
  });
  await base.cloud.services.s3.objects.put(base.cloud.bucket, IMAGE_KEY, await logoPng(), "image/png");
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  return {
    ...base,
    runtime,
    browser,
    imageUri: `s3://${base.cloud.bucket}/${IMAGE_KEY}`,
    async close() {
      await browser.close();
      runtime.destroy();
      await base.close();
    },
  };
}

/** Creates an Active flow definition whose task UI is `template`. */
export function flowWith(fixture: BrowserCloud, name: string, template: string, options: FlowOptions = {}) {
  return createActiveFlow(fixture, name, { ...options, template });
}

/** Starts one human loop with the real A2I runtime client. */
export async function startLoop(fixture: BrowserCloud, flowArn: string, name: string, input: unknown) {
  await fixture.runtime.send(
    new StartHumanLoopCommand({
      HumanLoopName: name,
      FlowDefinitionArn: flowArn,
      HumanLoopInput: { InputContent: JSON.stringify(input) },
    }),
  );
}

export async function loopStatus(fixture: BrowserCloud, name: string) {
  return fixture.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: name }));
}

export interface OutputJson {
  humanAnswers: { answerContent: Record<string, unknown>; workerId: string }[];
  humanLoopName: string;
  inputContent: unknown;
}

/** The output.json A2I wrote for the loop, or undefined when there is none (yet). */
export async function outputOf(fixture: BrowserCloud, name: string): Promise<OutputJson | undefined> {
  const described = await loopStatus(fixture, name);
  const uri = described.HumanLoopOutput?.OutputS3Uri ?? "";
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match?.[1] || !match[2]) throw new Error(`no output location for ${name}`);
  const head = await fixture.cloud.services.s3.objects.head(match[1], match[2]);
  if (!head) return undefined;
  return JSON.parse((await fixture.cloud.services.s3.objects.get(match[1], match[2])).toString("utf8"));
}

/** Stops every open loop of every flow definition, so the next test's "Start working" gets its own. */
export async function stopOpenLoops(fixture: BrowserCloud): Promise<void> {
  const flows = await fixture.sagemaker.send(new ListFlowDefinitionsCommand({ MaxResults: 100 }));
  for (const flow of flows.FlowDefinitionSummaries ?? []) {
    let token: string | undefined;
    do {
      const page = await fixture.runtime.send(
        new ListHumanLoopsCommand({ FlowDefinitionArn: flow.FlowDefinitionArn, NextToken: token }),
      );
      for (const loop of page.HumanLoopSummaries ?? []) {
        if (loop.HumanLoopStatus === "InProgress") {
          await fixture.runtime.send(new StopHumanLoopCommand({ HumanLoopName: loop.HumanLoopName }));
        }
      }
      token = page.NextToken;
    } while (token);
  }
}

/** Signs in through the UI with a generated password and chooses a new one, in a fresh context. */
export async function signedInReviewer(fixture: BrowserCloud, username: string): Promise<Reviewer> {
  const { password } = await fixture.cloud.services.portal.accounts.add(username);
  const context = await fixture.browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await context.newPage();
  await page.goto(`${fixture.cloud.webUrl}/`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL("**/change-password");
  await page.getByLabel("New password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("New password again").fill(PASSWORD);
  await page.getByRole("button", { name: "Save password" }).click();
  await page.waitForURL("**/?notice=password-changed");
  return { username, context, page };
}

/** Clicks "Start working" and waits for the task page; resolves to the loop name in the URL. */
export async function startWorking(reviewer: Reviewer, fixture: BrowserCloud): Promise<string> {
  await reviewer.page.goto(`${fixture.cloud.webUrl}/`);
  await reviewer.page.getByRole("button", { name: "Start working" }).click();
  await reviewer.page.waitForURL("**/tasks/**");
  await reviewer.page.locator("crowd-form").waitFor();
  return decodeURIComponent(new URL(reviewer.page.url()).pathname.split("/").pop() ?? "");
}

/** Clicks the crowd-form's Submit and waits for the portal to move on. */
export async function submit(reviewer: Reviewer): Promise<void> {
  const before = reviewer.page.url();
  await reviewer.page.locator("crowd-form .crowd-btn-primary").click();
  await reviewer.page.waitForURL((url) => url.toString() !== before);
}
