/**
 * The detector worker thread: holds the running models and answers DetectCustomLabels' CPU work
 * (decode, features, scoring) off the local cloud's main thread. Started by pool.ts through
 * worker-entry.mjs (or as the bundle of that name); speaks workers.ts's protocol.
 */
import { type Request, serveRequests } from "../workers";
import type { DetectorModel } from "./detector";
import { inferLabels } from "./inference";

/** Models arrive (and leave) before the requests that use them: messages keep their order. */
export type ModelMessage =
  | { kind: "load"; key: string; model: DetectorModel }
  | { kind: "unload"; key: string };

export type DetectRequest = Request<{ key: string; image: Uint8Array }>;

const models = new Map<string, DetectorModel>();

serveRequests<{ key: string; image: Uint8Array }>(
  async ({ key, image }) => {
    const model = models.get(key);
    if (!model)
      throw Object.assign(new Error(`No model is loaded for ${key}`), { name: "ModelNotLoadedError" });
    return inferLabels(model, image);
  },
  (message) => {
    const change = message as ModelMessage;
    if (change.kind === "load") models.set(change.key, change.model);
    else if (change.kind === "unload") models.delete(change.key);
  },
);
