/**
 * Errors of the local Step Functions engine: the runtime errors a state raises (what `Retry` and
 * `Catch` match on), and the definition errors CreateStateMachine answers with.
 */

/** A runtime error inside an execution: `error` is what ErrorEquals matches, `cause` is free text. */
export class StatesError extends Error {
  constructor(
    readonly error: string,
    override readonly cause: string,
  ) {
    super(`${error}: ${cause}`);
    this.name = "StatesError";
  }
}

/** A definition that is not valid Amazon States Language (AWS: InvalidDefinition). */
export class InvalidDefinitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidDefinitionError";
  }
}

/** A `${Name}` placeholder in a definition that no substitution fills. */
export class MissingSubstitutionError extends Error {
  constructor(readonly names: string[]) {
    super(`No substitution for ${names.map((n) => `\${${n}}`).join(", ")}`);
    this.name = "MissingSubstitutionError";
  }
}

/** Errors `States.ALL` does not catch (AWS: they always end the execution). */
const UNCATCHABLE = new Set(["States.DataLimitExceeded", "States.Runtime"]);
const TIMEOUTS = new Set(["States.Timeout", "States.HeartbeatTimeout"]);

/**
 * Whether one ErrorEquals list matches an error name, with the `States.*` rules: `States.ALL`
 * matches all but the uncatchable, `States.TaskFailed` matches all but timeouts, and a missed
 * heartbeat is also a `States.Timeout`.
 */
export function errorMatches(errorEquals: readonly string[], error: string): boolean {
  return errorEquals.some((name) => {
    if (name === error) return true;
    if (name === "States.ALL") return !UNCATCHABLE.has(error);
    if (name === "States.TaskFailed") return !TIMEOUTS.has(error) && !UNCATCHABLE.has(error);
    if (name === "States.Timeout") return error === "States.HeartbeatTimeout";
    return false;
  });
}

/**
 * The task error a Lambda failure becomes: Lambda reports the function's errorType as the error
 * and `{"errorMessage","errorType","trace"}` as the cause.
 */
export function lambdaFailure(thrown: unknown): StatesError {
  if (thrown instanceof StatesError) return thrown;
  const error = thrown instanceof Error ? thrown : new Error(String(thrown));
  const errorType = error.name && error.name !== "Error" ? error.name : "Error";
  const trace = (error.stack ?? "").split("\n").map((line) => line.trim());
  return new StatesError(errorType, JSON.stringify({ errorMessage: error.message, errorType, trace }));
}
