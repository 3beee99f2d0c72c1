import { afterEach, describe, expect, it } from "vitest";
import { Browserish, type PortalFixture, reviewer, startPortal } from "./fakes";

let fixture: PortalFixture;

afterEach(async () => {
  await fixture?.close();
});

const input = (overrides: Record<string, unknown> = {}) => ({
  taskObject: "s3://bucket-a/images_for_detection/x.png",
  categories: ["Acme", "Globex", "None of the Above"],
  detectedLabel: "Acme",
  confidence: 41.7,
  reason: "low-confidence",
  taskToken: "secret-token",
  ...overrides,
});

/** Signs a reviewer in and claims the next task through "Start working". */
async function startWorking(f: PortalFixture, username: string) {
  const client = await reviewer(f, username);
  const csrf = await client.csrfFrom("/");
  const start = await client.postForm("/work", { _csrf: csrf });
  return { client, csrf, location: start.headers.get("location") ?? "" };
}

describe("working on tasks", () => {
  it("claims the oldest task and renders its template with the local crowd elements script", async () => {
    // Arrange
    fixture = await startPortal();
    fixture.queue.add("loop-1", input());
    fixture.queue.add("loop-2", input());

    // Act
    const { client, location } = await startWorking(fixture, "ana");
    const page = await client.get(location);
    const body = await page.text();

    // Assert
    expect(location).toBe("/tasks/loop-1");
    expect(page.status).toBe(200);
    expect(body).toContain('<script src="/static/crowd-html-elements.js"></script>');
    expect(body).not.toContain("assets.crowd.aws");
    expect(body).toContain('<meta name="crowd-submit-url" content="/tasks/loop-1/submit">');
    expect(body).toMatch(
      /src="\/files\/bucket-a\/images_for_detection\/x\.png\?expires=\d+&amp;sig=[0-9a-f]{64}"/,
    );
    expect(body).toContain("&quot;Acme&quot;,&quot;Globex&quot;,&quot;None of the Above&quot;");
    expect(body).toMatch(/data-testid="waiting">1</);
    expect(body).toContain("10:00");
  });

  it("records the answer and hands out the next task on submit", async () => {
    // Arrange
    fixture = await startPortal();
    fixture.queue.add("loop-1", input());
    fixture.queue.add("loop-2", input());
    const { client, csrf } = await startWorking(fixture, "ana");

    // Act
    const response = await client.postJson(
      "/tasks/loop-1/submit",
      { category: { label: "Globex" } },
      {
        "x-csrf-token": csrf,
      },
    );

    // Assert
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ next: "/tasks/loop-2" });
    expect(fixture.queue.answers).toEqual([
      {
        humanLoopName: "loop-1",
        workerId: (await fixture.portal.accounts.list())[0]?.workerId,
        worker: expect.anything(),
        answerContent: { category: { label: "Globex" } },
      },
    ]);
  });

  it("identifies the reviewer to the queue as A2I's output.json records a private-workforce worker", async () => {
    // Arrange
    fixture = await startPortal();
    fixture.queue.add("loop-1", input());
    const { client, csrf } = await startWorking(fixture, "ana");

    // Act
    await client.postJson("/tasks/loop-1/submit", { category: { label: "Acme" } }, { "x-csrf-token": csrf });

    // Assert
    const [account] = await fixture.portal.accounts.list();
    expect(fixture.queue.answers[0]?.worker).toEqual({
      id: account?.workerId,
      sub: account?.sub,
      username: "ana",
      identityProviderType: "Oidc",
      issuer: fixture.portal.url,
    });
  });

  it("uses the public URL as the issuer and marks cookies Secure behind an https proxy", async () => {
    // Arrange
    fixture = await startPortal({ publicUrl: "https://reviews.example.org" });
    fixture.queue.add("loop-1", input());
    const { client, csrf } = await startWorking(fixture, "ana");

    // Act
    await client.postJson("/tasks/loop-1/submit", { category: { label: "Acme" } }, { "x-csrf-token": csrf });
    await client.get("/sign-in");
    const fresh = new Browserish(fixture.portal.url);
    await fresh.get("/sign-in");

    // Assert
    expect(fixture.queue.answers[0]?.worker.issuer).toBe("https://reviews.example.org");
    expect(fresh.lastSetCookie[0]).toContain("; Secure");
  });

  it("refuses a public URL that is not an http(s) origin", async () => {
    // Arrange
    const opening = startPortal({ publicUrl: "reviews.example.org/path" });

    // Act
    const failure = await opening.then(
      () => undefined,
      (error: unknown) => error,
    );

    // Assert
    expect(failure).toMatchObject({ name: "PortalConfigError" });
  });

  it("shows the queue count and the answers given in this session", async () => {
    // Arrange
    fixture = await startPortal();
    for (const name of ["loop-1", "loop-2", "loop-3"]) fixture.queue.add(name, input());
    const { client, csrf } = await startWorking(fixture, "ana");
    await client.postJson("/tasks/loop-1/submit", { category: { label: "Acme" } }, { "x-csrf-token": csrf });

    // Act
    const body = await (await client.get("/tasks/loop-2")).text();

    // Assert
    expect(body).toMatch(/data-testid="waiting">1</);
    expect(body).toMatch(/<strong>1<\/strong> done this session/);
  });

  it("counts tasks that arrive after the home page was rendered, for that page to enable its button", async () => {
    // Arrange
    fixture = await startPortal();
    const client = await reviewer(fixture, "ana");
    const home = await (await client.get("/")).text();

    // Act
    fixture.queue.add("loop-1", input());
    fixture.queue.add("loop-2", input());
    const live = await client.get("/queue");
    const signedOut = await new Browserish(fixture.portal.url).get("/queue");

    // Assert
    expect(home).toMatch(/id="start-working" disabled/);
    expect(live.status).toBe(200);
    expect(live.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await live.json()).toEqual({ waiting: 2 });
    expect(signedOut.status).toBe(401);
    expect(await signedOut.json()).toMatchObject({ error: "SignInRequired" });
  });

  it("says all done after the last task", async () => {
    // Arrange
    fixture = await startPortal();
    fixture.queue.add("loop-1", input());
    const { client, csrf } = await startWorking(fixture, "ana");

    // Act
    const response = await client.postJson(
      "/tasks/loop-1/submit",
      { category: { label: "Acme" } },
      {
        "x-csrf-token": csrf,
      },
    );
    const home = await client.get("/?notice=done");

    // Assert
    expect(await response.json()).toEqual({ next: "/?notice=done" });
    expect(await home.text()).toContain("All done");
  });

  it("answers 404 to a reviewer opening another reviewer's task, revealing nothing", async () => {
    // Arrange
    fixture = await startPortal();
    fixture.queue.add("loop-1", input({ detectedLabel: "Private detail" }));
    await startWorking(fixture, "ana");
    const bob = await reviewer(fixture, "bob");

    // Act
    const held = await bob.get("/tasks/loop-1");
    const missing = await bob.get("/tasks/loop-404");
    const heldBody = await held.text();

    // Assert
    expect(held.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(heldBody).not.toContain("Private detail");
    expect(heldBody.replace(/content="[^"]+"|value="[^"]+"/g, "")).toBe(
      (await missing.text()).replace(/content="[^"]+"|value="[^"]+"/g, ""),
    );
  });

  it("refuses with 409 a submit for another reviewer's task and keeps the holder's task intact", async () => {
    // Arrange
    fixture = await startPortal();
    fixture.queue.add("loop-1", input());
    await startWorking(fixture, "ana");
    const bob = await reviewer(fixture, "bob");
    const csrf = await bob.csrfFrom("/");

    // Act
    const response = await bob.postJson(
      "/tasks/loop-1/submit",
      { category: { label: "Acme" } },
      {
        "x-csrf-token": csrf,
      },
    );

    // Assert
    expect(response.status).toBe(409);
    expect(await response.json()).toMatchObject({ error: "TaskUnavailableError", reason: "not-held" });
    expect(fixture.queue.answers).toEqual([]);
    expect(fixture.queue.tasks[0]?.holder).toBeDefined();
  });

  it("refuses with 409 a submit after the reviewer skipped the task", async () => {
    // Arrange
    fixture = await startPortal();
    fixture.queue.add("loop-1", input());
    const { client, csrf } = await startWorking(fixture, "ana");
    const skip = await client.postForm("/tasks/loop-1/release", { _csrf: csrf });

    // Act
    const response = await client.postJson(
      "/tasks/loop-1/submit",
      { category: { label: "Acme" } },
      {
        "x-csrf-token": csrf,
      },
    );

    // Assert
    expect(skip.headers.get("location")).toBe("/?notice=skipped");
    expect(response.status).toBe(409);
    expect(fixture.queue.answers).toEqual([]);
    expect(await fixture.queue.countAvailable({ id: "ffffffffffffffff" } as never)).toBe(1);
  });

  it("refuses with 409 a submit after the hold ran out", async () => {
    // Arrange
    fixture = await startPortal();
    fixture.queue.add("loop-1", input());
    const { client, csrf } = await startWorking(fixture, "ana");
    fixture.clock.advance(601_000);

    // Act
    const response = await client.postJson(
      "/tasks/loop-1/submit",
      { category: { label: "Acme" } },
      {
        "x-csrf-token": csrf,
      },
    );

    // Assert
    expect(response.status).toBe(409);
    expect((await response.json()).message).toBeTruthy();
  });

  it("skips to a different task when another one is waiting", async () => {
    // Arrange
    fixture = await startPortal();
    fixture.queue.add("loop-1", input());
    fixture.queue.add("loop-2", input());
    const { client, csrf } = await startWorking(fixture, "ana");

    // Act
    const skip = await client.postForm("/tasks/loop-1/release", { _csrf: csrf });

    // Assert
    expect(skip.headers.get("location")).toBe("/tasks/loop-2");
    expect(fixture.queue.tasks[0]?.holder).toBeUndefined();
    expect(fixture.queue.tasks[1]?.holder).toBeDefined();
  });

  it("refuses an answer that is not a JSON object with 400 and records nothing", async () => {
    // Arrange
    fixture = await startPortal();
    fixture.queue.add("loop-1", input());
    const { client, csrf } = await startWorking(fixture, "ana");

    // Act
    const array = await client.postJson("/tasks/loop-1/submit", ["Acme"], { "x-csrf-token": csrf });
    const broken = await client.request("/tasks/loop-1/submit", {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: "{not json",
    });

    // Assert
    expect(array.status).toBe(400);
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ error: "InvalidAnswerError" });
    expect(fixture.queue.answers).toEqual([]);
    expect(fixture.queue.tasks[0]?.holder).toBeDefined();
  });
});

describe("escaping", () => {
  it("renders script in a label and in the task input as inert text", async () => {
    // Arrange
    fixture = await startPortal();
    const evil = `<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>`;
    fixture.queue.add("loop-1", input({ categories: [evil, "None of the Above"], detectedLabel: evil }));

    // Act
    const { client, location } = await startWorking(fixture, "ana");
    const body = await (await client.get(location)).text();

    // Assert
    expect(body).not.toContain("<script>window.__xss");
    expect(body).not.toContain("<img src=x");
    expect(body).toContain("&lt;script&gt;window.__xss=1&lt;/script&gt;");
    expect(body).toContain("\\u003cscript\\u003e");
  });

  it("escapes a hostile flow definition title in the portal's own chrome", async () => {
    // Arrange
    fixture = await startPortal();
    fixture.queue.add("loop-1", input());
    const entry = fixture.queue.tasks[0];
    if (entry) entry.task.title = `"><script>alert(1)</script>`;

    // Act
    const { client, location } = await startWorking(fixture, "ana");
    const body = await (await client.get(location)).text();

    // Assert
    expect(body).not.toContain("<script>alert(1)</script>");
    expect(body).toContain("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
  });

  it("shows a template that does not render as a clear message and keeps the task held", async () => {
    // Arrange
    fixture = await startPortal();
    fixture.queue.add("loop-1", input({ taskObject: "not-an-s3-uri" }));

    // Act
    const { client, location } = await startWorking(fixture, "ana");
    const page = await client.get(location);

    // Assert
    expect(page.status).toBe(500);
    expect(await page.text()).toContain("This task cannot be shown");
    expect(fixture.queue.tasks[0]?.holder).toBeDefined();
  });
});

describe("template preview", () => {
  it("renders a pasted template into a sandboxed frame only its author can load", async () => {
    // Arrange
    fixture = await startPortal();
    const ana = await reviewer(fixture, "ana");
    const bob = await reviewer(fixture, "bob");
    const csrf = await ana.csrfFrom("/preview");

    // Act
    const page = await ana.postForm("/preview", {
      _csrf: csrf,
      template:
        '<crowd-form><crowd-input name="note" value="{{ task.input.text }}"></crowd-input></crowd-form>',
      input: JSON.stringify({ text: "<b>hi</b>" }),
    });
    const body = await page.text();
    const frameUrl = /src="(\/preview\/frame\/[0-9a-f-]{36})"/.exec(body)?.[1] ?? "";
    const frame = await ana.get(frameUrl);
    const stolen = await bob.get(frameUrl);

    // Assert
    expect(page.status).toBe(200);
    expect(body).toContain('sandbox="allow-scripts allow-forms"');
    expect(frame.status).toBe(200);
    expect(await frame.text()).toContain('value="&lt;b&gt;hi&lt;/b&gt;"');
    expect(frame.headers.get("content-security-policy")).toContain("sandbox allow-scripts allow-forms");
    expect(frame.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    expect(stolen.status).toBe(404);
  });

  it("reports invalid sample input JSON and a broken template as errors", async () => {
    // Arrange
    fixture = await startPortal();
    const ana = await reviewer(fixture, "ana");
    const csrf = await ana.csrfFrom("/preview");

    // Act
    const badJson = await ana.postForm("/preview", { _csrf: csrf, template: "<p>x</p>", input: "{nope" });
    const badTemplate = await ana.postForm("/preview", {
      _csrf: csrf,
      template: "{% if %}",
      input: "{}",
    });

    // Assert
    expect(badJson.status).toBe(400);
    expect(await badJson.text()).toContain("The sample input is not valid JSON");
    expect(badTemplate.status).toBe(400);
    expect(await badTemplate.text()).toContain("The template does not render");
  });
});
