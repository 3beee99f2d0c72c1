/**
 * Defaults every command shares, kept apart from start.ts so that commands which only talk to a
 * running cloud do not load the whole local cloud just to print their help.
 */
import { join } from "node:path";
import type { HumanLoopStatus } from "@aws-sdk/client-sagemaker-a2i-runtime";
import { REPO_ROOT } from "../paths";

export const DEFAULT_PORT = 4747;
export const DEFAULT_WEB_PORT = 4748;
/** `.secondlook/` in the repository root, wherever the CLI is run from. */
export const DEFAULT_DATA_DIR = join(REPO_ROOT, ".secondlook");

/** The endpoint the CLI talks to when neither --endpoint-url nor --stage is given. */
export function defaultLocalEndpoint(env: NodeJS.ProcessEnv = process.env) {
  return `http://127.0.0.1:${env.SECONDLOOK_PORT || DEFAULT_PORT}`;
}

/** A2I's human loop statuses, for `secondlook loops --status`. */
export const LOOP_STATUSES = [
  "InProgress",
  "Completed",
  "Failed",
  "Stopped",
  "Stopping",
] as const satisfies readonly HumanLoopStatus[];
