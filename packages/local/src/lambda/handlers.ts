/**
 * Every Lambda handler module of packages/functions by its file name. The imports are spelled out
 * so that the bundle `npm start` runs (build.mjs) contains each handler; each is still loaded only
 * when its function is first invoked, as Lambda loads a function's code in a new sandbox.
 */
export type HandlerModule = { handler?: unknown };

export const HANDLER_MODULES: Record<string, () => Promise<HandlerModule>> = {
  "build-training-manifest": () => import("@secondlook/functions/handlers/build-training-manifest"),
  "check-retrain": () => import("@secondlook/functions/handlers/check-retrain"),
  "copy-to-labeled-folder": () => import("@secondlook/functions/handlers/copy-to-labeled-folder"),
  detect: () => import("@secondlook/functions/handlers/detect"),
  "keep-negative-example": () => import("@secondlook/functions/handlers/keep-negative-example"),
  "on-human-loop-status": () => import("@secondlook/functions/handlers/on-human-loop-status"),
  "record-outcome": () => import("@secondlook/functions/handlers/record-outcome"),
  "start-human-loop": () => import("@secondlook/functions/handlers/start-human-loop"),
  "stop-idle-model": () => import("@secondlook/functions/handlers/stop-idle-model"),
};
