/**
 * The record kept for every image the workflow finishes with (`outcomes/<execution name>.json`):
 * what happened, who said so, and how long it took.
 */
import { z } from "zod";
import { ReviewSchema } from "./answers";
import { Prefixes } from "./blueprint";
import { type Detection, DetectionSchema } from "./detection";
import { InvalidInputError } from "./errors";
import { Image, ImageSchema } from "./events";
import { parseWith } from "./validation";

export const OutcomeKindSchema = z.enum(["auto-labeled", "human-labeled", "skipped", "no-answer", "failed"]);
export type OutcomeKind = z.infer<typeof OutcomeKindSchema>;

/** A Catch's ResultPath value: Step Functions' `{Error, Cause}`. */
export const CaughtErrorSchema = z.looseObject({ Error: z.string(), Cause: z.string().optional() });

const Common = {
  executionName: z.string().min(1),
  startTime: z.iso.datetime({ offset: true }),
};
const CopySchema = z.object({ key: z.string().min(1), label: z.string().min(1) });

/** The Payload of each Record* state in review-image.asl.json, by outcome. */
export const RecordOutcomeInputSchema = z.discriminatedUnion("outcome", [
  z.object({ outcome: z.literal("auto-labeled"), ...Common, image: ImageSchema, detection: DetectionSchema }),
  z.object({
    outcome: z.literal("human-labeled"),
    ...Common,
    image: ImageSchema,
    detection: DetectionSchema,
    review: ReviewSchema,
    copy: CopySchema,
  }),
  z.object({
    outcome: z.literal("skipped"),
    ...Common,
    image: ImageSchema,
    detection: DetectionSchema,
    review: ReviewSchema,
  }),
  // A loop that failed has no review, a tie has no failure: each part is optional, and `input`
  // (the whole state) is accepted too so the state can pass `$` instead of paths that may be absent.
  z.object({
    outcome: z.literal("no-answer"),
    ...Common,
    image: ImageSchema.optional(),
    detection: DetectionSchema.optional(),
    review: ReviewSchema.optional(),
    failure: CaughtErrorSchema.optional(),
    input: z.looseObject({}).optional(),
  }),
  z.object({ outcome: z.literal("failed"), ...Common, input: z.unknown(), failure: CaughtErrorSchema }),
]);
export type RecordOutcomeInput = z.infer<typeof RecordOutcomeInputSchema>;

/**
 * What a reviewer said about an image human sampling picked although the model was confident: the
 * measured accuracy of auto-labels (agreement), or a correction whose label joins the training data.
 */
export const AuditSchema = z.object({
  verdict: z.enum(["agreement", "correction"]),
  modelLabel: z.string().nullable(),
  humanLabel: z.string().nullable(),
});
export type Audit = z.infer<typeof AuditSchema>;

export const OutcomeRecordSchema = z.object({
  executionName: z.string(),
  outcome: OutcomeKindSchema,
  image: ImageSchema.nullable(),
  label: z.string().nullable(),
  confidence: z.number().nullable(),
  modelVersionArn: z.string().nullable(),
  loopName: z.string().nullable(),
  answers: ReviewSchema.shape.answers.nullable(),
  copiedKey: z.string().nullable(),
  failure: z.object({ error: z.string(), cause: z.string().nullable() }).nullable(),
  /** Only for images picked by human sampling and answered; null otherwise. */
  audit: AuditSchema.nullable(),
  startTime: z.string(),
  recordedAt: z.string(),
  durationMs: z.number().int().min(0),
});
export type OutcomeRecord = z.infer<typeof OutcomeRecordSchema>;

/** Where the record of one execution is kept. */
function key(executionName: string): string {
  return `${Prefixes.outcomes}${encodeURIComponent(executionName)}.json`;
}

/**
 * The audit of a reviewed image, when human sampling (not low confidence) sent it to review: the
 * reviewer's label against the model's. A tie or a failed loop has no human label and no audit.
 */
function auditOf(detection: Detection, humanLabel: string | null): Audit | null {
  if (detection.reason !== "sampling" || humanLabel === null) return null;
  return {
    verdict: humanLabel === detection.label ? "agreement" : "correction",
    modelLabel: detection.label,
    humanLabel,
  };
}

/** Validates a Record* state's payload. */
function parseInput(payload: unknown): RecordOutcomeInput {
  return parseWith(RecordOutcomeInputSchema, payload, InvalidInputError, "Invalid RecordOutcome payload");
}

/** The image of a failed execution's state, whichever step it failed in; null when it never got one. */
function imageOfState(state: unknown): Image | null {
  const carried = z.object({ image: ImageSchema }).safeParse(state);
  if (carried.success) return carried.data.image;
  try {
    return Image.fromEvent(state);
  } catch {
    return null;
  }
}

/** Builds the outcome record of one execution, recorded at `now`. */
function record(input: RecordOutcomeInput, now: Date): OutcomeRecord {
  const base = {
    executionName: input.executionName,
    outcome: input.outcome,
    startTime: input.startTime,
    recordedAt: now.toISOString(),
    durationMs: Math.max(0, now.getTime() - Date.parse(input.startTime)),
  };
  const empty = {
    image: null,
    label: null,
    confidence: null,
    modelVersionArn: null,
    loopName: null,
    answers: null,
    copiedKey: null,
    failure: null,
    audit: null,
  };
  const failureOf = (caught: z.infer<typeof CaughtErrorSchema> | undefined) =>
    caught ? { error: caught.Error, cause: caught.Cause ?? null } : null;
  switch (input.outcome) {
    case "auto-labeled":
      return {
        ...base,
        ...empty,
        image: input.image,
        label: input.detection.label,
        confidence: input.detection.confidence,
        modelVersionArn: input.detection.modelVersionArn,
      };
    case "human-labeled":
    case "skipped":
      return {
        ...base,
        ...empty,
        image: input.image,
        label: input.outcome === "human-labeled" ? input.copy.label : input.review.label,
        confidence: input.detection.confidence,
        modelVersionArn: input.detection.modelVersionArn,
        loopName: input.review.loopName,
        answers: input.review.answers,
        copiedKey: input.outcome === "human-labeled" ? input.copy.key : null,
        audit: auditOf(
          input.detection,
          input.outcome === "human-labeled" ? input.copy.label : input.review.label,
        ),
      };
    case "no-answer": {
      const state = z
        .object({
          image: ImageSchema.optional(),
          detection: DetectionSchema.optional(),
          review: ReviewSchema.optional(),
          failure: CaughtErrorSchema.optional(),
        })
        .safeParse(input.input ?? {});
      const from = state.success ? state.data : {};
      const detection = input.detection ?? from.detection;
      const review = input.review ?? from.review;
      return {
        ...base,
        ...empty,
        image: input.image ?? from.image ?? null,
        confidence: detection?.confidence ?? null,
        modelVersionArn: detection?.modelVersionArn ?? null,
        loopName: review?.loopName ?? null,
        answers: review?.answers ?? null,
        failure: failureOf(input.failure ?? from.failure),
      };
    }
    case "failed":
      return { ...base, ...empty, image: imageOfState(input.input), failure: failureOf(input.failure) };
  }
}

export const Outcome = { key, parseInput, record, auditOf, schema: OutcomeRecordSchema };
