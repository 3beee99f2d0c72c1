/** Reviewer accounts created at the same moment, as an operator's script or a test suite does. */
import { afterEach, describe, expect, it } from "vitest";
import { Browserish, type PortalFixture, startPortal } from "../portal/fakes";

let fixture: PortalFixture | undefined;

afterEach(async () => {
  await fixture?.close();
});

describe("concurrent reviewer accounts", () => {
  it("keeps every one of 20 accounts created at once, and each can sign in (protects: no account is lost to a re-read racing a write)", async () => {
    // Arrange
    fixture = await startPortal();
    const portal = fixture.portal;

    // Act: each operator adds a reviewer who signs in straight away, while the others are still adding.
    const results = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const username = `reviewer${i}`;
        const { password } = await portal.accounts.add(username);
        const signedIn = await new Browserish(portal.url).signIn(username, password);
        return { username, location: signedIn.headers.get("location") };
      }),
    );

    // Assert
    expect((await portal.accounts.list()).map((account) => account.username).sort()).toEqual(
      results.map((result) => result.username).sort(),
    );
    expect(results.map((result) => result.location)).toEqual(
      Array.from({ length: 20 }, () => "/change-password"),
    );
  });
});
