/** Running Parallel branches and Map iterations side by side. */
import { StatesError } from "./errors";

/** Like Promise.all, but waits for every branch to settle and reports the first real failure. */
export async function settleAll(promises: Promise<unknown>[]): Promise<unknown[]> {
  const settled = await Promise.allSettled(promises);
  const failure =
    settled.find((s) => s.status === "rejected" && s.reason instanceof StatesError) ??
    settled.find((s) => s.status === "rejected");
  if (failure && failure.status === "rejected") throw failure.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value);
}

/** Runs `run` over items with at most `limit` at once (0 = unbounded), keeping result order. */
export async function mapLimit<T>(
  items: T[],
  limit: number,
  run: (item: T, index: number) => Promise<unknown>,
) {
  const width = limit > 0 ? Math.min(limit, items.length) : items.length;
  const promises: Promise<unknown>[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: width }, async () => {
    while (next < items.length) {
      const index = next++;
      const promise = run(items[index] as T, index);
      promises[index] = promise;
      try {
        await promise;
      } catch {
        // The failure is reported by settleAll below; this worker stops taking items.
        return;
      }
    }
  });
  await Promise.all(workers);
  return settleAll(promises.filter((p) => p !== undefined));
}
