/**
 * The use cases the handlers call, one factory per group, each taking its ports. Handlers parse
 * their trigger, call one method here, and return what it returns.
 */
import { z } from "zod";
import { Answer, type Review, ReviewSchema } from "./answers";
import { type DetectCustomLabelsResult, Detection, DetectionSchema } from "./detection";
import {
  CounterConflictError,
  HumanLoopConflictError,
  HumanLoopExpiredError,
  HumanLoopFailedError,
  HumanLoopStoppedError,
  InvalidInputError,
  InvalidOutputError,
  ModelNotReadyError,
  ObjectNotFoundError,
  type SecondlookError,
  UnknownHumanLoopError,
  UnknownLabelError,
  WriteConflictError,
} from "./errors";
import { HumanLoopEvent, type HumanLoopStatus, Image, ImageSchema, type ObjectRef, S3Uri } from "./events";
import { HumanLoop, type LoopState } from "./human-loop";
import { LabeledKey } from "./labeled-key";
import { Outcome, type OutcomeRecord } from "./outcome";
import type {
  Clock,
  Detector,
  ModelHost,
  ObjectStore,
  ReviewQueue,
  SettingsSource,
  TaskCallback,
} from "./ports";
import { Retrain, type RetrainDecision } from "./retrain";
import { Settings } from "./settings";
import { parseWith } from "./validation";

const JSON_TYPE = "application/json";

/** Re-reads of the retrain counter one CheckRetrain makes after losing a race, before it reports the conflict. */
const COUNTER_WRITE_ATTEMPTS = 10;

/** DetectLabels' Payload. */
export const DetectInputSchema = z.object({ event: z.unknown(), executionName: z.string().min(1) });
/** StartHumanReview's Payload. */
export const StartHumanLoopInputSchema = z.object({
  taskToken: z.string().min(1).max(2048),
  executionName: z.string().min(1),
  retryCount: z.number().int().min(0),
  image: ImageSchema,
  detection: DetectionSchema,
});
/** CopyToLabeledFolder's Payload. */
export const CopyInputSchema = z.object({ image: ImageSchema, review: ReviewSchema });
/** CheckRetrain's Payload. */
export const CheckRetrainInputSchema = z.object({ executionName: z.string().min(1) });

const NO_DETECTION: DetectCustomLabelsResult = { CustomLabels: [] };

/** DetectLabels: runs the active model (or none yet: confidence 0, so a human looks). */
export function createDetectService(deps: {
  detector: Detector;
  settings: SettingsSource;
  /** With it, a stopped model is started on demand and each use is recorded for the idle check. */
  upkeep?: { models: ModelHost; used(modelVersionArn: string): Promise<void> };
}) {
  const run = async (image: Image, modelVersionArn: string, minInferenceUnits: number) => {
    try {
      const result = await deps.detector.detect(image, modelVersionArn);
      // Only bookkeeping for the idle check: losing one record at worst stops a busy model early,
      // and it starts again on demand, whereas failing here would fail the image.
      await deps.upkeep?.used(modelVersionArn).catch(() => undefined);
      return result;
    } catch (error) {
      // A model stopped for idleness wakes on demand; the state machine retries until it runs.
      if (error instanceof ModelNotReadyError && deps.upkeep) {
        try {
          await deps.upkeep.models.start(modelVersionArn, minInferenceUnits);
        } catch (startError) {
          // Still ModelNotReadyError, so the retry keeps the image; the message says why it may not wake.
          throw new ModelNotReadyError(
            `${error.message}; starting it failed: ${(startError as Error).message}`,
          );
        }
      }
      throw error;
    }
  };
  return {
    async detect(payload: unknown) {
      const input = parseWith(DetectInputSchema, payload, InvalidInputError, "Invalid DetectLabels payload");
      const image = Image.fromEvent(input.event);
      const settings = await deps.settings.load();
      const modelVersionArn = settings.activeModelVersionArn || null;
      const result = modelVersionArn
        ? await run(image, modelVersionArn, settings.minInferenceUnits)
        : NO_DETECTION;
      return { image, detection: Detection.decide({ image, result, modelVersionArn, settings }) };
    },
  };
}

/** What on-human-loop-status did with one event. */
export interface StatusHandled {
  loopName: string;
  status: HumanLoopStatus;
  /** The error name sent with SendTaskFailure, or null when the task succeeded. */
  error: string | null;
  /** False when the task was already closed: a repeated event, harmless. */
  delivered: boolean;
}

/** StartHumanReview and the A2I status event that ends it. */
export function createReviewService(deps: {
  store: ObjectStore;
  reviews: ReviewQueue;
  callback: TaskCallback;
  settings: SettingsSource;
  clock: Clock;
  bucket: string;
}) {
  const stateRef = (loopName: string): ObjectRef => ({
    bucket: deps.bucket,
    key: HumanLoop.stateKey(loopName),
  });

  const loadState = async (loopName: string): Promise<LoopState> => {
    const ref = stateRef(loopName);
    const stored = await deps.store.get(ref);
    if (!stored) throw new UnknownHumanLoopError(`No human loop ${loopName} was started by this deployment`);
    return HumanLoop.parseState(stored.body, ref.key);
  };

  const fail = async (state: LoopState, status: HumanLoopStatus, error: SecondlookError) => {
    const delivered = await deps.callback.fail(state.taskToken, error.name, error.message);
    return { loopName: state.loopName, status, error: error.name, delivered };
  };

  return {
    /** Starts (or, for a re-invoked attempt, finds) the loop; the task then waits for the callback. */
    async start(payload: unknown) {
      const input = parseWith(
        StartHumanLoopInputSchema,
        payload,
        InvalidInputError,
        "Invalid StartHumanReview payload",
      );
      const settings = await deps.settings.load();
      const loopName = HumanLoop.name(input.executionName, input.retryCount);
      const contentWith = (categories: string[]) =>
        HumanLoop.inputContent({
          taskObject: input.image.uri,
          categories,
          detectedLabel: input.detection.label,
          confidence: input.detection.confidence,
          modelVersionArn: input.detection.modelVersionArn,
          reason: input.detection.reason,
          taskToken: input.taskToken,
        });
      const categories = Settings.categories(settings);
      let inputContent = contentWith(categories);
      const state: LoopState = {
        loopName,
        executionName: input.executionName,
        taskToken: input.taskToken,
        image: input.image,
        detection: input.detection,
        categories,
        inputFingerprint: HumanLoop.fingerprint(inputContent),
        startedAt: deps.clock.now().toISOString(),
      };
      // The state goes first: once the loop exists its status event may arrive at any moment.
      const created = await deps.store.putIfAbsent(stateRef(loopName), JSON.stringify(state), JSON_TYPE);
      if (!created) {
        const existing = await loadState(loopName);
        // Same token = the same attempt re-invoked (at-least-once): it offers the categories it first
        // offered, even if the labels setting changed since, so A2I sees the very same input.
        if (existing.taskToken === input.taskToken) inputContent = contentWith(existing.categories);
        if (HumanLoop.fingerprint(inputContent) !== existing.inputFingerprint) {
          throw new HumanLoopConflictError(`Human loop ${loopName} already exists with different input`);
        }
      }
      try {
        const { humanLoopArn } = await deps.reviews.start({ name: loopName, inputContent });
        return { loopName, humanLoopArn };
      } catch (error) {
        // A re-invoked attempt (same name, same input, verified above) finds its loop already running.
        if (!created && error instanceof HumanLoopConflictError) return { loopName, humanLoopArn: null };
        throw error;
      }
    },

    /** Turns an A2I status event into SendTaskSuccess (the consolidated answer) or SendTaskFailure. */
    async onStatus(event: unknown): Promise<StatusHandled> {
      const { detail } = HumanLoopEvent.parse(event);
      const state = await loadState(detail.humanLoopName);
      const status = detail.humanLoopStatus;
      if (status === "Stopped") {
        return fail(state, status, new HumanLoopStoppedError(`Human loop ${state.loopName} was stopped`));
      }
      if (status === "Failed") {
        const reason = detail.failureReason ?? `Human loop ${state.loopName} failed`;
        const error =
          detail.failureCode === "Expired"
            ? new HumanLoopExpiredError(reason)
            : new HumanLoopFailedError(reason);
        return fail(state, status, error);
      }
      const outputUri = detail.humanLoopOutput.outputS3Uri;
      const stored = await deps.store.get(S3Uri.parse(outputUri));
      // Thrown, not sent: the event is retried, and the file may simply not be visible yet.
      if (!stored) throw new ObjectNotFoundError(`Human loop output ${outputUri} does not exist`);
      let review: Review;
      let taskToken: string;
      try {
        const output = Answer.parseOutput(stored.body);
        const consolidated = Answer.consolidate(output.answers, output.inputContent.categories);
        review = { loopName: state.loopName, ...consolidated, answers: output.answers, outputUri };
        taskToken = output.inputContent.taskToken;
      } catch (error) {
        // A bad answer file will not get better by retrying: fail the task so the image is recorded.
        if (error instanceof InvalidOutputError || error instanceof UnknownLabelError) {
          return fail(state, status, error);
        }
        throw error;
      }
      const delivered = await deps.callback.succeed(taskToken, review);
      return { loopName: state.loopName, status, error: null, delivered };
    },
  };
}

/** CopyToLabeledFolder, KeepNegativeExample, CheckRetrain and the Record* states. */
export function createLabelingService(deps: {
  store: ObjectStore;
  settings: SettingsSource;
  clock: Clock;
  bucket: string;
}) {
  const counterRef: ObjectRef = { bucket: deps.bucket, key: Retrain.counterKey };

  return {
    /** Copies a human-labeled image into its label folder. */
    async copy(payload: unknown): Promise<{ key: string; label: string }> {
      const { image, review } = parseWith(
        CopyInputSchema,
        payload,
        InvalidInputError,
        "Invalid CopyToLabeledFolder payload",
      );
      if (review.outcome !== "labeled" || review.label === null) {
        throw new InvalidInputError(`Only a labeled review is copied, got outcome ${review.outcome}`);
      }
      const key = LabeledKey.build({
        label: review.label,
        loopName: review.loopName,
        uuid: LabeledKey.uuidFor(review.loopName, image.key),
        sourceKey: image.key,
      });
      await deps.store.copy(image, { bucket: deps.bucket, key });
      return { key, label: review.label };
    },

    /** Keeps a "None of the Above" image as a negative example, outside the label folders. */
    async keepNegative(payload: unknown): Promise<{ key: string }> {
      const { image, review } = parseWith(
        CopyInputSchema,
        payload,
        InvalidInputError,
        "Invalid KeepNegativeExample payload",
      );
      if (review.outcome !== "none-of-the-above") {
        throw new InvalidInputError(
          `Only a None of the Above review is kept as a negative example, got outcome ${review.outcome}`,
        );
      }
      const key = LabeledKey.negative({
        loopName: review.loopName,
        uuid: LabeledKey.uuidFor(review.loopName, image.key),
        sourceKey: image.key,
      });
      await deps.store.copy(image, { bucket: deps.bucket, key });
      return { key };
    },

    /** Counts this execution's new label once, however often it runs, and says if training is due. */
    async checkRetrain(payload: unknown): Promise<RetrainDecision> {
      const { executionName } = parseWith(
        CheckRetrainInputSchema,
        payload,
        InvalidInputError,
        "Invalid CheckRetrain payload",
      );
      const markerRef: ObjectRef = { bucket: deps.bucket, key: Retrain.markerKey(executionName) };
      const marker = await deps.store.get(markerRef);
      if (marker) return Retrain.parseDecision(marker.body, markerRef.key);

      const settings = await deps.settings.load();
      // A lost race means another image was just counted: re-reading at once makes progress, whereas
      // leaving every retry to the state machine's backoff starves a burst of simultaneous labels.
      let decision: RetrainDecision | undefined;
      for (let attempt = 1; !decision; attempt++) {
        const counter = await deps.store.get(counterRef);
        const state = counter ? Retrain.parseState(counter.body) : Retrain.initial();
        const { next, due, trainingName, alreadyCounted } = Retrain.count(state, executionName, settings);
        if (!alreadyCounted) {
          const body = JSON.stringify(next);
          try {
            const written = counter
              ? await deps.store.putIfMatch(counterRef, body, counter.etag, JSON_TYPE)
              : await deps.store.putIfAbsent(counterRef, body, JSON_TYPE);
            if (!written) throw new WriteConflictError("The retrain counter was created concurrently");
          } catch (error) {
            if (!(error instanceof WriteConflictError)) throw error;
            if (attempt >= COUNTER_WRITE_ATTEMPTS) {
              throw new CounterConflictError(`The retrain counter changed while counting ${executionName}`);
            }
            continue;
          }
        }
        decision = { due, trainingName };
      }
      await deps.store.putIfAbsent(markerRef, JSON.stringify(decision), JSON_TYPE);
      return decision;
    },

    /** Writes the outcome record of one execution and returns it. */
    async record(payload: unknown): Promise<OutcomeRecord> {
      const input = Outcome.parseInput(payload);
      const record = Outcome.record(input, deps.clock.now());
      await deps.store.put(
        { bucket: deps.bucket, key: Outcome.key(input.executionName) },
        JSON.stringify(record),
        JSON_TYPE,
      );
      return record;
    },
  };
}
