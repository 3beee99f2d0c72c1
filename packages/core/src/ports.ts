/**
 * What the use cases need from the outside world. Adapters in packages/functions implement these
 * with the AWS SDK; tests implement them in memory.
 */
import type { DetectCustomLabelsResult } from "./detection";
import type { ObjectRef } from "./events";
import type { Settings } from "./settings";

export interface StoredObject {
  body: string;
  etag: string;
}

export interface ObjectStore {
  /** The object's text and ETag, or undefined when it does not exist. */
  get(ref: ObjectRef): Promise<StoredObject | undefined>;
  /** Size and ETag, or undefined when it does not exist. */
  head(ref: ObjectRef): Promise<{ etag: string; size: number } | undefined>;
  put(ref: ObjectRef, body: string, contentType?: string): Promise<{ etag: string }>;
  /** Creates the object only if absent (If-None-Match: *); undefined when it already existed. */
  putIfAbsent(ref: ObjectRef, body: string, contentType?: string): Promise<{ etag: string } | undefined>;
  /** Replaces the object only if its ETag is still `etag`; WriteConflictError otherwise. */
  putIfMatch(ref: ObjectRef, body: string, etag: string, contentType?: string): Promise<{ etag: string }>;
  /** Server-side copy; ObjectNotFoundError when the source is missing. */
  copy(from: ObjectRef, to: ObjectRef): Promise<void>;
}

export interface Detector {
  /** Runs a model version on an image; ModelNotReadyError / DetectorUnavailableError on failure. */
  detect(image: ObjectRef, modelVersionArn: string): Promise<DetectCustomLabelsResult>;
}

/** Starting and stopping model versions (Custom Labels Start/StopProjectVersion). */
export interface ModelHost {
  /** Starts a stopped version; false when it is already starting or running, so a repeat is harmless. */
  start(modelVersionArn: string, minInferenceUnits: number): Promise<boolean>;
  /** Stops a running version; false when it is not running (already stopping or stopped). */
  stop(modelVersionArn: string): Promise<boolean>;
}

export interface ReviewQueue {
  /** Starts a human loop; HumanLoopConflictError when the name is taken by a loop with other input. */
  start(input: { name: string; inputContent: string }): Promise<{ humanLoopArn: string | null }>;
}

export interface TaskCallback {
  /** Completes a waiting task; false when the token was already closed (a repeat delivery). */
  succeed(taskToken: string, output: unknown): Promise<boolean>;
  /** Fails a waiting task with a named error; false when the token was already closed. */
  fail(taskToken: string, error: string, cause: string): Promise<boolean>;
}

export interface SettingsSource {
  load(): Promise<Settings>;
}

export interface Clock {
  now(): Date;
}
