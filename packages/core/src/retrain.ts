/**
 * Deciding when enough new labels exist to retrain, in O(1) per image: one small counter object
 * updated with a conditional write, never a listing of the labeled folders.
 */
import { z } from "zod";
import { Prefixes } from "./blueprint";
import { CorruptStateError } from "./errors";
import type { Settings } from "./settings";
import { parseJsonText, parseWith } from "./validation";

/** How many recent counts the counter remembers, to recognise a retry after a crash (see `count`). */
export const RECENT_COUNTS = 64;

export const RetrainDecisionSchema = z.object({
  due: z.boolean(),
  /** The train-model execution name for this crossing; null when not due. */
  trainingName: z.string().nullable(),
});
export type RetrainDecision = z.infer<typeof RetrainDecisionSchema>;

export const RetrainStateSchema = z.object({
  /** How many trainings were triggered so far; names the next one. */
  generation: z.number().int().min(0),
  /** Labels added since the last crossing. */
  untrained: z.number().int().min(0),
  /** The last few counted executions and what they were told, newest last. */
  recent: z.array(RetrainDecisionSchema.extend({ executionName: z.string() })).default([]),
});
export type RetrainState = z.infer<typeof RetrainStateSchema>;

/** The counter object's key. */
export const COUNTER_KEY = `${Prefixes.state}retrain-counter.json`;

/** The per-image marker that says this execution was counted, holding the decision it got. */
function markerKey(executionName: string): string {
  return `${Prefixes.state}counted/${encodeURIComponent(executionName)}.json`;
}

function initial(): RetrainState {
  return { generation: 0, untrained: 0, recent: [] };
}

/** The train-model execution name of a crossing; Step Functions refuses a second start with it. */
function trainingName(generation: number): string {
  return `retrain-${generation}`;
}

/**
 * Counts one new label. Crossing `minUntrainedImages` resets the count and bumps the generation,
 * so each crossing yields exactly one training name. An execution already in `recent` (its counter
 * write landed but its marker did not) gets its earlier decision and changes nothing.
 */
function count(
  state: RetrainState,
  executionName: string,
  settings: Pick<Settings, "autoTrainingEnabled" | "minUntrainedImages">,
): RetrainDecision & { next: RetrainState; alreadyCounted: boolean } {
  const previous = state.recent.find((entry) => entry.executionName === executionName);
  if (previous) {
    return { due: previous.due, trainingName: previous.trainingName, next: state, alreadyCounted: true };
  }
  const untrained = state.untrained + 1;
  // With auto-training off the count keeps growing, so the first image after it is switched back on crosses.
  const due = settings.autoTrainingEnabled && untrained >= settings.minUntrainedImages;
  const generation = due ? state.generation + 1 : state.generation;
  const decision: RetrainDecision = { due, trainingName: due ? trainingName(generation) : null };
  const recent = [...state.recent, { executionName, ...decision }].slice(-RECENT_COUNTS);
  return { ...decision, next: { generation, untrained: due ? 0 : untrained, recent }, alreadyCounted: false };
}

/** Parses the stored counter; a counter that does not parse is reported, never silently reset. */
function parseState(text: string): RetrainState {
  const value = parseJsonText(text, CorruptStateError, `Retrain counter ${COUNTER_KEY}`);
  return parseWith(RetrainStateSchema, value, CorruptStateError, `Retrain counter ${COUNTER_KEY}`);
}

/** Parses a stored per-image marker. */
function parseDecision(text: string, key: string): RetrainDecision {
  const value = parseJsonText(text, CorruptStateError, `Retrain marker ${key}`);
  return parseWith(RetrainDecisionSchema, value, CorruptStateError, `Retrain marker ${key}`);
}

export const Retrain = {
  count,
  initial,
  trainingName,
  markerKey,
  parseState,
  parseDecision,
  counterKey: COUNTER_KEY,
};
