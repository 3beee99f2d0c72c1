// The detector worker's entry point when the local cloud runs from its TypeScript sources (tests,
// tsx): the built worker.ts when the bundle is current, else worker.ts itself (build.mjs).
import { runWorkerEntry } from "../../build.mjs";

await runWorkerEntry("worker-entry");
