/**
 * Turns a DetectCustomLabels answer into the `detection` object the CheckConfidence Choice reads,
 * including the human-sampling decision.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { Image } from "./events";
import type { Settings } from "./settings";

/** The part of a DetectCustomLabels response this project reads (aws-contracts.md §6.1). */
export const DetectCustomLabelsResultSchema = z.object({
  CustomLabels: z
    .array(z.looseObject({ Name: z.string().optional(), Confidence: z.number().min(0).max(100).optional() }))
    .optional(),
});
export type DetectCustomLabelsResult = z.infer<typeof DetectCustomLabelsResultSchema>;

export const DetectionReasonSchema = z.enum(["confident", "low-confidence", "sampling"]);
export type DetectionReason = z.infer<typeof DetectionReasonSchema>;

export const DetectionSchema = z.object({
  label: z.string().nullable(),
  confidence: z.number().min(0).max(100),
  modelVersionArn: z.string().nullable(),
  minConfidence: z.number().min(0).max(100),
  humanReviewEnabled: z.boolean(),
  sampled: z.boolean(),
  reason: DetectionReasonSchema,
});
export type Detection = z.infer<typeof DetectionSchema>;

/** The highest-confidence label; Rekognition sorts its answer, but nothing here relies on that. */
function top(result: DetectCustomLabelsResult): { label: string | null; confidence: number } {
  let best: { label: string | null; confidence: number } = { label: null, confidence: 0 };
  for (const found of result.CustomLabels ?? []) {
    if (found.Name === undefined || found.Confidence === undefined) continue;
    if (best.label === null || found.Confidence > best.confidence) {
      best = { label: found.Name, confidence: found.Confidence };
    }
  }
  return best;
}

/**
 * Whether human sampling picks this image: a hash of its key (and ETag when known) against the
 * percentage, so the same image under the same setting always gets the same answer.
 */
function isSampled(image: Pick<Image, "key" | "etag">, samplingPercent: number): boolean {
  if (samplingPercent <= 0) return false;
  if (samplingPercent >= 100) return true;
  const digest = createHash("sha256")
    .update(`${image.key}\n${image.etag ?? ""}`)
    .digest();
  // 10,000 buckets give the setting a resolution of 0.01 percentage points.
  const bucket = digest.readUInt32BE(0) % 10_000;
  return bucket < Math.round(samplingPercent * 100);
}

/** Builds the detection the state machine routes on. `modelVersionArn` null = no model yet. */
function decide(input: {
  image: Pick<Image, "key" | "etag">;
  result: DetectCustomLabelsResult;
  modelVersionArn: string | null;
  settings: Pick<Settings, "minConfidence" | "humanReviewEnabled" | "humanSamplingPercent">;
}): Detection {
  const { label, confidence } = top(input.result);
  const sampled = isSampled(input.image, input.settings.humanSamplingPercent);
  const reason: DetectionReason =
    confidence < input.settings.minConfidence ? "low-confidence" : sampled ? "sampling" : "confident";
  return {
    label,
    confidence,
    modelVersionArn: input.modelVersionArn,
    minConfidence: input.settings.minConfidence,
    humanReviewEnabled: input.settings.humanReviewEnabled,
    sampled,
    reason,
  };
}

/** Whether the state machine's CheckConfidence sends this detection to a reviewer (same rule as the ASL). */
function needsReview(detection: Detection): boolean {
  return (
    detection.humanReviewEnabled && (detection.sampled || detection.confidence < detection.minConfidence)
  );
}

export const Detection = { schema: DetectionSchema, top, isSampled, decide, needsReview };
