/**
 * The detector worker thread: holds the running models and answers DetectCustomLabels' CPU work
 * (decode, features, scoring) off the local cloud's main thread. Started by pool.ts through
 * worker-entry.mjs; speaks only the messages below.
 */
import { parentPort } from "node:worker_threads";
import type { DetectorModel } from "./detector";
import { type CustomLabel, inferLabels } from "./inference";

/** Messages the pool sends; they arrive in order, so a model is always loaded before it is used. */
export type ToWorker =
  | { kind: "load"; key: string; model: DetectorModel }
  | { kind: "unload"; key: string }
  | { kind: "detect"; id: number; key: string; image: Uint8Array };

/** An error as it crosses the thread boundary: its name and message, never its stack. */
export interface WireError {
  name: string;
  message: string;
}

/** What the worker answers: once `ready` when its modules are loaded, then one reply per detect. */
export type FromWorker =
  | { kind: "ready" }
  | { kind: "labels"; id: number; labels: CustomLabel[] }
  | { kind: "failed"; id: number; error: WireError };

const port = parentPort;
if (!port) throw new Error("worker.ts runs only as a worker thread (see pool.ts)");

const models = new Map<string, DetectorModel>();
const reply = (message: FromWorker) => port.postMessage(message);

async function detect(id: number, key: string, image: Uint8Array) {
  try {
    const model = models.get(key);
    if (!model)
      throw Object.assign(new Error(`No model is loaded for ${key}`), { name: "ModelNotLoadedError" });
    reply({ kind: "labels", id, labels: await inferLabels(model, image) });
  } catch (error) {
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    reply({ kind: "failed", id, error: { name, message } });
  }
}

port.on("message", (message: ToWorker) => {
  if (message.kind === "load") models.set(message.key, message.model);
  else if (message.kind === "unload") models.delete(message.key);
  else void detect(message.id, message.key, message.image);
});
reply({ kind: "ready" });
