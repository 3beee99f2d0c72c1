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

/** Each signal's abort listeners, behind the one EventTarget listener `whenAborted` gives it. */
const abortListeners = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Calls `listener` once when `signal` aborts (like addEventListener, not if it aborted already);
 * returns what stops listening. Every task attempt and wait listens for its execution's stop, and
 * EventTarget's own add and remove cost more than the rest of a task attempt's bookkeeping
 * (bench/engine.ts), so a signal gets one real listener and a Set.
 */
export function whenAborted(signal: AbortSignal, listener: () => void): () => void {
  let listeners = abortListeners.get(signal);
  if (!listeners) {
    const own = new Set<() => void>();
    signal.addEventListener(
      "abort",
      () => {
        for (const call of [...own]) call();
        own.clear();
      },
      { once: true },
    );
    abortListeners.set(signal, own);
    listeners = own;
  }
  listeners.add(listener);
  const registered = listeners;
  return () => registered.delete(listener);
}

/** Resolves when `ms` passed, rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const stopListening = whenAborted(signal, () => {
      timer.clear();
      reject(signal.reason);
    });
    const timer = after(ms, () => {
      stopListening();
      resolve();
    });
  });
}
