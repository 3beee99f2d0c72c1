import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { S3Client } from "@aws-sdk/client-s3";
import { WriteConflictError } from "@secondlook/core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createS3ObjectStore } from "../src/adapters/s3-object-store";

/**
 * The If-Match header is added by middleware (this SDK version does not model it), so it is
 * checked on the wire against a small S3-shaped server rather than through an SDK mock.
 */
let server: Server;
let client: S3Client;
let endpoint: string;
const seen: { method?: string; url?: string; headers: IncomingHttpHeaders }[] = [];
let nextStatus = 200;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers });
      if (nextStatus === 412) {
        res.writeHead(412, { "content-type": "application/xml" });
        res.end(
          '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>',
        );
        return;
      }
      res.writeHead(200, { etag: '"new-etag"' });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  endpoint = `http://127.0.0.1:${port}`;
  client = clientFor();
});

function clientFor(extra: { cacheMiddleware?: boolean } = {}) {
  return new S3Client({
    region: "us-east-1",
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
    ...extra,
  });
}

afterAll(async () => {
  client.destroy();
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
});

beforeEach(() => {
  seen.length = 0;
  nextStatus = 200;
});

describe("S3 conditional writes on the wire", () => {
  it("sends If-Match with the counter's ETag and returns the new ETag", async () => {
    // Arrange
    const store = createS3ObjectStore(client);

    // Act
    const written = await store.putIfMatch(
      { bucket: "data", key: "state/retrain-counter.json" },
      "{}",
      '"old-etag"',
    );

    // Assert
    expect(written).toEqual({ etag: '"new-etag"' });
    expect(seen[0]?.method).toBe("PUT");
    expect(new URL(seen[0]?.url ?? "", "http://127.0.0.1").pathname).toBe("/data/state/retrain-counter.json");
    expect(seen[0]?.headers["if-match"]).toBe('"old-etag"');
  });

  it("sends If-Match from a client that caches its middleware, as the handlers' clients do", async () => {
    // Arrange
    const cached = clientFor({ cacheMiddleware: true });
    const store = createS3ObjectStore(cached);

    // Act: a plain write first, so the command's middleware is resolved and cached before If-Match.
    await store.put({ bucket: "data", key: "state/other.json" }, "{}");
    await store.putIfMatch({ bucket: "data", key: "state/retrain-counter.json" }, "{}", '"old-etag"');
    await store.putIfMatch({ bucket: "data", key: "state/retrain-counter.json" }, "{}", '"newer-etag"');

    // Assert
    expect(seen.map((request) => request.headers["if-match"])).toEqual([
      undefined,
      '"old-etag"',
      '"newer-etag"',
    ]);
    cached.destroy();
  });

  it("reports a 412 on If-Match as WriteConflictError", async () => {
    // Arrange
    nextStatus = 412;
    const store = createS3ObjectStore(client);

    // Act
    const write = store.putIfMatch({ bucket: "data", key: "state/retrain-counter.json" }, "{}", '"stale"');

    // Assert
    await expect(write).rejects.toBeInstanceOf(WriteConflictError);
  });

  it("sends If-None-Match: * when creating and treats 412 as already there", async () => {
    // Arrange
    nextStatus = 412;
    const store = createS3ObjectStore(client);

    // Act
    const created = await store.putIfAbsent({ bucket: "data", key: "state/counted/e.json" }, "{}");

    // Assert
    expect(created).toBeUndefined();
    expect(seen[0]?.headers["if-none-match"]).toBe("*");
    expect(seen[0]?.headers["if-match"]).toBeUndefined();
  });
});
