/**
 * Sign-in throttling: repeated failures lock a username (and, with a higher bar, a client address)
 * for a minute, which makes guessing a password impractically slow without locking anyone out
 * for long.
 */
import type { Clock } from "../contracts";

export const LOCK_MS = 60_000;
const WINDOW_MS = 15 * 60_000;
/** Failures per username before it locks. */
export const USERNAME_FAILURE_LIMIT = 5;
/** Failures per client address: higher, since reviewers in one office may share an address. */
export const ADDRESS_FAILURE_LIMIT = 20;

interface Entry {
  failures: number[];
  lockedUntil: number;
}

/** Tracks failed sign-ins per key and says how long a key remains locked. */
export function createSignInThrottle(clock: Clock) {
  const entries = new Map<string, Entry>();

  const lockedFor = (key: string): number => {
    const entry = entries.get(key);
    if (!entry) return 0;
    return Math.max(0, entry.lockedUntil - clock.now().getTime());
  };

  const fail = (key: string, limit: number) => {
    const now = clock.now().getTime();
    const entry = entries.get(key) ?? { failures: [], lockedUntil: 0 };
    entry.failures = entry.failures.filter((t) => now - t < WINDOW_MS);
    entry.failures.push(now);
    if (entry.failures.length >= limit) {
      entry.lockedUntil = now + LOCK_MS;
      entry.failures = [];
    }
    entries.set(key, entry);
  };

  return {
    /** Milliseconds until this username/address pair may try again (0 = now). */
    retryAfterMs(username: string, address: string): number {
      return Math.max(lockedFor(`user:${username.toLowerCase()}`), lockedFor(`addr:${address}`));
    },
    recordFailure(username: string, address: string): void {
      fail(`user:${username.toLowerCase()}`, USERNAME_FAILURE_LIMIT);
      fail(`addr:${address}`, ADDRESS_FAILURE_LIMIT);
    },
    recordSuccess(username: string): void {
      entries.delete(`user:${username.toLowerCase()}`);
    },
  };
}
