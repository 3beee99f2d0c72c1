/**
 * The operator's knobs, kept as one SSM parameter per setting under the stage's settings path.
 * Values travel as strings; this module owns their names, parsing and defaults.
 */
import { z } from "zod";
import { NONE_OF_THE_ABOVE } from "./blueprint";
import { InvalidSettingsError } from "./errors";
import { describeIssues } from "./validation";

/** crowd-image-classifier shows at most 10 categories, and "None of the Above" takes one. */
export const MAX_LABELS = 9;
const MAX_LABEL_LENGTH = 100;

const Label = z
  .string()
  .trim()
  .min(1, "a label must not be empty")
  .max(MAX_LABEL_LENGTH, `a label must be at most ${MAX_LABEL_LENGTH} characters`)
  .refine(
    (label) => label !== NONE_OF_THE_ABOVE,
    `"${NONE_OF_THE_ABOVE}" is always offered; do not store it`,
  );

export const SettingsSchema = z.object({
  minConfidence: z.number().min(0).max(100).default(70),
  humanReviewEnabled: z.boolean().default(true),
  humanSamplingPercent: z.number().min(0).max(100).default(0),
  autoTrainingEnabled: z.boolean().default(true),
  minUntrainedImages: z.number().int().min(1).default(20),
  minF1ToDeploy: z.number().min(0).max(1).default(0.8),
  minInferenceUnits: z.number().int().min(1).default(1),
  trainingPollSeconds: z.number().int().min(1).default(120),
  deployPollSeconds: z.number().int().min(1).default(30),
  /** 0 means a running model is never stopped for idleness. */
  modelIdleStopMinutes: z.number().int().min(0).default(0),
  /** Empty until the first model version is promoted. */
  activeModelVersionArn: z.string().default(""),
  labels: z
    .array(Label)
    .max(MAX_LABELS, `at most ${MAX_LABELS} labels (the reviewer UI shows 10 categories)`)
    .refine((labels) => new Set(labels).size === labels.length, "labels must be unique")
    .default([]),
});

export type Settings = z.infer<typeof SettingsSchema>;
export type SettingKey = keyof Settings;

const KEYS = Object.keys(SettingsSchema.shape) as SettingKey[];
const BOOLEAN_KEYS = new Set<SettingKey>(["humanReviewEnabled", "autoTrainingEnabled"]);
const STRING_KEYS = new Set<SettingKey>(["activeModelVersionArn"]);

/** The SSM name suffix of a setting: `minConfidence` → `min-confidence`. */
function parameterName(key: SettingKey): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

function decodeValue(key: SettingKey, name: string, raw: string): unknown {
  if (STRING_KEYS.has(key)) return raw.trim();
  if (BOOLEAN_KEYS.has(key)) {
    const value = raw.trim();
    if (value === "true") return true;
    if (value === "false") return false;
    throw new InvalidSettingsError(`Parameter ${name} must be "true" or "false", got ${JSON.stringify(raw)}`);
  }
  if (key === "labels") {
    try {
      return JSON.parse(raw);
    } catch {
      throw new InvalidSettingsError(
        `Parameter ${name} must be a JSON array of strings, got ${JSON.stringify(raw)}`,
      );
    }
  }
  const trimmed = raw.trim();
  const value = Number(trimmed);
  if (trimmed === "" || !Number.isFinite(value)) {
    throw new InvalidSettingsError(`Parameter ${name} must be a number, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** Every setting at its default value. */
function defaults(): Settings {
  return SettingsSchema.parse({});
}

/**
 * Parses SSM values keyed by name suffix (`min-confidence`); absent settings take their defaults and
 * names that are not settings are ignored, so other parameters may share the path.
 */
function fromParameters(parameters: Record<string, string | undefined>): Settings {
  const candidate: Record<string, unknown> = {};
  for (const key of KEYS) {
    const name = parameterName(key);
    const raw = parameters[name];
    if (raw === undefined) continue;
    candidate[key] = decodeValue(key, name, raw);
  }
  const result = SettingsSchema.safeParse(candidate);
  if (!result.success) {
    const names = [
      ...new Set(result.error.issues.map((issue) => parameterName(issue.path[0] as SettingKey))),
    ];
    throw new InvalidSettingsError(`Invalid parameter ${names.join(", ")}: ${describeIssues(result.error)}`);
  }
  return result.data;
}

/** The SSM string value of every setting, keyed by name suffix (the reverse of `fromParameters`). */
function toParameters(settings: Settings): Record<string, string> {
  const valid = SettingsSchema.parse(settings);
  const parameters: Record<string, string> = {};
  for (const key of KEYS) {
    const value = valid[key];
    parameters[parameterName(key)] = Array.isArray(value) ? JSON.stringify(value) : String(value);
  }
  return parameters;
}

/** The categories a reviewer is offered: the configured labels, then "None of the Above". */
function categories(settings: Pick<Settings, "labels">): string[] {
  return [...settings.labels, NONE_OF_THE_ABOVE];
}

export const Settings = {
  schema: SettingsSchema,
  keys: KEYS,
  defaults,
  parameterName,
  fromParameters,
  toParameters,
  categories,
};
