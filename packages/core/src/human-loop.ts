/**
 * Human loop names and the InputContent a loop carries. The worker template reads InputContent as
 * `task.input`, and on-human-loop-status reads it back from output.json, so its keys are a contract.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { Prefixes } from "./blueprint";
import { DetectionReasonSchema, DetectionSchema } from "./detection";
import { CorruptStateError, InputTooLargeError, InvalidInputError, InvalidLoopNameError } from "./errors";
import { ImageSchema } from "./events";
import { parseJsonText, parseWith } from "./validation";

/** A2I's HumanLoopName rule (aws-contracts.md §1.2). */
export const LOOP_NAME_PATTERN = /^[a-z0-9](-*[a-z0-9])*$/;
export const MAX_LOOP_NAME_LENGTH = 63;
/** A2I's limit on the InputContent string. */
export const MAX_INPUT_CONTENT_CHARS = 3_145_728;

/** Keys of InputContent, i.e. of `task.input` in the worker template. */
export const InputContentSchema = z.object({
  /** The image, as an s3:// URI; the template passes it through `grant_read_access`. */
  taskObject: z.string().startsWith("s3://"),
  /** What the reviewer may answer: the configured labels, then "None of the Above". */
  categories: z.array(z.string().min(1)).min(1),
  detectedLabel: z.string().nullable(),
  confidence: z.number().min(0).max(100),
  modelVersionArn: z.string().nullable(),
  reason: DetectionReasonSchema,
  /** The Step Functions task token; it comes back in output.json's inputContent. */
  taskToken: z.string().min(1).max(2048),
});
export type InputContent = z.infer<typeof InputContentSchema>;

/** Throws InvalidLoopNameError unless A2I would accept `name`. */
function validateName(name: string): string {
  if (name.length === 0 || name.length > MAX_LOOP_NAME_LENGTH || !LOOP_NAME_PATTERN.test(name)) {
    throw new InvalidLoopNameError(
      `Invalid human loop name ${JSON.stringify(name)}: 1..${MAX_LOOP_NAME_LENGTH} characters of a-z, 0-9 and inner hyphens`,
    );
  }
  return name;
}

/**
 * The loop name for one attempt of StartHumanReview. Execution names are up to 80 mixed-case
 * characters, so they are hashed; the same execution and retry always give the same name, which
 * makes a re-invoked attempt find its own loop instead of starting a second one.
 */
function name(executionName: string, retryCount: number): string {
  if (executionName.length === 0) throw new InvalidInputError("The execution name must not be empty");
  if (!Number.isSafeInteger(retryCount) || retryCount < 0) {
    throw new InvalidInputError(`The retry count must be a non-negative integer, got ${retryCount}`);
  }
  const digest = createHash("sha256").update(executionName).digest("hex").slice(0, 32);
  return validateName(`review-${digest}-${retryCount}`);
}

/** Serialises InputContent as the JSON string StartHumanLoop takes, enforcing A2I's size limit. */
function inputContent(input: InputContent): string {
  const valid = parseWith(InputContentSchema, input, InvalidInputError, "Invalid human loop input");
  const text = JSON.stringify(valid);
  if (text.length > MAX_INPUT_CONTENT_CHARS) {
    throw new InputTooLargeError(
      `Human loop InputContent is ${text.length} characters; A2I accepts at most ${MAX_INPUT_CONTENT_CHARS}`,
    );
  }
  return text;
}

/** A stable fingerprint of InputContent, to tell a re-invocation from a name clash. */
function fingerprint(inputContentText: string): string {
  return createHash("sha256").update(inputContentText).digest("hex");
}

/**
 * What start-human-loop keeps per loop (`state/loops/<loop>.json`): A2I's Describe does not return
 * a loop's input, and a Failed or Stopped loop has no output.json, so this is how the status
 * handler finds the task token for every status.
 */
export const LoopStateSchema = z.object({
  loopName: z.string(),
  executionName: z.string(),
  taskToken: z.string().min(1),
  image: ImageSchema,
  detection: DetectionSchema,
  categories: z.array(z.string()),
  inputFingerprint: z.string(),
  startedAt: z.string(),
});
export type LoopState = z.infer<typeof LoopStateSchema>;

/** The key of a loop's state object. */
function stateKey(loopName: string): string {
  return `${Prefixes.state}loops/${validateName(loopName)}.json`;
}

/** Parses a stored loop state object. */
function parseState(text: string, key: string): LoopState {
  const value = parseJsonText(text, CorruptStateError, `Loop state ${key}`);
  return parseWith(LoopStateSchema, value, CorruptStateError, `Loop state ${key}`);
}

export const HumanLoop = {
  name,
  validateName,
  inputContent,
  fingerprint,
  stateKey,
  parseState,
  inputContentSchema: InputContentSchema,
};
