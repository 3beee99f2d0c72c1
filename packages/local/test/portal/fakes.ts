/**
 * Test doubles for the portal's collaborators: an in-memory TaskQueue that follows the contract in
 * a2i/workforce.ts, in-memory objects, a settable clock, and a small cookie-keeping HTTP client.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type OfferedTask, type TaskQueue, TaskUnavailableError, type Worker } from "../../src/a2i/workforce";
import type { Clock, LocalObjects } from "../../src/contracts";
import { createPortal, type Portal } from "../../src/portal/portal";

export class ManualClock implements Clock {
  constructor(private current = new Date("2026-03-01T09:00:00.000Z")) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

interface QueuedTask {
  task: Omit<OfferedTask, "acceptedAt" | "heldUntil">;
  holder?: { workerId: string; acceptedAt: Date; heldUntil: Date };
  answeredBy: Set<string>;
  closed: boolean;
}

export interface RecordedAnswer {
  humanLoopName: string;
  workerId: string;
  worker: Worker;
  answerContent: Record<string, unknown>;
}

export const REVIEW_TEMPLATE = `<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <crowd-image-classifier name="category" src="{{ task.input.taskObject | grant_read_access }}"
    header="Which logo is this?" categories="{{ task.input.categories | to_json | escape }}">
    <short-instructions><p>Guess: {{ task.input.detectedLabel }}</p></short-instructions>
    <full-instructions header="How"><p>Pick one.</p></full-instructions>
  </crowd-image-classifier>
</crowd-form>`;

/** The in-memory queue: TaskCount 1, oldest first, holds that expire after `holdSeconds`. */
export class FakeQueue implements TaskQueue {
  readonly tasks: QueuedTask[] = [];
  readonly answers: RecordedAnswer[] = [];
  constructor(
    private readonly clock: Clock,
    private readonly holdSeconds = 600,
  ) {}

  add(name: string, input: unknown, template = REVIEW_TEMPLATE): void {
    this.tasks.push({
      task: {
        humanLoopName: name,
        flowDefinitionName: "review-image",
        title: "Which logo is this?",
        description: "Pick the logo shown in the image.",
        keywords: ["logo"],
        template,
        input,
        createdAt: new Date(this.clock.now().getTime() + this.tasks.length),
      },
      answeredBy: new Set(),
      closed: false,
    });
  }

  private heldBy(entry: QueuedTask): string | undefined {
    if (!entry.holder || entry.holder.heldUntil.getTime() <= this.clock.now().getTime()) return undefined;
    return entry.holder.workerId;
  }

  private available(worker: Worker): QueuedTask[] {
    return this.tasks.filter(
      (t) => !t.closed && !t.answeredBy.has(worker.id) && this.heldBy(t) === undefined,
    );
  }

  private offer(entry: QueuedTask): OfferedTask {
    if (!entry.holder) throw new Error("not held");
    return { ...entry.task, acceptedAt: entry.holder.acceptedAt, heldUntil: entry.holder.heldUntil };
  }

  async countAvailable(worker: Worker): Promise<number> {
    return this.available(worker).length;
  }

  async claimNext(worker: Worker): Promise<OfferedTask | undefined> {
    const entry = this.available(worker)[0];
    if (!entry) return undefined;
    const acceptedAt = this.clock.now();
    entry.holder = {
      workerId: worker.id,
      acceptedAt,
      heldUntil: new Date(acceptedAt.getTime() + this.holdSeconds * 1000),
    };
    return this.offer(entry);
  }

  async getHeld(worker: Worker, humanLoopName: string): Promise<OfferedTask | undefined> {
    const entry = this.tasks.find((t) => t.task.humanLoopName === humanLoopName);
    if (!entry || entry.closed || this.heldBy(entry) !== worker.id) return undefined;
    return this.offer(entry);
  }

  async release(worker: Worker, humanLoopName: string): Promise<void> {
    const entry = this.tasks.find((t) => t.task.humanLoopName === humanLoopName);
    if (!entry || this.heldBy(entry) !== worker.id) {
      throw new TaskUnavailableError("not-held", "You do not hold this task.");
    }
    entry.holder = undefined;
  }

  async submit(worker: Worker, humanLoopName: string, answerContent: Record<string, unknown>): Promise<void> {
    const entry = this.tasks.find((t) => t.task.humanLoopName === humanLoopName);
    if (entry?.answeredBy.has(worker.id)) {
      throw new TaskUnavailableError("already-answered", "You answered this task already.");
    }
    if (entry?.closed) throw new TaskUnavailableError("closed", "This task is closed.");
    if (!entry?.holder || entry.holder.workerId !== worker.id) {
      throw new TaskUnavailableError("not-held", "You do not hold this task.");
    }
    if (entry.holder.heldUntil.getTime() <= this.clock.now().getTime()) {
      throw new TaskUnavailableError("expired", "Your time on this task ran out.");
    }
    entry.answeredBy.add(worker.id);
    entry.closed = true;
    entry.holder = undefined;
    this.answers.push({ humanLoopName, workerId: worker.id, worker, answerContent });
  }
}

export class MemoryObjects implements LocalObjects {
  readonly store = new Map<string, Buffer>();
  async get(bucket: string, key: string): Promise<Buffer> {
    const found = this.store.get(`${bucket}/${key}`);
    if (!found) throw Object.assign(new Error("NoSuchKey"), { name: "NoSuchKey" });
    return found;
  }
  async put(bucket: string, key: string, body: Buffer): Promise<{ etag: string }> {
    this.store.set(`${bucket}/${key}`, body);
    return { etag: `"${body.length}"` };
  }
  async head(bucket: string, key: string) {
    const found = this.store.get(`${bucket}/${key}`);
    return found ? { size: found.length, etag: `"${found.length}"`, lastModified: new Date(0) } : undefined;
  }
  async *list(): AsyncIterable<{ key: string; size: number; etag: string; lastModified: Date }> {}
}

/** A tiny PNG (1×1, opaque blue) for file-route tests. */
export const ONE_PIXEL_PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
  "base64",
);

export interface PortalFixture {
  portal: Portal;
  queue: FakeQueue;
  objects: MemoryObjects;
  clock: ManualClock;
  dataDir: string;
  close(): Promise<void>;
}

/** Starts a portal on an ephemeral 127.0.0.1 port over a fresh temp data folder. */
export async function startPortal(
  options: { clock?: ManualClock; dataDir?: string; publicUrl?: string } = {},
): Promise<PortalFixture> {
  const clock = options.clock ?? new ManualClock();
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "secondlook-portal-")));
  const queue = new FakeQueue(clock);
  const objects = new MemoryObjects();
  const portal = await createPortal({ dataDir, queue, objects, clock, publicUrl: options.publicUrl }).catch(
    async (error: unknown) => {
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
      throw error;
    },
  );
  let closed = false;
  return {
    portal,
    queue,
    objects,
    clock,
    dataDir,
    async close() {
      // Idempotent, so an afterEach may close a fixture a test already closed.
      if (closed) return;
      closed = true;
      await portal.close();
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

const REQUEST_TIMEOUT_MS = 30_000;

/** A cookie-keeping client that behaves like one browser tab (but sends no Origin). */
export class Browserish {
  private cookies = new Map<string, string>();
  lastSetCookie: string[] = [];
  constructor(readonly baseUrl: string) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) {
      headers.set("cookie", this.cookieHeader());
    }
    // A request the server never answers fails the test with a reason instead of hanging it.
    const signal = init.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    const response = await fetch(new URL(path, this.baseUrl), {
      ...init,
      headers,
      signal,
      redirect: "manual",
    });
    this.lastSetCookie = response.headers.getSetCookie();
    for (const line of this.lastSetCookie) {
      const [pair] = line.split(";");
      const eq = pair?.indexOf("=") ?? -1;
      if (!pair || eq < 0) continue;
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (/max-age=0/i.test(line) || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }

  /** The Cookie header this client would send now. */
  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  get(path: string, headers: Record<string, string> = {}) {
    return this.request(path, { headers });
  }

  postForm(path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
    return this.request(path, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(fields).toString(),
    });
  }

  postJson(path: string, body: unknown, headers: Record<string, string> = {}) {
    return this.request(path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  }

  /** Reads the CSRF token a page carries (meta tag or hidden field). */
  async csrfFrom(path: string): Promise<string> {
    const page = await (await this.get(path)).text();
    const match =
      /name="csrf-token" content="([^"]+)"/.exec(page) ?? /name="_csrf" value="([^"]+)"/.exec(page);
    if (!match?.[1]) throw new Error(`No CSRF token on ${path}`);
    return match[1];
  }

  /** Signs in; resolves to the redirect location. */
  async signIn(username: string, password: string): Promise<Response> {
    const csrf = await this.csrfFrom("/sign-in");
    return this.postForm("/sign-in", { _csrf: csrf, username, password });
  }

  /** Signs in with a generated password and replaces it, ending on a normal session. */
  async signInFresh(
    username: string,
    generated: string,
    chosen = "a calm and long passphrase",
  ): Promise<void> {
    const first = await this.signIn(username, generated);
    if (first.headers.get("location") !== "/change-password") throw new Error("expected forced change");
    const csrf = await this.csrfFrom("/change-password");
    const changed = await this.postForm("/change-password", {
      _csrf: csrf,
      newPassword: chosen,
      confirmPassword: chosen,
    });
    if (changed.status !== 303) throw new Error(`password change failed: ${changed.status}`);
  }
}

/** Creates a reviewer and a signed-in client for them. */
export async function reviewer(fixture: PortalFixture, username: string): Promise<Browserish> {
  const { password } = await fixture.portal.accounts.add(username);
  const client = new Browserish(fixture.portal.url);
  await client.signInFresh(username, password);
  return client;
}
