/**
 * Task tokens: opaque to callers, but naming their execution so a callback that arrives after a
 * restart can find (and resume) the execution that waits for it.
 */
import { randomUUID } from "node:crypto";

/** Creates a task token: opaque, unique per attempt, and naming its execution so it outlives restarts. */
export function newTaskToken(executionArn: string): string {
  return Buffer.from(JSON.stringify({ v: 1, x: executionArn, n: randomUUID() })).toString("base64url");
}

/** The execution a token belongs to, or undefined when the text is not a token this engine minted. */
export function tokenExecution(token: string): string | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Record<string, unknown>;
    return parsed.v === 1 && typeof parsed.x === "string" && typeof parsed.n === "string"
      ? parsed.x
      : undefined;
  } catch {
    return undefined;
  }
}
