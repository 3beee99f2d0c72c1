/**
 * Timers for waits of any length. Node runs a setTimeout longer than 2^31-1 ms (about 24.8 days)
 * after 1 ms, and Step Functions waits may last up to a year, so long delays are chained.
 */

const MAX_DELAY_MS = 2_147_483_647;

/** A running timer; `clear()` is safe to call at any time, any number of times. */
export interface Timer {
  clear(): void;
}

/** Calls `fn` once after `ms` milliseconds (negative or zero means as soon as possible). */
export function after(ms: number, fn: () => void): Timer {
  let handle: NodeJS.Timeout | undefined;
  let remaining = Math.max(0, ms);
  const arm = () => {
    const step = Math.min(remaining, MAX_DELAY_MS);
    remaining -= step;
    handle = setTimeout(() => (remaining > 0 ? arm() : fn()), step);
  };
  arm();
  return { clear: () => clearTimeout(handle) };
}

/** Resolves when `ms` passed, rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      timer.clear();
      reject(signal.reason);
    };
    const timer = after(ms, () => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
