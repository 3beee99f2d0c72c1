/**
 * Test doubles for the local A2I's seams: an in-memory local S3, a recording event bus, a clock
 * the test moves by hand, and reviewer identities.
 */
import { createHash } from "node:crypto";
import type { Worker } from "../../src/a2i/workforce";
import type { BusEvent, Clock, EventBus, LocalObjects } from "../../src/contracts";

export class MemoryObjects implements LocalObjects {
  readonly objects = new Map<string, { body: Buffer; contentType?: string; lastModified: Date }>();
  /** When set, every put rejects with this error (to test a failing output write). */
  failPutsWith: Error | undefined;

  async get(bucket: string, key: string): Promise<Buffer> {
    const object = this.objects.get(`${bucket}/${key}`);
    if (!object) throw Object.assign(new Error(`NoSuchKey ${bucket}/${key}`), { name: "NoSuchKey" });
    return object.body;
  }

  async put(bucket: string, key: string, body: Buffer, contentType?: string): Promise<{ etag: string }> {
    if (this.failPutsWith) throw this.failPutsWith;
    this.objects.set(`${bucket}/${key}`, { body, contentType, lastModified: new Date() });
    return { etag: `"${createHash("md5").update(body).digest("hex")}"` };
  }

  async head(bucket: string, key: string) {
    const object = this.objects.get(`${bucket}/${key}`);
    if (!object) return undefined;
    return { size: object.body.length, etag: "etag", lastModified: object.lastModified };
  }

  async *list(bucket: string, prefix: string) {
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(`${bucket}/${prefix}`)).sort();
    for (const full of keys) {
      const object = this.objects.get(full);
      if (!object) continue;
      yield {
        key: full.slice(bucket.length + 1),
        size: object.body.length,
        etag: "etag",
        lastModified: object.lastModified,
      };
    }
  }

  /** The parsed JSON object at `s3://bucket/key`. */
  async json(uri: string): Promise<Record<string, unknown>> {
    const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
    if (!match) throw new Error(`not an s3 uri: ${uri}`);
    return JSON.parse((await this.get(match[1] as string, match[2] as string)).toString("utf8"));
  }

  keys(): string[] {
    return [...this.objects.keys()];
  }
}

export class RecordingBus implements EventBus {
  readonly events: BusEvent[] = [];
  /** When set, put rejects with this error and records nothing. */
  failWith: Error | undefined;

  /** Runs as part of delivery, like a rule target the bus awaits. */
  onPut: ((event: BusEvent) => Promise<void>) | undefined;

  async put(event: BusEvent): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.events.push(structuredClone(event));
    await this.onPut?.(event);
  }
}

export class ManualClock implements Clock {
  private current: number;

  constructor(start = "2026-03-04T05:06:07.890Z") {
    this.current = Date.parse(start);
  }

  now(): Date {
    return new Date(this.current);
  }

  advance(ms: number): void {
    this.current += ms;
  }
}

/** A reviewer identity as the portal would build it. */
export function aWorker(n: number): Worker {
  const hex = n.toString(16).padStart(16, "0");
  return {
    id: hex,
    sub: `00000000-0000-4000-8000-${n.toString().padStart(12, "0")}`,
    username: `reviewer${n}`,
    identityProviderType: "Cognito",
    issuer: "http://127.0.0.1:9999/portal",
  };
}
