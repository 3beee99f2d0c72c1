/**
 * Where the local cloud's files are, the same whether it runs from its TypeScript sources (tests,
 * tsx) or from the bundle `npm start` runs (packages/local/dist/, see build.mjs): found through
 * the package's own name rather than this module's place, which the bundle changes.
 */
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";

/** packages/local */
export const LOCAL_ROOT = dirname(createRequire(import.meta.url).resolve("@secondlook/local/package.json"));

/** The repository root: statemachines/, the worker task template, the default data folder. */
export const REPO_ROOT = resolve(LOCAL_ROOT, "../..");

/** A file shipped with the local package's sources (static assets of the portal and console). */
export function localSource(...parts: string[]): string {
  return join(LOCAL_ROOT, "src", ...parts);
}
