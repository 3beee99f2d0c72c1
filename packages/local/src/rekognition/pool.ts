/**
 * Runs DetectCustomLabels' CPU work in worker threads so the local cloud's main thread, which also
 * runs the engine, the handlers and the local S3, only receives the request and sends the answer.
 * Models are sent to every worker once, when they start running; an image is sent per request.
 */
import { availableParallelism } from "node:os";
import { WorkerPool, WorkerPoolClosedError, WorkerStoppedError } from "../workers";
import { ImageDimensionsError, UnsupportedImageFormatError } from "./decode";
import type { DetectorModel } from "./detector";
import { PixelDataError } from "./features";
import type { CustomLabel } from "./inference";
import type { DetectRequest, ModelMessage } from "./worker";

/**
 * One worker per spare core, at most two: the main thread keeps one core busy, and on the 2-core
 * machines this runs on a second worker would only compete with the main thread and libuv's pool
 * (sharp's decodes) for the same core. One worker scores far more images per second than the main
 * thread can orchestrate.
 */
export const DETECTOR_WORKERS = Math.max(1, Math.min(2, availableParallelism() - 1));

/** The detector workers' young generation, in MB (see createDetectorPool). */
const DETECTOR_YOUNG_GENERATION_MB = 4;

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

/** Creates a pool; workers start on the first load, so a cloud with no running model has none. */
export function createDetectorPool(options: DetectorPoolOptions = {}): DetectorPool {
  const models = new Map<string, DetectorModel>();
  let closed = false;
  const pool = new WorkerPool({
    what: "detector pool",
    size: options.size ?? DETECTOR_WORKERS,
    // Beside this module in the sources (a stand-in that loads worker.ts) and in the bundle.
    entry: options.entry ?? new URL("./worker-entry.mjs", import.meta.url),
    setup: () => [...models].map(([key, model]): ModelMessage => ({ kind: "load", key, model })),
    errors: KNOWN_ERRORS,
    // A detection allocates little on the JavaScript heap (pixels are typed arrays, scores are
    // numbers): V8's default young generation (16 MB semi-spaces) only held the worker ~12 MB
    // more resident, and a 4 MB one costs it a fraction of a millisecond per collection.
    resourceLimits: { maxYoungGenerationSizeMb: DETECTOR_YOUNG_GENERATION_MB },
  });

  return {
    load(key, model) {
      if (closed) throw new DetectorPoolClosedError();
      models.set(key, model);
      if (pool.started) pool.broadcast({ kind: "load", key, model } satisfies ModelMessage);
      else pool.warm();
    },
    unload(key) {
      if (models.delete(key)) pool.broadcast({ kind: "unload", key } satisfies ModelMessage);
    },
    async detect(key, image) {
      if (closed) throw new DetectorPoolClosedError();
      // A copy of exactly the image's bytes, handed over without a second copy: the caller's
      // Buffer may be a view of a larger (pooled) ArrayBuffer that must not be cloned or detached.
      const bytes = new Uint8Array(image);
      const request: Omit<DetectRequest, "kind" | "id"> = { key, image: bytes };
      try {
        return await pool.request<CustomLabel[]>(request, [bytes.buffer]);
      } catch (error) {
        if (error instanceof WorkerPoolClosedError) throw new DetectorPoolClosedError();
        if (error instanceof WorkerStoppedError) {
          throw new DetectorWorkerError(`${error.message}; the image was not scored`);
        }
        throw error;
      }
    },
    async close() {
      closed = true;
      models.clear();
      await pool.close();
    },
  };
}
