/**
 * Worker threads that take CPU work off the local cloud's main thread, which serves every request,
 * runs the engine and the local S3: the detector's scoring (rekognition/pool.ts) and the Lambda
 * handlers with their AWS SDK clients (lambda/sandbox.ts), as a Rekognition endpoint and Lambda
 * sandboxes are other machines on AWS. One pool speaks a small request/reply protocol with its
 * workers; `serveRequests` is the worker's side of it.
 */
import { parentPort, SHARE_ENV, Worker } from "node:worker_threads";

/** An error as it crosses the thread boundary: what Lambda and the callers' checks need of it. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
}

/** What a worker answers: `ready` once, when it is loaded, then one reply per request. */
export type Reply =
  | { kind: "ready" }
  | { kind: "ok"; id: number; value: unknown }
  | { kind: "failed"; id: number; error: WireError };

/** A request as the worker receives it: the pool's message plus the id its reply must carry. */
export type Request<M> = M & { kind: "request"; id: number };

/** The worker stopped (crashed, or failed to start) before it answered the request. */
export class WorkerStoppedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WorkerStoppedError";
  }
}

/** A request to a pool that was closed. */
export class WorkerPoolClosedError extends Error {
  constructor(what: string) {
    super(`The ${what} is closed`);
    this.name = "WorkerPoolClosedError";
  }
}

export interface WorkerPoolOptions {
  /** What the pool is, for error messages ("detector pool"). */
  what: string;
  size: number;
  /** The worker's module: plain JavaScript (a worker thread starts without a TypeScript loader). */
  entry: URL;
  /** Messages a new worker gets before any request (the models it must hold, say). */
  setup?: () => unknown[];
  /** The workers' V8 heap limits (see Worker's resourceLimits). */
  resourceLimits?: { maxYoungGenerationSizeMb?: number };
  /** Errors a worker may throw, rebuilt as these classes (by name) so callers' instanceof holds. */
  errors?: Record<string, new (message: string) => Error>;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
}

/** Rebuilds a wire error as an Error of the same name, message and stack. */
export function reviveError(error: WireError, known: Record<string, new (message: string) => Error> = {}) {
  const Known = known[error.name];
  const revived = Known
    ? new Known(error.message)
    : Object.assign(new Error(error.message), { name: error.name });
  if (error.stack) revived.stack = error.stack;
  return revived;
}

/**
 * A fixed number of workers, started lazily, each request going to the one with the fewest in
 * flight. A worker that exits fails its requests with WorkerStoppedError and is replaced by the
 * next request (not in a loop: a worker that cannot start fails one request at a time). Idle
 * workers do not keep the process alive.
 */
export class WorkerPool {
  private readonly slots: (Slot | undefined)[];
  private nextId = 0;
  private closed = false;

  constructor(private readonly options: WorkerPoolOptions) {
    this.slots = new Array(options.size).fill(undefined);
  }

  /** Whether any worker is running. */
  get started(): boolean {
    return this.slots.some((slot) => slot !== undefined);
  }

  /** Sends `message` to every running worker (new ones get `setup()` instead). */
  broadcast(message: unknown): void {
    for (const slot of this.slots) slot?.worker.postMessage(message);
  }

  /** Starts every worker now rather than at its first request. */
  warm(): void {
    if (this.closed) throw new WorkerPoolClosedError(this.options.what);
    for (let i = 0; i < this.slots.length; i++) this.slots[i] ?? this.spawn(i);
  }

  /** Sends a request to the least busy worker; `transfer` moves buffers instead of copying them. */
  request<T>(message: Record<string, unknown>, transfer?: ArrayBuffer[]): Promise<T> {
    if (this.closed) return Promise.reject(new WorkerPoolClosedError(this.options.what));
    const slot = this.pick();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      slot.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.updateRef(slot);
      slot.worker.postMessage({ ...message, kind: "request", id }, transfer);
    });
  }

  /** Fails what is in flight with WorkerPoolClosedError and terminates every worker. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.slots.map((slot) => slot?.worker.terminate()));
    this.slots.fill(undefined);
  }

  // An idle worker must not keep the process alive; one with requests in flight must.
  private updateRef(slot: Slot) {
    if (slot.pending.size > 0) slot.worker.ref();
    else slot.worker.unref();
  }

  private pick(): Slot {
    let best: Slot | undefined;
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[i] ?? this.spawn(i);
      if (!best || slot.pending.size < best.pending.size) best = slot;
    }
    return best as Slot;
  }

  private spawn(index: number): Slot {
    // The worker sees the process's environment as it changes (the local cloud sets AWS_* after start).
    const worker = new Worker(this.options.entry, {
      env: SHARE_ENV,
      ...(this.options.resourceLimits ? { resourceLimits: this.options.resourceLimits } : {}),
    });
    const slot: Slot = { worker, pending: new Map() };
    let failure: Error | undefined;
    worker.on("message", (reply: Reply) => {
      if (reply.kind === "ready") return;
      const request = slot.pending.get(reply.id);
      if (!request) return;
      slot.pending.delete(reply.id);
      this.updateRef(slot);
      if (reply.kind === "ok") request.resolve(reply.value);
      else request.reject(reviveError(reply.error, this.options.errors));
    });
    worker.on("error", (error) => {
      failure = error;
    });
    worker.on("exit", (code) => {
      if (this.slots[index] === slot) this.slots[index] = undefined;
      const error = this.closed
        ? new WorkerPoolClosedError(this.options.what)
        : new WorkerStoppedError(
            `A worker of the ${this.options.what} stopped (exit code ${code}${failure ? `: ${failure.message}` : ""}) before it answered`,
          );
      for (const request of slot.pending.values()) request.reject(error);
      slot.pending.clear();
    });
    for (const message of this.options.setup?.() ?? []) worker.postMessage(message);
    this.updateRef(slot);
    this.slots[index] = slot;
    return slot;
  }
}

/**
 * The worker's side: answers each request with `handle`'s value or its error, and passes every
 * other message (setup, broadcasts) to `other`, in the order they arrive.
 */
export function serveRequests<M>(
  handle: (request: Request<M>) => Promise<unknown>,
  other: (message: unknown) => void = () => {},
): void {
  const port = parentPort;
  if (!port) throw new Error("serveRequests runs only in a worker thread");
  port.on("message", (message: { kind?: string }) => {
    if (message.kind !== "request") {
      other(message);
      return;
    }
    const request = message as Request<M>;
    handle(request).then(
      (value) => port.postMessage({ kind: "ok", id: request.id, value } satisfies Reply),
      (thrown: unknown) => {
        const { name, message: text, stack } = thrown instanceof Error ? thrown : new Error(String(thrown));
        port.postMessage({
          kind: "failed",
          id: request.id,
          error: { name, message: text, stack },
        } satisfies Reply);
      },
    );
  });
  port.postMessage({ kind: "ready" } satisfies Reply);
}
