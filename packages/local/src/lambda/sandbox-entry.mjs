// The Lambda sandbox's entry point when the local cloud runs from its TypeScript sources (tests,
// tsx): the built sandbox.ts when the bundle is current, else sandbox.ts itself (build.mjs).
import { runWorkerEntry } from "../../build.mjs";

await runWorkerEntry("sandbox-entry");
