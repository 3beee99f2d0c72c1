import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openAccountStore } from "../../src/portal/accounts";
import { Browserish, type PortalFixture, reviewer, startPortal } from "./fakes";

let fixture: PortalFixture;

afterEach(async () => {
  await fixture?.close();
});

describe("signing in", () => {
  it("forces a new password at the first sign-in with a generated password", async () => {
    // Arrange
    fixture = await startPortal();
    const { password } = await fixture.portal.accounts.add("ana");
    const client = new Browserish(fixture.portal.url);

    // Act
    const signIn = await client.signIn("ana", password);
    const home = await client.get("/");

    // Assert
    expect(password.length).toBeGreaterThanOrEqual(16);
    expect(signIn.status).toBe(303);
    expect(signIn.headers.get("location")).toBe("/change-password");
    expect(home.status).toBe(303);
    expect(home.headers.get("location")).toBe("/change-password");
  });

  it("refuses a new password shorter than 12 characters and keeps the account unchanged", async () => {
    // Arrange
    fixture = await startPortal();
    const { password } = await fixture.portal.accounts.add("ana");
    const client = new Browserish(fixture.portal.url);
    await client.signIn("ana", password);
    const csrf = await client.csrfFrom("/change-password");

    // Act
    const response = await client.postForm("/change-password", {
      _csrf: csrf,
      newPassword: "short-pass",
      confirmPassword: "short-pass",
    });

    // Assert
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("at least 12 characters");
    expect((await fixture.portal.accounts.list())[0]?.mustChangePassword).toBe(true);
  });

  it("signs in with the chosen password and reaches the queue", async () => {
    // Arrange
    fixture = await startPortal();
    const { password } = await fixture.portal.accounts.add("ana");
    await new Browserish(fixture.portal.url).signInFresh("ana", password, "correct horse battery");
    const client = new Browserish(fixture.portal.url);
    fixture.queue.add("loop-1", { taskObject: "s3://bucket-a/x.png", categories: ["A"] });

    // Act
    const signIn = await client.signIn("ana", "correct horse battery");
    const home = await client.get("/");

    // Assert
    expect(signIn.headers.get("location")).toBe("/");
    expect(home.status).toBe(200);
    expect(await home.text()).toMatch(/data-testid="waiting">1</);
  });

  it("answers a wrong password with 401 and a message that does not say which part was wrong", async () => {
    // Arrange
    fixture = await startPortal();
    await fixture.portal.accounts.add("ana");
    const client = new Browserish(fixture.portal.url);

    // Act
    const wrongPassword = await client.signIn("ana", "not-the-password");
    const unknownUser = await client.signIn("nobody", "not-the-password");

    // Assert
    expect(wrongPassword.status).toBe(401);
    expect(unknownUser.status).toBe(401);
    expect(await wrongPassword.text()).toContain("Wrong username or password.");
    expect(await unknownUser.text()).toContain("Wrong username or password.");
  });

  it("locks a username for a minute after 5 failures, even against the right password", async () => {
    // Arrange
    fixture = await startPortal();
    const { password } = await fixture.portal.accounts.add("ana");
    const client = new Browserish(fixture.portal.url);
    for (let i = 0; i < 5; i++) await client.signIn("ana", `wrong-${i}`);

    // Act
    const locked = await client.signIn("ana", password);
    fixture.clock.advance(61_000);
    const later = await client.signIn("ana", password);

    // Assert
    expect(locked.status).toBe(429);
    expect(locked.headers.get("retry-after")).toBe("60");
    expect(await locked.text()).toContain("Too many failed sign-in attempts. Try again in 60 seconds.");
    expect(later.status).toBe(303);
  });

  it("locks a client address after 20 failures across many usernames", async () => {
    // Arrange
    fixture = await startPortal();
    const { password } = await fixture.portal.accounts.add("ana");
    const client = new Browserish(fixture.portal.url);
    for (let i = 0; i < 20; i++) await client.signIn(`user${i}`, "wrong-password");

    // Act
    const response = await client.signIn("ana", password);

    // Assert
    expect(response.status).toBe(429);
  });

  it("sets an HttpOnly, SameSite=Strict session cookie with an expiry and rotates it at sign-in", async () => {
    // Arrange
    fixture = await startPortal();
    const { password } = await fixture.portal.accounts.add("ana");
    const client = new Browserish(fixture.portal.url);
    await client.get("/sign-in");
    const anonymousCookie = client.lastSetCookie[0] ?? "";

    // Act
    await client.signIn("ana", password);
    const signedInCookie = client.lastSetCookie[0] ?? "";

    // Assert
    expect(signedInCookie).toMatch(/^secondlook_session=[A-Za-z0-9_-]{40,};/);
    expect(signedInCookie).toContain("HttpOnly");
    expect(signedInCookie).toContain("SameSite=Strict");
    expect(signedInCookie).toMatch(/Max-Age=\d+/);
    expect(signedInCookie.split(";")[0]).not.toBe(anonymousCookie.split(";")[0]);
  });

  it("signs out and clears the session so the old cookie no longer works", async () => {
    // Arrange
    fixture = await startPortal();
    const client = await reviewer(fixture, "ana");
    const oldCookie = client.cookieHeader();
    const csrf = await client.csrfFrom("/");

    // Act
    const signOut = await client.postForm("/sign-out", { _csrf: csrf });
    const replay = await fetch(new URL("/", fixture.portal.url), {
      headers: { cookie: oldCookie },
      redirect: "manual",
    });

    // Assert
    expect(signOut.status).toBe(303);
    expect(signOut.headers.get("location")).toBe("/sign-in");
    expect(client.lastSetCookie[0]).toContain("Max-Age=0");
    expect(replay.status).toBe(303);
    expect(replay.headers.get("location")).toBe("/sign-in");
  });

  it("ends a session after 12 hours", async () => {
    // Arrange
    fixture = await startPortal();
    const client = await reviewer(fixture, "ana");
    const before = await client.get("/");

    // Act
    fixture.clock.advance(12 * 60 * 60 * 1000 + 1000);
    const after = await client.get("/");

    // Assert
    expect(before.status).toBe(200);
    expect(after.status).toBe(303);
    expect(after.headers.get("location")).toBe("/sign-in");
  });

  it("requires the current password for a voluntary password change", async () => {
    // Arrange
    fixture = await startPortal();
    const client = await reviewer(fixture, "ana");
    const csrf = await client.csrfFrom("/change-password");
    const fields = {
      _csrf: csrf,
      newPassword: "another long passphrase",
      confirmPassword: "another long passphrase",
    };

    // Act
    const wrong = await client.postForm("/change-password", {
      ...fields,
      currentPassword: "guess-guess-guess",
    });
    const right = await client.postForm("/change-password", {
      ...fields,
      currentPassword: "a calm and long passphrase",
    });
    const signIn = await new Browserish(fixture.portal.url).signIn("ana", "another long passphrase");

    // Assert
    expect(wrong.status).toBe(401);
    expect(right.status).toBe(303);
    expect(right.headers.get("location")).toBe("/?notice=password-changed");
    expect(signIn.headers.get("location")).toBe("/");
  });

  it("ends existing sessions when an operator resets the reviewer's password", async () => {
    // Arrange
    fixture = await startPortal();
    const client = await reviewer(fixture, "ana");

    // Act
    const { password } = await fixture.portal.accounts.resetPassword("ana");
    const home = await client.get("/");
    const signIn = await new Browserish(fixture.portal.url).signIn("ana", password);

    // Assert
    expect(home.headers.get("location")).toBe("/sign-in");
    expect(signIn.headers.get("location")).toBe("/change-password");
  });
});

describe("CSRF and origin checks", () => {
  it("refuses a state-changing request without a CSRF token", async () => {
    // Arrange
    fixture = await startPortal();
    const client = await reviewer(fixture, "ana");
    fixture.queue.add("loop-1", { taskObject: "s3://bucket-a/x.png", categories: ["A"] });

    // Act
    const response = await client.postForm("/work", {});

    // Assert
    expect(response.status).toBe(403);
    expect(fixture.queue.tasks[0]?.holder).toBeUndefined();
  });

  it("refuses a state-changing request with a wrong CSRF token", async () => {
    // Arrange
    fixture = await startPortal();
    const client = await reviewer(fixture, "ana");
    const csrf = await client.csrfFrom("/");
    fixture.queue.add("loop-1", { taskObject: "s3://bucket-a/x.png", categories: ["A"] });

    // Act
    const response = await client.postForm("/work", { _csrf: `${csrf.slice(0, -2)}xx` });
    const jsonResponse = await client.postJson(
      "/tasks/loop-1/submit",
      { category: { label: "A" } },
      {
        "x-csrf-token": "nope",
      },
    );

    // Assert
    expect(response.status).toBe(403);
    expect(jsonResponse.status).toBe(403);
    expect(await jsonResponse.json()).toMatchObject({ error: "CsrfError" });
    expect(fixture.queue.tasks[0]?.holder).toBeUndefined();
  });

  it("refuses a request whose Origin or Sec-Fetch-Site says it came from another site", async () => {
    // Arrange
    fixture = await startPortal();
    const client = await reviewer(fixture, "ana");
    const csrf = await client.csrfFrom("/");

    // Act
    const foreignOrigin = await client.postForm("/work", { _csrf: csrf }, { origin: "https://evil.example" });
    const crossSite = await client.postForm("/work", { _csrf: csrf }, { "sec-fetch-site": "cross-site" });
    const sameOrigin = await client.postForm("/work", { _csrf: csrf }, { origin: fixture.portal.url });

    // Assert
    expect(foreignOrigin.status).toBe(403);
    expect(crossSite.status).toBe(403);
    expect(sameOrigin.status).toBe(303);
  });

  it("refuses a sign-in form posted without the form's token", async () => {
    // Arrange
    fixture = await startPortal();
    const { password } = await fixture.portal.accounts.add("ana");
    const client = new Browserish(fixture.portal.url);
    await client.get("/sign-in");

    // Act
    const response = await client.postForm("/sign-in", { username: "ana", password });

    // Assert
    expect(response.status).toBe(403);
  });
});

describe("pages and accounts", () => {
  it("sends a strict CSP, nosniff, no-referrer and DENY framing on every page", async () => {
    // Arrange
    fixture = await startPortal();
    const client = new Browserish(fixture.portal.url);

    // Act
    const response = await client.get("/sign-in");

    // Assert
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("img-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-eval");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    expect(response.headers.get("x-frame-options")).toBe("DENY");
  });

  it("redirects a visitor who is not signed in to the sign-in page", async () => {
    // Arrange
    fixture = await startPortal();
    const client = new Browserish(fixture.portal.url);

    // Act
    const home = await client.get("/");
    const task = await client.get("/tasks/loop-1");

    // Assert
    expect(home.headers.get("location")).toBe("/sign-in");
    expect(task.headers.get("location")).toBe("/sign-in");
  });

  it("keeps accounts across restarts with only scrypt hashes on disk", async () => {
    // Arrange
    fixture = await startPortal();
    const { password } = await fixture.portal.accounts.add("ana");
    const before = (await fixture.portal.accounts.list())[0];
    await fixture.portal.close();
    const restarted = await startPortal({ dataDir: fixture.dataDir });
    const dataDir = fixture.dataDir;
    fixture = {
      ...restarted,
      close: async () => {
        await restarted.close();
        await rm(dataDir, { recursive: true, force: true });
      },
    };

    // Act
    const signIn = await new Browserish(fixture.portal.url).signIn("ana", password);
    const onDisk = await readFile(join(dataDir, "portal", "accounts.json"), "utf8");

    // Assert
    expect(signIn.headers.get("location")).toBe("/change-password");
    expect(onDisk).not.toContain(password);
    expect(onDisk).toContain('"salt"');
    expect((await fixture.portal.accounts.list())[0]).toEqual(before);
    expect(before?.workerId).toMatch(/^[0-9a-f]{16}$/);
    expect(before?.sub).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("accepts a reviewer that another process added while the portal runs", async () => {
    // Arrange
    fixture = await startPortal();
    const cli = await openAccountStore(fixture.dataDir, { issuer: () => "unused" });

    // Act
    const { password } = await cli.add("carla");
    const signIn = await new Browserish(fixture.portal.url).signIn("carla", password);

    // Assert
    expect(signIn.headers.get("location")).toBe("/change-password");
    expect((await fixture.portal.accounts.list()).map((a) => a.username)).toEqual(["carla"]);
  });

  it("refuses to start over a damaged accounts file instead of overwriting it", async () => {
    // Arrange
    const dataDir = await mkdtemp(join(tmpdir(), "secondlook-portal-"));
    await mkdir(join(dataDir, "portal"), { recursive: true });
    await writeFile(join(dataDir, "portal", "accounts.json"), "{ half a file");

    // Act
    const opening = startPortal({ dataDir });

    // Assert
    await expect(opening).rejects.toMatchObject({ name: "AccountsFileCorruptError" });
    expect(await readFile(join(dataDir, "portal", "accounts.json"), "utf8")).toBe("{ half a file");
    await rm(dataDir, { recursive: true, force: true });
  });

  it("refuses a duplicate or malformed username with a named error", async () => {
    // Arrange
    fixture = await startPortal();
    await fixture.portal.accounts.add("ana");

    // Act
    const duplicate = fixture.portal.accounts.add("ANA");
    const malformed = fixture.portal.accounts.add("<script>");
    const missing = fixture.portal.accounts.remove("bob");

    // Assert
    await expect(duplicate).rejects.toMatchObject({ name: "AccountExistsError" });
    await expect(malformed).rejects.toMatchObject({ name: "InvalidUsernameError" });
    await expect(missing).rejects.toMatchObject({ name: "AccountNotFoundError" });
    expect((await fixture.portal.accounts.list()).map((a) => a.username)).toEqual(["ana"]);
  });

  it("answers an unknown path with a 404 that reveals nothing", async () => {
    // Arrange
    fixture = await startPortal();
    const client = await reviewer(fixture, "ana");

    // Act
    const response = await client.get("/admin");

    // Assert
    expect(response.status).toBe(404);
    expect(await response.text()).toContain("There is nothing here.");
  });
});
