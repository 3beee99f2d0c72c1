/**
 * The reviewer portal: what a reviewer does on A2I's private workforce portal, locally. Sign in,
 * see the queue, work through tasks rendered from the flow definition's worker template, submit.
 * It sees tasks only through the TaskQueue, so a reviewer can never reach a task they do not hold.
 */
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { FlowDefinition } from "@secondlook/core/blueprint";
import { z } from "zod";
import { renderTaskTemplate, TemplateRenderError } from "../a2i/template";
import { type TaskQueue, TaskUnavailableError, type Worker } from "../a2i/workforce";
import { type Clock, type LocalObjects, systemClock } from "../contracts";
import { readBody, ServiceError } from "../edge/protocol";
import { localSource, REPO_ROOT } from "../paths";
import { openAccountStore, WeakPasswordError } from "./accounts";
import { trusted } from "./html";
import {
  CSP_FILE,
  CSP_PREVIEW_FRAME,
  CSP_TEMPLATE,
  clientAddress,
  isSameOrigin,
  parseCookies,
  readForm,
  redirect,
  send,
  sendHtml,
  sendJsonBody,
  sessionCookie,
} from "./http";
import {
  changePasswordPage,
  homePage,
  messagePage,
  previewFrame,
  previewPage,
  signInPage,
  taskPage,
} from "./pages";
import { createSessions, csrfMatches, SESSION_COOKIE, type Session } from "./sessions";
import { createUrlSigner, isSafeBucket, isSafeKey, loadSigningKey } from "./signed-urls";
import { createSignInThrottle } from "./throttle";

export interface PortalOptions {
  /** The local cloud's data folder; the portal keeps its files under `<dataDir>/portal/`. */
  dataDir: string;
  queue: TaskQueue;
  objects: LocalObjects;
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** The URL reviewers use when the portal sits behind a proxy; also the workers' OIDC issuer. */
  publicUrl?: string;
  clock?: Clock;
  /**
   * Signed-in areas served on the portal's port, by path prefix (e.g. `/console`): they share the
   * portal's sessions, sign-in and CSRF check instead of growing a second login.
   */
  mounts?: Record<string, MountedHandler>;
}

/** What a mounted area gets for each request: the signed-in user and the portal's CSRF check. */
export interface MountContext {
  url: URL;
  /** The path as sent (not normalized), query removed. */
  path: string;
  session: Session;
  /** True when the request is same-origin and carries the session's token (header or `_csrf`). */
  csrfOk(form?: URLSearchParams): boolean;
}

/** A request handler for a mounted area; only ever called for a signed-in user. */
export type MountedHandler = (req: IncomingMessage, res: ServerResponse, ctx: MountContext) => Promise<void>;

export interface Portal {
  server: Server;
  url: string;
  accounts: {
    add(username: string): Promise<{ password: string }>;
    remove(username: string): Promise<void>;
    resetPassword(username: string): Promise<{ password: string }>;
    list(): Promise<
      { username: string; workerId: string; sub: string; mustChangePassword: boolean; createdAt: string }[]
    >;
  };
  /**
   * The local `grant_read_access` as an absolute URL, for templates rendered outside the portal
   * (SageMaker RenderUiTemplate): the same short-lived signed `/files/…` URL a task page gets.
   */
  grantReadAccess(s3Uri: string): string;
  close(): Promise<void>;
}

const CROWD_SCRIPT_URL = /https:\/\/assets\.crowd\.aws\/crowd-html-elements\.js/g;
const LOCAL_CROWD_SCRIPT = "/static/crowd-html-elements.js";
const LOOP_NAME = /^[a-z0-9](-*[a-z0-9]){0,62}$/;
const MAX_ANSWER_BYTES = 1024 * 1024;
const MAX_TEMPLATE_CHARS = 128_000;
const PREVIEW_TTL_MS = 10 * 60_000;
const MAX_PREVIEWS_PER_SESSION = 20;

const STATIC_FILES: Record<string, string> = {
  "crowd-html-elements.js": "application/javascript; charset=utf-8",
  "crowd-html-elements.css": "text/css; charset=utf-8",
  "portal.js": "application/javascript; charset=utf-8",
  "portal.css": "text/css; charset=utf-8",
  "favicon.svg": "image/svg+xml",
};

const AnswerContent = z.record(z.string(), z.unknown());

const NOT_FOUND_TITLE = "Not found";
const NOT_FOUND_MESSAGE = "There is nothing here.";

const SAMPLE_INPUT = {
  taskObject: "s3://example-bucket/images_for_detection/sample.png",
  categories: ["Acme", "Globex", "None of the Above"],
  detectedLabel: "Acme",
  confidence: 41.7,
  modelVersionArn: "arn:aws:rekognition:us-east-1:000000000000:project/logos/version/logos.1/1",
  reason: "low-confidence",
  taskToken: "(not shown to reviewers)",
};

/** Detects the image type from its first bytes, falling back to the key's extension. */
function imageContentType(bytes: Buffer, key: string): string {
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
    return "image/png";
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "image/jpeg";
  if (bytes.subarray(0, 6).toString("latin1").startsWith("GIF8")) return "image/gif";
  if (
    bytes.subarray(0, 4).toString("latin1") === "RIFF" &&
    bytes.subarray(8, 12).toString("latin1") === "WEBP"
  )
    return "image/webp";
  const ext = key.toLowerCase().split(".").pop() ?? "";
  const byExt: Record<string, string> = {
    png: "image/png",
    jpg: "image/jpeg",
    jpeg: "image/jpeg",
    gif: "image/gif",
    webp: "image/webp",
    bmp: "image/bmp",
    tif: "image/tiff",
    tiff: "image/tiff",
    svg: "image/svg+xml",
    txt: "text/plain; charset=utf-8",
    json: "application/json",
  };
  return byExt[ext] ?? "application/octet-stream";
}

async function loadStatic(): Promise<Map<string, { body: Buffer; type: string }>> {
  const out = new Map<string, { body: Buffer; type: string }>();
  for (const [name, type] of Object.entries(STATIC_FILES)) {
    out.set(name, { body: await readFile(localSource("portal", "static", name)), type });
  }
  return out;
}

async function loadSampleTemplate(): Promise<string> {
  try {
    return await readFile(join(REPO_ROOT, FlowDefinition.templateFile), "utf8");
  } catch {
    return "";
  }
}

/** The portal was configured with something it cannot use. */
export class PortalConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PortalConfigError";
  }
}

/** Starts the reviewer portal on `host:port` (127.0.0.1 and a free port by default). */
export async function createPortal(options: PortalOptions): Promise<Portal> {
  if (options.publicUrl !== undefined && !/^https?:\/\/[^/?#]+\/?$/.test(options.publicUrl)) {
    throw new PortalConfigError(
      `publicUrl must be an http(s) origin such as https://reviews.example.org, got ${JSON.stringify(options.publicUrl)}`,
    );
  }
  const clock = options.clock ?? systemClock;
  const { queue, objects } = options;
  let baseUrl = "";
  const publicUrl = options.publicUrl?.replace(/\/$/, "");
  const issuer = () => publicUrl ?? baseUrl;
  const accounts = await openAccountStore(options.dataDir, { issuer, clock });
  const signer = createUrlSigner(await loadSigningKey(options.dataDir), clock);
  const sessions = createSessions(clock);
  const throttle = createSignInThrottle(clock);
  const statics = await loadStatic();
  const sampleTemplate = await loadSampleTemplate();
  const secureCookies = publicUrl?.startsWith("https://") ?? false;
  const allowedOrigins = new Set<string>();
  const mounts = Object.entries(options.mounts ?? {});

  const setSession = (session: Session) =>
    sessionCookie(SESSION_COOKIE, session.id, sessions.ttlSeconds(session), secureCookies);
  const clearSession = () => sessionCookie(SESSION_COOKIE, "", 0, secureCookies);

  const currentSession = (req: IncomingMessage) => sessions.get(parseCookies(req).get(SESSION_COOKIE));

  /** The signed-in reviewer, or undefined when the session is missing, ended or outdated. */
  const signedIn = (req: IncomingMessage): { session: Session; worker: Worker } | undefined => {
    const session = currentSession(req);
    if (!session?.username) return undefined;
    const worker = accounts.worker(session.username);
    // A password reset or a removed account ends every session that predates it.
    if (!worker || accounts.passwordStamp(session.username) !== session.passwordStamp) {
      sessions.destroy(session.id);
      return undefined;
    }
    return { session, worker };
  };

  const notFound = (res: ServerResponse, session?: Session) =>
    sendHtml(res, 404, messagePage(session, NOT_FOUND_TITLE, NOT_FOUND_MESSAGE));

  const forbidden = (res: ServerResponse, json: boolean) => {
    const message =
      "This request did not come from a portal page you have open. Reload the page and try again.";
    if (json) sendJsonBody(res, 403, { error: "CsrfError", message });
    else sendHtml(res, 403, messagePage(undefined, "Request refused", message));
  };

  /** Origin check plus the per-session token, from the header or the form's hidden field. */
  const csrfOk = (req: IncomingMessage, session: Session, form?: URLSearchParams) => {
    if (!isSameOrigin(req, allowedOrigins)) return false;
    const header = req.headers["x-csrf-token"];
    const submitted = typeof header === "string" ? header : (form?.get("_csrf") ?? undefined);
    return csrfMatches(session, submitted);
  };

  const renderTask = (template: string, input: unknown) =>
    renderTaskTemplate(template, input, { grantReadAccess: (uri) => signer.grant(uri) }).then((out) =>
      trusted(out.replace(CROWD_SCRIPT_URL, LOCAL_CROWD_SCRIPT)),
    );

  const taskUrl = (name: string) => `/tasks/${encodeURIComponent(name)}`;

  // ---- routes -------------------------------------------------------------------------------

  async function getSignIn(req: IncomingMessage, res: ServerResponse) {
    if (signedIn(req)) return redirect(res, "/");
    const session = currentSession(req) ?? sessions.create();
    sendHtml(res, 200, signInPage(session), { headers: { "set-cookie": setSession(session) } });
  }

  async function postSignIn(req: IncomingMessage, res: ServerResponse) {
    const form = await readForm(req);
    const session = currentSession(req);
    if (!session || !csrfOk(req, session, form)) return forbidden(res, false);
    const username = (form.get("username") ?? "").trim();
    const password = form.get("password") ?? "";
    const address = clientAddress(req);
    const waitMs = throttle.retryAfterMs(username, address);
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      return sendHtml(
        res,
        429,
        signInPage(session, {
          username,
          error: `Too many failed sign-in attempts. Try again in ${seconds} seconds.`,
        }),
        { headers: { "retry-after": String(seconds) } },
      );
    }
    const result = await accounts.verify(username, password);
    if (!result) {
      throttle.recordFailure(username, address);
      return sendHtml(res, 401, signInPage(session, { username, error: "Wrong username or password." }));
    }
    throttle.recordSuccess(username);
    sessions.destroy(session.id);
    const fresh = sessions.create({
      username: result.worker.username,
      passwordStamp: accounts.passwordStamp(result.worker.username) ?? "",
      mustChangePassword: result.mustChangePassword,
    });
    redirect(res, result.mustChangePassword ? "/change-password" : "/", {
      "set-cookie": setSession(fresh),
    });
  }

  async function postSignOut(req: IncomingMessage, res: ServerResponse) {
    const form = await readForm(req);
    const session = currentSession(req);
    if (!session || !csrfOk(req, session, form)) return forbidden(res, false);
    sessions.destroy(session.id);
    redirect(res, "/sign-in", { "set-cookie": clearSession() });
  }

  async function changePassword(req: IncomingMessage, res: ServerResponse) {
    const user = signedIn(req);
    if (!user) return redirect(res, "/sign-in");
    const { session } = user;
    const forced = session.mustChangePassword;
    if (req.method === "GET") return sendHtml(res, 200, changePasswordPage(session, { forced }));
    const form = await readForm(req);
    if (!csrfOk(req, session, form)) return forbidden(res, false);
    const fail = (status: number, error: string) =>
      sendHtml(res, status, changePasswordPage(session, { forced, error }));
    const newPassword = form.get("newPassword") ?? "";
    if (newPassword !== (form.get("confirmPassword") ?? ""))
      return fail(400, "The two new passwords differ.");
    if (!forced) {
      // Re-checking the current password stops someone at an unlocked screen taking the account.
      const address = clientAddress(req);
      if (throttle.retryAfterMs(user.worker.username, address) > 0) {
        return fail(429, "Too many failed attempts. Try again in a minute.");
      }
      if (!(await accounts.verify(user.worker.username, form.get("currentPassword") ?? ""))) {
        throttle.recordFailure(user.worker.username, address);
        return fail(401, "The current password is wrong.");
      }
    }
    try {
      await accounts.changePassword(user.worker.username, newPassword);
    } catch (error) {
      if (error instanceof WeakPasswordError) return fail(400, error.message);
      throw error;
    }
    session.passwordStamp = accounts.passwordStamp(user.worker.username);
    session.mustChangePassword = false;
    redirect(res, "/?notice=password-changed");
  }

  async function home(req: IncomingMessage, res: ServerResponse, url: URL) {
    const user = signedIn(req);
    if (!user) return redirect(res, "/sign-in");
    if (user.session.mustChangePassword) return redirect(res, "/change-password");
    const waiting = await queue.countAvailable(user.worker);
    sendHtml(res, 200, homePage(user.session, waiting, url.searchParams.get("notice") ?? undefined));
  }

  /** The home page's live count: tasks that arrive after it was rendered enable its button. */
  async function queueCount(req: IncomingMessage, res: ServerResponse) {
    const user = signedIn(req);
    if (!user || user.session.mustChangePassword) {
      return sendJsonBody(res, 401, { error: "SignInRequired", message: "Sign in to see your queue." });
    }
    sendJsonBody(res, 200, { waiting: await queue.countAvailable(user.worker) });
  }

  /** Guards the signed-in, state-changing routes: session, finished sign-up and CSRF. */
  async function authorize(
    req: IncomingMessage,
    res: ServerResponse,
    json: boolean,
  ): Promise<{ session: Session; worker: Worker; form?: URLSearchParams } | undefined> {
    const user = signedIn(req);
    if (!user) {
      if (json) sendJsonBody(res, 401, { error: "NotSignedInError", message: "Sign in again to continue." });
      else redirect(res, "/sign-in");
      return undefined;
    }
    if (user.session.mustChangePassword) {
      if (json)
        sendJsonBody(res, 403, { error: "PasswordChangeRequiredError", message: "Choose a password first." });
      else redirect(res, "/change-password");
      return undefined;
    }
    const form = json ? undefined : await readForm(req);
    if (!csrfOk(req, user.session, form)) {
      forbidden(res, json);
      return undefined;
    }
    return { ...user, form };
  }

  async function startWork(req: IncomingMessage, res: ServerResponse) {
    const user = await authorize(req, res, false);
    if (!user) return;
    const next = await queue.claimNext(user.worker);
    redirect(res, next ? taskUrl(next.humanLoopName) : "/?notice=done");
  }

  async function showTask(req: IncomingMessage, res: ServerResponse, loop: string) {
    const user = signedIn(req);
    if (!user) return redirect(res, "/sign-in");
    if (user.session.mustChangePassword) return redirect(res, "/change-password");
    const task = await queue.getHeld(user.worker, loop);
    if (!task) return notFound(res, user.session);
    let rendered: ReturnType<typeof trusted>;
    try {
      rendered = await renderTask(task.template, task.input);
    } catch (error) {
      if (!(error instanceof TemplateRenderError)) throw error;
      return sendHtml(
        res,
        500,
        messagePage(
          user.session,
          "This task cannot be shown",
          `Its worker template does not render (${error.message}). Tell the template's author; the task stays in the queue.`,
        ),
      );
    }
    const waiting = await queue.countAvailable(user.worker);
    sendHtml(res, 200, taskPage(user.session, task, rendered, { waiting, now: clock.now() }), {
      csp: CSP_TEMPLATE,
    });
  }

  async function submitTask(req: IncomingMessage, res: ServerResponse, loop: string) {
    const user = await authorize(req, res, true);
    if (!user) return;
    let body: unknown;
    try {
      const raw = await readBody(req, MAX_ANSWER_BYTES);
      body = JSON.parse(raw.toString("utf8"));
    } catch (error) {
      if (error instanceof ServiceError && error.status === 413) throw error;
      return sendJsonBody(res, 400, {
        error: "InvalidAnswerError",
        message: "The answer is not valid JSON.",
      });
    }
    const answer = AnswerContent.safeParse(body);
    if (!answer.success || Array.isArray(body)) {
      return sendJsonBody(res, 400, {
        error: "InvalidAnswerError",
        message: "The answer must be a JSON object keyed by element name.",
      });
    }
    await queue.submit(user.worker, loop, answer.data);
    user.session.answered += 1;
    let next: Awaited<ReturnType<TaskQueue["claimNext"]>>;
    try {
      next = await queue.claimNext(user.worker);
    } catch (error) {
      // The answer is saved; failing to fetch the next task must not look like a failed submit.
      console.error("[portal] claiming the next task failed", error);
      return sendJsonBody(res, 200, { next: "/" });
    }
    sendJsonBody(res, 200, { next: next ? taskUrl(next.humanLoopName) : "/?notice=done" });
  }

  async function releaseTask(req: IncomingMessage, res: ServerResponse, loop: string) {
    const user = await authorize(req, res, false);
    if (!user) return;
    if (!(await queue.getHeld(user.worker, loop))) return notFound(res, user.session);
    // Claim the next task before giving this one back, or "skip" would hand the same task back.
    const next = await queue.claimNext(user.worker);
    await queue.release(user.worker, loop);
    if (next && next.humanLoopName !== loop) return redirect(res, taskUrl(next.humanLoopName));
    if (next) await queue.release(user.worker, next.humanLoopName);
    redirect(res, "/?notice=skipped");
  }

  async function preview(req: IncomingMessage, res: ServerResponse) {
    if (req.method === "GET") {
      const user = signedIn(req);
      if (!user) return redirect(res, "/sign-in");
      if (user.session.mustChangePassword) return redirect(res, "/change-password");
      return sendHtml(
        res,
        200,
        previewPage(user.session, { template: sampleTemplate, input: JSON.stringify(SAMPLE_INPUT, null, 2) }),
      );
    }
    const user = await authorize(req, res, false);
    if (!user?.form) return;
    const template = user.form.get("template") ?? "";
    const inputText = user.form.get("input") ?? "";
    const values = { template, input: inputText };
    const fail = (error: string) => sendHtml(res, 400, previewPage(user.session, values, { error }));
    if (template.length === 0 || template.length > MAX_TEMPLATE_CHARS) {
      return fail(`The template must be 1 to ${MAX_TEMPLATE_CHARS} characters.`);
    }
    let input: unknown;
    try {
      input = JSON.parse(inputText);
    } catch (error) {
      return fail(`The sample input is not valid JSON: ${(error as Error).message}`);
    }
    let rendered: ReturnType<typeof trusted>;
    try {
      rendered = await renderTask(template, input);
    } catch (error) {
      if (error instanceof TemplateRenderError) return fail(`The template does not render: ${error.message}`);
      throw error;
    }
    const previews = user.session.previews;
    const now = clock.now().getTime();
    for (const [id, p] of previews)
      if (p.expiresAt <= now || previews.size >= MAX_PREVIEWS_PER_SESSION) previews.delete(id);
    const id = crypto.randomUUID();
    previews.set(id, { html: previewFrame(rendered), expiresAt: now + PREVIEW_TTL_MS });
    sendHtml(res, 200, previewPage(user.session, values, { frameUrl: `/preview/frame/${id}` }));
  }

  function previewFrameRoute(req: IncomingMessage, res: ServerResponse, id: string) {
    const user = signedIn(req);
    const found = user?.session.previews.get(id);
    if (!user || !found || found.expiresAt <= clock.now().getTime()) return notFound(res);
    sendHtml(res, 200, found.html, { csp: CSP_PREVIEW_FRAME, frameable: true });
  }

  async function file(req: IncomingMessage, res: ServerResponse, url: URL) {
    const refuse = () =>
      send(res, 403, "This link is not valid or has expired.", "text/plain; charset=utf-8", {
        csp: CSP_FILE,
      });
    // The raw path, not the WHATWG-normalized one: "/files/b/../x" must fail, not become "/x".
    const rawPath = (req.url ?? "").split("?")[0] ?? "";
    let segments: string[];
    try {
      segments = rawPath.split("/").slice(2).map(decodeURIComponent);
    } catch {
      return refuse();
    }
    const [bucket, ...rest] = segments;
    const key = rest.join("/");
    if (!bucket || !isSafeBucket(bucket) || !isSafeKey(key)) return refuse();
    if (!signer.verify(bucket, key, url.searchParams.get("expires"), url.searchParams.get("sig")))
      return refuse();
    const head = await objects.head(bucket, key);
    if (!head) return send(res, 404, "No such object.", "text/plain; charset=utf-8", { csp: CSP_FILE });
    const bytes = await objects.get(bucket, key);
    send(res, 200, bytes, imageContentType(bytes, key), {
      csp: CSP_FILE,
      // No Cross-Origin-Resource-Policy: the preview frame is sandboxed (an opaque origin) and
      // must still load images; the signature is what guards the bytes.
      headers: { "cache-control": "private, max-age=300" },
    });
  }

  function staticFile(res: ServerResponse, name: string) {
    const found = statics.get(name);
    if (!found) return notFound(res);
    send(res, 200, found.body, found.type, { headers: { "cache-control": "no-cache" } });
  }

  // ---- dispatch -----------------------------------------------------------------------------

  async function route(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", "http://portal.invalid");
    // Route on the path as sent: the WHATWG parser would resolve "/files/b/%2e%2e/…" away from
    // the route that must refuse it.
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const method = req.method ?? "GET";
    const isGet = method === "GET" || method === "HEAD";
    const isPost = method === "POST";

    if (isGet && path.startsWith("/static/")) return staticFile(res, path.slice("/static/".length));
    if (isGet && path.startsWith("/files/")) return file(req, res, url);
    // The CLI may have added, reset or removed a reviewer since the last request.
    await accounts.refresh();
    for (const [prefix, handler] of mounts) {
      if (path !== prefix && !path.startsWith(`${prefix}/`)) continue;
      const user = signedIn(req);
      if (!user) return redirect(res, "/sign-in");
      if (user.session.mustChangePassword) return redirect(res, "/change-password");
      const ctx = {
        url,
        path,
        session: user.session,
        csrfOk: (form?: URLSearchParams) => csrfOk(req, user.session, form),
      };
      return handler(req, res, ctx);
    }
    if (path === "/sign-in" && isGet) return getSignIn(req, res);
    if (path === "/sign-in" && isPost) return postSignIn(req, res);
    if (path === "/sign-out" && isPost) return postSignOut(req, res);
    if (path === "/change-password" && (isGet || isPost)) return changePassword(req, res);
    if (path === "/" && isGet) return home(req, res, url);
    if (path === "/queue" && isGet) return queueCount(req, res);
    if (path === "/work" && isPost) return startWork(req, res);
    if (path === "/preview" && (isGet || isPost)) return preview(req, res);
    const frame = /^\/preview\/frame\/([0-9a-f-]{36})$/.exec(path);
    if (frame?.[1] && isGet) return previewFrameRoute(req, res, frame[1]);

    const task = /^\/tasks\/([^/]+)(?:\/(submit|release))?$/.exec(path);
    if (task?.[1]) {
      let loop: string;
      try {
        loop = decodeURIComponent(task[1]);
      } catch {
        return notFound(res);
      }
      const action = task[2];
      if (!LOOP_NAME.test(loop)) {
        return action === "submit"
          ? sendJsonBody(res, 404, { error: "NotFound", message: NOT_FOUND_MESSAGE })
          : notFound(res);
      }
      if (!action && isGet) return showTask(req, res, loop);
      if (action === "submit" && isPost) return submitTask(req, res, loop);
      if (action === "release" && isPost) return releaseTask(req, res, loop);
    }
    return notFound(res, signedIn(req)?.session);
  }

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      const wantsJson = (req.url ?? "").endsWith("/submit");
      if (error instanceof TaskUnavailableError) {
        const body = { error: error.name, reason: error.reason, message: error.message };
        if (wantsJson) return sendJsonBody(res, 409, body);
        return sendHtml(res, 409, messagePage(signedIn(req)?.session, "Task unavailable", error.message));
      }
      if (error instanceof ServiceError && error.status === 413) {
        if (wantsJson)
          return sendJsonBody(res, 413, { error: "PayloadTooLargeError", message: error.message });
        return sendHtml(res, 413, messagePage(undefined, "Too large", "That request is too large."));
      }
      console.error("[portal]", error);
      if (res.headersSent) return res.destroy();
      const message = "Something went wrong on our side. Your work is not lost; try again.";
      if (wantsJson) return sendJsonBody(res, 500, { error: "InternalError", message });
      sendHtml(res, 500, messagePage(undefined, "Something went wrong", message));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  baseUrl = `http://${host}:${address.port}`;
  allowedOrigins.add(baseUrl);
  if (publicUrl) allowedOrigins.add(new URL(publicUrl).origin);

  return {
    server,
    url: baseUrl,
    accounts: {
      add: (username) => accounts.add(username),
      remove: (username) => accounts.remove(username),
      resetPassword: (username) => accounts.resetPassword(username),
      list: () => accounts.list(),
    },
    grantReadAccess: (s3Uri) => `${issuer()}${signer.grant(s3Uri)}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
