/**
 * Vitest global setup: builds the bundle `npm start` and the CLI run (packages/local/build.mjs)
 * once, before any test file, so the tests that run the shipped CLI never build it concurrently.
 */
import { ensureBuilt } from "../../build.mjs";

export default async function setup() {
  await ensureBuilt();
}
