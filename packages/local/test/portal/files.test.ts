import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { ONE_PIXEL_PNG, type PortalFixture, reviewer, startPortal } from "./fakes";

let fixture: PortalFixture;

afterEach(async () => {
  await fixture?.close();
});

/** Opens a task whose image is `s3://bucket-a/<key>` and returns the signed URL the page uses. */
async function signedUrlFor(f: PortalFixture, key: string): Promise<string> {
  f.queue.add("loop-1", { taskObject: `s3://bucket-a/${key}`, categories: ["A"] });
  const client = await reviewer(f, "ana");
  const csrf = await client.csrfFrom("/");
  const location = (await client.postForm("/work", { _csrf: csrf })).headers.get("location") ?? "";
  const body = await (await client.get(location)).text();
  const src = /src="(\/files\/[^"]+)"/.exec(body)?.[1];
  if (!src) throw new Error("no signed URL on the task page");
  return src.replaceAll("&amp;", "&");
}

const fetchFile = (f: PortalFixture, path: string) =>
  fetch(new URL(path, f.portal.url), { redirect: "manual" });

/** Sends the path byte for byte; fetch would resolve "..", hiding what a hostile client can send. */
function rawStatus(f: PortalFixture, path: string): Promise<number> {
  const { hostname, port } = new URL(f.portal.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method: "GET" }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

describe("signed file URLs", () => {
  it("serves the image bytes with the image's content type", async () => {
    // Arrange
    fixture = await startPortal();
    await fixture.objects.put("bucket-a", "images_for_detection/a b.png", ONE_PIXEL_PNG);
    const url = await signedUrlFor(fixture, "images_for_detection/a b.png");

    // Act
    const response = await fetchFile(fixture, url);

    // Assert
    expect(url).toContain("/files/bucket-a/images_for_detection/a%20b.png?expires=");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("image/png");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(Buffer.from(await response.arrayBuffer()).equals(ONE_PIXEL_PNG)).toBe(true);
  });

  it("refuses an unsigned URL with 403", async () => {
    // Arrange
    fixture = await startPortal();
    await fixture.objects.put("bucket-a", "x.png", ONE_PIXEL_PNG);

    // Act
    const response = await fetchFile(fixture, "/files/bucket-a/x.png");

    // Assert
    expect(response.status).toBe(403);
  });

  it("refuses a URL whose signature, key or expiry was tampered with", async () => {
    // Arrange
    fixture = await startPortal();
    await fixture.objects.put("bucket-a", "x.png", ONE_PIXEL_PNG);
    await fixture.objects.put("bucket-a", "y.png", ONE_PIXEL_PNG);
    const url = await signedUrlFor(fixture, "x.png");
    const sig = /sig=([0-9a-f]+)/.exec(url)?.[1] ?? "";
    const flipped = `${sig.slice(0, -1)}${sig.endsWith("0") ? "1" : "0"}`;

    // Act
    const badSig = await fetchFile(fixture, url.replace(sig, flipped));
    const otherKey = await fetchFile(fixture, url.replace("x.png", "y.png"));
    const longer = await fetchFile(
      fixture,
      url.replace(/expires=(\d+)/, (_, e) => `expires=${Number(e) + 3600}`),
    );

    // Assert
    expect(badSig.status).toBe(403);
    expect(otherKey.status).toBe(403);
    expect(longer.status).toBe(403);
  });

  it("refuses an expired URL", async () => {
    // Arrange
    fixture = await startPortal();
    await fixture.objects.put("bucket-a", "x.png", ONE_PIXEL_PNG);
    const url = await signedUrlFor(fixture, "x.png");
    fixture.clock.advance(16 * 60_000);

    // Act
    const response = await fetchFile(fixture, url);

    // Assert
    expect(response.status).toBe(403);
  });

  it("refuses path traversal in the file route without reading outside the bucket", async () => {
    // Arrange
    fixture = await startPortal();
    await fixture.objects.put("bucket-a", "x.png", ONE_PIXEL_PNG);
    const url = await signedUrlFor(fixture, "x.png");
    const query = url.slice(url.indexOf("?"));
    const reads: string[] = [];
    const get = fixture.objects.get.bind(fixture.objects);
    fixture.objects.get = async (bucket, key) => {
      reads.push(`${bucket}/${key}`);
      return get(bucket, key);
    };

    // Act
    const statuses = await Promise.all(
      [
        `/files/bucket-a/%2e%2e/%2e%2e/etc/passwd${query}`,
        `/files/bucket-a/..%2f..%2fetc%2fpasswd${query}`,
        `/files/..%2fbucket-a/x.png${query}`,
        `/files/bucket-a/a/%2E%2E/x.png${query}`,
        `/files/bucket-a/../../etc/passwd${query}`,
        `/files/bucket-a/%00x.png${query}`,
        `/files/bucket-a/%E0%A4%A${query}`,
      ].map((path) => rawStatus(fixture, path)),
    );

    // Assert
    expect(statuses).toEqual([403, 403, 403, 403, 403, 403, 403]);
    expect(reads).toEqual([]);
  });

  it("answers 404 for a correctly signed URL to an object that is gone", async () => {
    // Arrange
    fixture = await startPortal();
    const url = await signedUrlFor(fixture, "missing.png");

    // Act
    const response = await fetchFile(fixture, url);

    // Assert
    expect(response.status).toBe(404);
  });
});
