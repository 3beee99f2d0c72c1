/**
 * The domain's named errors. Step Functions matches `ErrorEquals` on an error's `name` (the
 * Lambda `errorType`), so these names are a wire contract: never rename one.
 */

/** Base of every secondlook error; `name` is stable and ends in "Error". */
export abstract class SecondlookError extends Error {
  abstract override readonly name: string;
}

/** The model version exists but is not RUNNING (Rekognition ResourceNotReadyException). */
export class ModelNotReadyError extends SecondlookError {
  override readonly name = "ModelNotReadyError";
}
/** The detector could not answer for a transient reason (throttling, internal error). */
export class DetectorUnavailableError extends SecondlookError {
  override readonly name = "DetectorUnavailableError";
}
/** The human loop failed for a reason other than expiry. */
export class HumanLoopFailedError extends SecondlookError {
  override readonly name = "HumanLoopFailedError";
}
/** Somebody stopped the human loop before a reviewer answered. */
export class HumanLoopStoppedError extends SecondlookError {
  override readonly name = "HumanLoopStoppedError";
}
/** Nobody answered within the flow definition's task availability lifetime. */
export class HumanLoopExpiredError extends SecondlookError {
  override readonly name = "HumanLoopExpiredError";
}
/** A started loop name is already taken by a loop with different input. */
export class HumanLoopConflictError extends SecondlookError {
  override readonly name = "HumanLoopConflictError";
}
/** The object store failed transiently; retrying the same call is safe. */
export class StorageUnavailableError extends SecondlookError {
  override readonly name = "StorageUnavailableError";
}
/** A conditional write lost a race (HTTP 412 / 409 on If-Match or If-None-Match). */
export class WriteConflictError extends SecondlookError {
  override readonly name = "WriteConflictError";
}
/** The retrain counter changed between read and write; the state machine retries with jitter. */
export class CounterConflictError extends SecondlookError {
  override readonly name = "CounterConflictError";
}
/** An object the workflow needs does not exist. */
export class ObjectNotFoundError extends SecondlookError {
  override readonly name = "ObjectNotFoundError";
}
/** A status event arrived for a loop this deployment has no record of starting. */
export class UnknownHumanLoopError extends SecondlookError {
  override readonly name = "UnknownHumanLoopError";
}
/** An S3 or A2I event does not have the documented shape. */
export class InvalidEventError extends SecondlookError {
  override readonly name = "InvalidEventError";
}
/** A Lambda payload does not match what its state in the state machine sends. */
export class InvalidInputError extends SecondlookError {
  override readonly name = "InvalidInputError";
}
/** A human loop name A2I would refuse. */
export class InvalidLoopNameError extends SecondlookError {
  override readonly name = "InvalidLoopNameError";
}
/** A2I InputContent above its 3,145,728-character limit. */
export class InputTooLargeError extends SecondlookError {
  override readonly name = "InputTooLargeError";
}
/** A human loop's output.json does not have the documented shape. */
export class InvalidOutputError extends SecondlookError {
  override readonly name = "InvalidOutputError";
}
/** A reviewer's answer is not among the categories the task offered. */
export class UnknownLabelError extends SecondlookError {
  override readonly name = "UnknownLabelError";
}
/** An object key that cannot be built safely (e.g. a label that sanitises to nothing). */
export class InvalidKeyError extends SecondlookError {
  override readonly name = "InvalidKeyError";
}
/** A settings parameter with a value the schema refuses; the message names the parameter. */
export class InvalidSettingsError extends SecondlookError {
  override readonly name = "InvalidSettingsError";
}
/** A stored bookkeeping object (counter, loop state) that does not parse. */
export class CorruptStateError extends SecondlookError {
  override readonly name = "CorruptStateError";
}

/** Every custom error name; the static ASL test checks each `ErrorEquals` name is listed here. */
export const ErrorNames = [
  "ModelNotReadyError",
  "DetectorUnavailableError",
  "HumanLoopFailedError",
  "HumanLoopStoppedError",
  "HumanLoopExpiredError",
  "HumanLoopConflictError",
  "StorageUnavailableError",
  "WriteConflictError",
  "CounterConflictError",
  "ObjectNotFoundError",
  "UnknownHumanLoopError",
  "InvalidEventError",
  "InvalidInputError",
  "InvalidLoopNameError",
  "InputTooLargeError",
  "InvalidOutputError",
  "UnknownLabelError",
  "InvalidKeyError",
  "InvalidSettingsError",
  "CorruptStateError",
] as const;

export type ErrorName = (typeof ErrorNames)[number];
