// The Lambda sandbox worker's entry point when the local cloud runs from its TypeScript sources
// (tests, tsx): a worker thread starts in bare Node. It runs the built sandbox when the bundle is
// current (the tests' global setup builds it), which starts in a fraction of the time, and
// otherwise loads sandbox.ts (and what it imports) through tsx.
import { DIST, isStale, LOCAL_ENTRIES } from "../../build.mjs";

if (isStale(DIST, LOCAL_ENTRIES)) {
  const { tsImport } = await import("tsx/esm/api");
  await tsImport("./sandbox.ts", import.meta.url);
} else {
  await import(new URL("sandbox-entry.mjs", `file://${DIST}/`).href);
}
