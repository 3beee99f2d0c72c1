/**
 * Keeping the active model's bill down without losing images: a running Custom Labels model bills
 * every hour, so an idle one is stopped after `modelIdleStopMinutes`, and detection starts a
 * stopped one again (the state machine's Retry waits until it runs).
 */
import { z } from "zod";
import { Prefixes } from "./blueprint";
import { CorruptStateError } from "./errors";
import type { ObjectRef } from "./events";
import type { Clock, ModelHost, ObjectStore, SettingsSource } from "./ports";
import type { Settings } from "./settings";
import { parseJsonText, parseWith } from "./validation";

/** When the active model last answered, kept by detection so the idle check needs no metrics API. */
export const LAST_USED_KEY = `${Prefixes.state}model-last-used.json`;

export const LastUsedSchema = z.object({ modelVersionArn: z.string().min(1), at: z.iso.datetime() });
export type LastUsed = z.infer<typeof LastUsedSchema>;

export type IdleDecision =
  | { action: "stop"; modelVersionArn: string; idleMinutes: number }
  | { action: "keep"; reason: string };

/**
 * Whether the active model has been idle long enough to stop. A model with no record of use (just
 * promoted, or used before this feature) is not stopped: its idle time starts at this check.
 */
function decide(input: {
  settings: Pick<Settings, "modelIdleStopMinutes" | "activeModelVersionArn">;
  lastUsed: LastUsed | undefined;
  now: Date;
}): IdleDecision {
  const { modelIdleStopMinutes: limit, activeModelVersionArn: active } = input.settings;
  if (limit === 0) return { action: "keep", reason: "Idle stop is off (model-idle-stop-minutes is 0)." };
  if (!active) return { action: "keep", reason: "No model version is active." };
  if (input.lastUsed?.modelVersionArn !== active) {
    return {
      action: "keep",
      reason: "The active version has no recorded use yet; its idle time starts now.",
    };
  }
  const idleMinutes = (input.now.getTime() - Date.parse(input.lastUsed.at)) / 60_000;
  if (idleMinutes < limit) {
    return { action: "keep", reason: `Idle for ${idleMinutes.toFixed(1)} of ${limit} minutes.` };
  }
  return { action: "stop", modelVersionArn: active, idleMinutes };
}

function parseLastUsed(text: string): LastUsed {
  const value = parseJsonText(text, CorruptStateError, `Model use record ${LAST_USED_KEY}`);
  return parseWith(LastUsedSchema, value, CorruptStateError, `Model use record ${LAST_USED_KEY}`);
}

export const ModelUpkeep = { decide, parseLastUsed, lastUsedKey: LAST_USED_KEY };

/** The scheduled idle check (stop-idle-model) and the bookkeeping detection does for it. */
export function createModelUpkeepService(deps: {
  store: ObjectStore;
  models: ModelHost;
  settings: SettingsSource;
  clock: Clock;
  bucket: string;
}) {
  const ref: ObjectRef = { bucket: deps.bucket, key: LAST_USED_KEY };
  const record = (modelVersionArn: string) =>
    deps.store.put(
      ref,
      JSON.stringify({ modelVersionArn, at: deps.clock.now().toISOString() } satisfies LastUsed),
      "application/json",
    );

  return {
    /** Records that a version just answered a detection. */
    async used(modelVersionArn: string): Promise<void> {
      await record(modelVersionArn);
    },

    /** Stops the active version when it has been idle for the configured time; says what it did. */
    async stopIfIdle(): Promise<IdleDecision & { stopped: boolean }> {
      const settings = await deps.settings.load();
      const stored = await deps.store.get(ref);
      const lastUsed = stored ? parseLastUsed(stored.body) : undefined;
      const decision = decide({ settings, lastUsed, now: deps.clock.now() });
      if (decision.action === "keep") {
        // Start the idle clock of a version nobody has used yet, so it is stopped in time too.
        const active = settings.activeModelVersionArn;
        if (settings.modelIdleStopMinutes > 0 && active && lastUsed?.modelVersionArn !== active) {
          await record(active);
        }
        return { ...decision, stopped: false };
      }
      const stopped = await deps.models.stop(decision.modelVersionArn);
      return { ...decision, stopped };
    },
  };
}
