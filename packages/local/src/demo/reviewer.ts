/**
 * A simulated reviewer for demos, end-to-end tests and the loop benchmark: a signed-in portal user
 * who works through the queue over HTTP exactly as a person in a browser would (sign in, "Start
 * working", open the task, look at the image, Submit), answering from known ground truth.
 */
import { createHash } from "node:crypto";
import { NONE_OF_THE_ABOVE } from "@secondlook/core/blueprint";

/** The portal answered something a browser session would not expect. */
export class PortalSessionError extends Error {
  override readonly name = "PortalSessionError";
}

/** The task page showed an image the reviewer has no ground truth for. */
export class UnknownImageError extends Error {
  override readonly name = "UnknownImageError";
}

/** What the reviewer did with one task. */
export interface ReviewedTask {
  loopName: string;
  /** The true label of the image ("None of the Above" for a class not among the categories). */
  truth: string;
  answered: string;
  categories: string[];
}

export interface SimulatedReviewerOptions {
  /** The portal's base URL (`LocalCloud.webUrl`). */
  webUrl: string;
  /** The true label of an image, looked up by the SHA-256 of its bytes (what the reviewer sees). */
  truthOf: (sha256: string) => string | undefined;
  /** Share of answers that are deliberately wrong (0..1); a wrong answer is another category. */
  errorRate?: number;
  /** Random numbers in [0, 1) for the error rate; a seeded one keeps a benchmark repeatable. */
  random?: () => number;
}

/** SHA-256 hex of image bytes: the key ground truth is filed under. */
export const imageDigest = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

const decodeEntities = (text: string) =>
  text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&#x27;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");

/** A browser-like session: keeps cookies, never follows redirects on its own. */
class Session {
  private readonly cookies = new Map<string, string>();
  constructor(private readonly baseUrl: string) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) {
      headers.set("cookie", [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; "));
    }
    const response = await fetch(new URL(path, this.baseUrl), { ...init, headers, redirect: "manual" });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const eq = pair.indexOf("=");
      if (eq <= 0) continue;
      const value = pair.slice(eq + 1);
      if (value === "" || /max-age=0/i.test(line)) this.cookies.delete(pair.slice(0, eq));
      else this.cookies.set(pair.slice(0, eq), value);
    }
    return response;
  }

  async page(path: string): Promise<string> {
    const response = await this.request(path);
    if (response.status !== 200) throw new PortalSessionError(`GET ${path} answered ${response.status}`);
    return response.text();
  }

  postForm(path: string, fields: Record<string, string>) {
    return this.request(path, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    });
  }
}

function csrfOf(page: string, where: string): string {
  const match = /name="csrf-token" content="([^"]+)"/.exec(page) ?? /name="_csrf" value="([^"]+)"/.exec(page);
  if (!match?.[1]) throw new PortalSessionError(`No CSRF token on ${where}`);
  return match[1];
}

/** Creates a reviewer that signs in with the generated password and chooses its own. */
export async function signInReviewer(
  options: SimulatedReviewerOptions & { username: string; generatedPassword: string },
): Promise<SimulatedReviewer> {
  const session = new Session(options.webUrl);
  const signIn = await session.postForm("/sign-in", {
    _csrf: csrfOf(await session.page("/sign-in"), "/sign-in"),
    username: options.username,
    password: options.generatedPassword,
  });
  if (signIn.status !== 303) throw new PortalSessionError(`Sign-in answered ${signIn.status}`);
  if (signIn.headers.get("location") === "/change-password") {
    const chosen = `simulated reviewer ${options.username} passphrase`;
    const changed = await session.postForm("/change-password", {
      _csrf: csrfOf(await session.page("/change-password"), "/change-password"),
      newPassword: chosen,
      confirmPassword: chosen,
    });
    if (changed.status !== 303) throw new PortalSessionError(`Password change answered ${changed.status}`);
  }
  return new SimulatedReviewer(session, options);
}

export class SimulatedReviewer {
  private current: string | undefined;

  constructor(
    private readonly session: Session,
    private readonly options: SimulatedReviewerOptions,
  ) {}

  /** "Start working": claims the next task; false when the queue has nothing for this reviewer. */
  async claim(): Promise<boolean> {
    if (this.current) return true;
    const response = await this.session.postForm("/work", {
      _csrf: csrfOf(await this.session.page("/"), "/"),
    });
    const location = response.headers.get("location") ?? "";
    this.current = location.startsWith("/tasks/") ? location : undefined;
    return this.current !== undefined;
  }

  /** The loop name of the task this reviewer holds, if any. */
  get heldTask(): string | undefined {
    return this.current ? decodeURIComponent(this.current.slice("/tasks/".length)) : undefined;
  }

  /** Opens the held task, looks at its image and submits an answer; undefined when nothing is held. */
  async answerHeld(override?: string): Promise<ReviewedTask | undefined> {
    const path = this.current;
    if (!path) return undefined;
    const page = await this.session.page(path);
    const src = /<crowd-image-classifier[^>]*\ssrc="([^"]+)"/.exec(page)?.[1];
    const categoriesText = /<crowd-image-classifier[^>]*\scategories="([^"]+)"/.exec(page)?.[1];
    if (!src || !categoriesText) throw new PortalSessionError(`${path} shows no image classifier`);
    const categories = JSON.parse(decodeEntities(categoriesText)) as string[];
    const image = await this.session.request(decodeEntities(src));
    if (image.status !== 200) throw new PortalSessionError(`The task image answered ${image.status}`);
    const digest = imageDigest(new Uint8Array(await image.arrayBuffer()));
    const label = this.options.truthOf(digest);
    if (label === undefined) throw new UnknownImageError(`No ground truth for the image of ${path}`);
    const truth = categories.includes(label) ? label : NONE_OF_THE_ABOVE;
    const answered = override ?? this.choose(truth, categories);
    const submitted = await this.session.request(`${path}/submit`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": csrfOf(page, path) },
      body: JSON.stringify({ category: { label: answered } }),
    });
    if (submitted.status !== 200) {
      throw new PortalSessionError(`Submitting ${path} answered ${submitted.status}`);
    }
    const { next } = (await submitted.json()) as { next?: string };
    // The portal hands the next task over with the answer, as A2I's "Submit" does.
    this.current = next?.startsWith("/tasks/") ? next : undefined;
    return { loopName: decodeURIComponent(path.slice("/tasks/".length)), truth, answered, categories };
  }

  /** Claims a task if none is held and answers it; undefined when the queue is empty. */
  async answerNext(): Promise<ReviewedTask | undefined> {
    if (!(await this.claim())) return undefined;
    return this.answerHeld();
  }

  private choose(truth: string, categories: string[]): string {
    const rate = this.options.errorRate ?? 0;
    const random = this.options.random ?? Math.random;
    if (rate <= 0 || random() >= rate) return truth;
    const others = categories.filter((category) => category !== truth);
    return others[Math.floor(random() * others.length)] ?? truth;
  }
}
