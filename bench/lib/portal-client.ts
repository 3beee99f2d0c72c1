/** A reviewer's browser tab, reduced to HTTP: keeps cookies, reads CSRF tokens, claims and submits. */

export class PortalClient {
  private readonly cookies = new Map<string, string>();
  constructor(readonly baseUrl: string) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0)
      headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    const response = await fetch(new URL(path, this.baseUrl), { ...init, headers, redirect: "manual" });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair?.indexOf("=") ?? -1;
      if (!pair || eq < 0) continue;
      const value = pair.slice(eq + 1);
      if (/max-age=0/i.test(line) || value === "") this.cookies.delete(pair.slice(0, eq));
      else this.cookies.set(pair.slice(0, eq), value);
    }
    return response;
  }

  postForm(path: string, fields: Record<string, string>) {
    return this.request(path, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    });
  }

  /** The CSRF token a page carries (meta tag or hidden field). */
  async csrfFrom(path: string): Promise<string> {
    const page = await (await this.request(path)).text();
    const match =
      /name="csrf-token" content="([^"]+)"/.exec(page) ?? /name="_csrf" value="([^"]+)"/.exec(page);
    if (!match?.[1]) throw new Error(`No CSRF token on ${path}`);
    return match[1];
  }

  /** Signs in with a generated password and replaces it, as a new reviewer must. */
  async signInFresh(
    username: string,
    generated: string,
    chosen = "a calm and long passphrase",
  ): Promise<void> {
    const first = await this.postForm("/sign-in", {
      _csrf: await this.csrfFrom("/sign-in"),
      username,
      password: generated,
    });
    if (first.headers.get("location") !== "/change-password")
      throw new Error(`sign-in failed: ${first.status}`);
    const changed = await this.postForm("/change-password", {
      _csrf: await this.csrfFrom("/change-password"),
      newPassword: chosen,
      confirmPassword: chosen,
    });
    if (changed.status !== 303) throw new Error(`password change failed: ${changed.status}`);
  }

  /** "Start working": the claimed task's path, or undefined when the queue is empty. */
  async claim(csrf: string): Promise<string | undefined> {
    const response = await this.postForm("/work", { _csrf: csrf });
    await response.body?.cancel();
    const location = response.headers.get("location") ?? "";
    return location.startsWith("/tasks/") ? location : undefined;
  }

  /** Submits an answer as the crowd-form does; the task page's token is the session's. */
  async submit(taskPath: string, csrf: string, answerContent: unknown): Promise<Response> {
    const response = await this.request(`${taskPath}/submit`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify(answerContent),
    });
    await response.text();
    return response;
  }
}
