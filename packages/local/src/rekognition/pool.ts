/**
 * Runs DetectCustomLabels' CPU work in worker threads so the local cloud's main thread, which also
 * runs the engine, the handlers and the local S3, only receives the request and sends the answer.
 * Models are sent to every worker once, when they start running; an image is sent per request.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { ImageDimensionsError, UnsupportedImageFormatError } from "./decode";
import type { DetectorModel } from "./detector";
import { PixelDataError } from "./features";
import type { CustomLabel } from "./inference";
import type { FromWorker, ToWorker, WireError } from "./worker";

/**
 * One worker per spare core, at most two: the main thread keeps one core busy, and on the 2-core
 * machines this runs on a second worker would only compete with the main thread and libuv's pool
 * (sharp's decodes) for the same core. One worker scores far more images per second than the main
 * thread can orchestrate.
 */
export const DETECTOR_WORKERS = Math.max(1, Math.min(2, availableParallelism() - 1));

/** The worker stopped (crashed, or failed to start) before it answered; the image was not scored. */
export class DetectorWorkerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DetectorWorkerError";
  }
}

/** detect() or load() after close(). */
export class DetectorPoolClosedError extends Error {
  constructor() {
    super("The detector pool is closed");
    this.name = "DetectorPoolClosedError";
  }
}

/** The errors inference can throw, rebuilt by name so callers' instanceof checks keep working. */
const KNOWN_ERRORS: Record<string, new (message: string) => Error> = {
  UnsupportedImageFormatError,
  ImageDimensionsError,
  PixelDataError,
};

function revive(error: WireError): Error {
  const Known = KNOWN_ERRORS[error.name];
  if (Known) return new Known(error.message);
  return Object.assign(new Error(error.message), { name: error.name });
}

export interface DetectorPoolOptions {
  /** How many worker threads (default DETECTOR_WORKERS). */
  size?: number;
  /** The worker's module (default worker-entry.mjs); tests point it at stand-ins that crash. */
  entry?: URL;
}

export interface DetectorPool {
  /** Makes `model` available under `key` (a version ARN) to every worker, present and future. */
  load(key: string, model: DetectorModel): void;
  unload(key: string): void;
  /** The labels of one image, as inference.ts's inferLabels computes them, scored in a worker. */
  detect(key: string, image: Uint8Array): Promise<CustomLabel[]>;
  /** Fails what is in flight and terminates every worker. */
  close(): Promise<void>;
}

interface Pending {
  resolve(labels: CustomLabel[]): void;
  reject(error: Error): void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
}

/** Creates a pool; workers start lazily, on the first load, so a cloud with no running model has none. */
export function createDetectorPool(options: DetectorPoolOptions = {}): DetectorPool {
  const size = options.size ?? DETECTOR_WORKERS;
  const entry = options.entry ?? new URL("./worker-entry.mjs", import.meta.url);
  const models = new Map<string, DetectorModel>();
  const slots: (Slot | undefined)[] = new Array(size).fill(undefined);
  let nextId = 0;
  let closed = false;

  const send = (slot: Slot, message: ToWorker, transfer?: ArrayBuffer[]) =>
    slot.worker.postMessage(message, transfer);

  // An idle worker must not keep the process alive; one with requests in flight must.
  const updateRef = (slot: Slot) => {
    if (slot.pending.size > 0) slot.worker.ref();
    else slot.worker.unref();
  };

  const spawn = (index: number): Slot => {
    const worker = new Worker(entry);
    const slot: Slot = { worker, pending: new Map() };
    let failure: Error | undefined;
    worker.on("message", (message: FromWorker) => {
      if (message.kind === "ready") return;
      const request = slot.pending.get(message.id);
      if (!request) return;
      slot.pending.delete(message.id);
      updateRef(slot);
      if (message.kind === "labels") request.resolve(message.labels);
      else request.reject(revive(message.error));
    });
    worker.on("error", (error) => {
      failure = error;
    });
    worker.on("exit", (code) => {
      // The next request starts a replacement: a worker that cannot start is not restarted in a loop.
      if (slots[index] === slot) slots[index] = undefined;
      const reason = closed
        ? "the detector pool was closed"
        : `the detector worker stopped (exit code ${code}${failure ? `: ${failure.message}` : ""})`;
      const error = closed
        ? new DetectorPoolClosedError()
        : new DetectorWorkerError(`${reason}; the image was not scored`);
      for (const request of slot.pending.values()) request.reject(error);
      slot.pending.clear();
    });
    for (const [key, model] of models) send(slot, { kind: "load", key, model });
    updateRef(slot);
    slots[index] = slot;
    return slot;
  };

  /** The live worker with the fewest requests in flight, started if its slot is empty. */
  const pick = (): Slot => {
    let best: Slot | undefined;
    for (let i = 0; i < size; i++) {
      const slot = slots[i] ?? spawn(i);
      if (!best || slot.pending.size < best.pending.size) best = slot;
    }
    return best as Slot;
  };

  return {
    load(key, model) {
      if (closed) throw new DetectorPoolClosedError();
      models.set(key, model);
      for (let i = 0; i < size; i++) {
        const slot = slots[i];
        // A new slot is sent every model when it spawns.
        if (slot) send(slot, { kind: "load", key, model });
        else spawn(i);
      }
    },
    unload(key) {
      if (!models.delete(key)) return;
      for (const slot of slots) if (slot) send(slot, { kind: "unload", key });
    },
    detect(key, image) {
      if (closed) return Promise.reject(new DetectorPoolClosedError());
      const slot = pick();
      const id = nextId++;
      // A copy of exactly the image's bytes, handed over without a second copy: the caller's
      // Buffer may be a view of a larger (pooled) ArrayBuffer that must not be cloned or detached.
      const bytes = new Uint8Array(image);
      return new Promise<CustomLabel[]>((resolve, reject) => {
        slot.pending.set(id, { resolve, reject });
        updateRef(slot);
        send(slot, { kind: "detect", id, key, image: bytes }, [bytes.buffer]);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      models.clear();
      await Promise.all(slots.map((slot) => slot?.worker.terminate()));
      slots.fill(undefined);
    },
  };
}
