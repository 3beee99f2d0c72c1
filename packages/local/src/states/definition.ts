/**
 * Loading Amazon States Language definitions: `${…}` substitution, validation with asl-validator,
 * and the typed view of states the interpreter walks.
 */
import { createRequire } from "node:module";
import { InvalidDefinitionError, MissingSubstitutionError } from "./errors";

type AslValidator = (
  definition: unknown,
  options?: { checkPaths: boolean; checkArn: boolean },
) => { isValid: boolean; errors: { "Error code": string; Message: string }[] };

// asl-validator ships CommonJS without type declarations.
const validateAsl = createRequire(import.meta.url)("asl-validator") as AslValidator;

export interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: "FULL" | "NONE";
}

export interface Catcher {
  ErrorEquals: string[];
  Next: string;
  ResultPath?: string | null;
}

/** One state as written in ASL; fields a given Type does not use are simply absent. */
export interface State {
  Type: "Task" | "Pass" | "Choice" | "Wait" | "Succeed" | "Fail" | "Parallel" | "Map";
  Comment?: string;
  Next?: string;
  End?: boolean;
  InputPath?: string | null;
  OutputPath?: string | null;
  ResultPath?: string | null;
  Parameters?: unknown;
  ResultSelector?: unknown;
  Result?: unknown;
  Resource?: string;
  Retry?: Retrier[];
  Catch?: Catcher[];
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  HeartbeatSeconds?: number;
  HeartbeatSecondsPath?: string;
  Choices?: unknown[];
  Default?: string;
  Seconds?: number;
  SecondsPath?: string;
  Timestamp?: string;
  TimestampPath?: string;
  Error?: string;
  Cause?: string;
  ErrorPath?: string;
  CausePath?: string;
  Branches?: Machine[];
  ItemProcessor?: Machine & { ProcessorConfig?: { Mode?: string } };
  Iterator?: Machine;
  ItemsPath?: string;
  ItemSelector?: unknown;
  MaxConcurrency?: number;
  MaxConcurrencyPath?: string;
  /** Distributed Map only. */
  ItemReader?: {
    Resource: string;
    Parameters?: unknown;
    ReaderConfig?: Record<string, unknown> & { MaxItemsPath?: string };
  };
  ItemBatcher?: {
    MaxItemsPerBatch?: number;
    MaxItemsPerBatchPath?: string;
    MaxInputBytesPerBatch?: number;
    MaxInputBytesPerBatchPath?: string;
    BatchInput?: unknown;
  };
  ResultWriter?: { Resource?: string; Parameters?: unknown; WriterConfig?: unknown };
  ToleratedFailurePercentage?: number;
  ToleratedFailurePercentagePath?: string;
  ToleratedFailureCount?: number;
  ToleratedFailureCountPath?: string;
  Label?: string;
}

/** A set of states with an entry point: the whole machine, a Parallel branch or a Map processor. */
export interface Machine {
  StartAt: string;
  States: Record<string, State>;
}

export interface Definition extends Machine {
  Comment?: string;
  TimeoutSeconds?: number;
}

const PLACEHOLDER = /\$\{([A-Za-z0-9_.:-]+)\}/g;

/**
 * Fills `${Name}` placeholders as CloudFormation's DefinitionSubstitutions does. Values are
 * JSON-escaped because placeholders sit inside JSON strings; a placeholder without a value is an
 * error rather than a silently broken ARN.
 */
export function substitute(definitionText: string, substitutions: Record<string, string>): string {
  const missing = new Set<string>();
  const text = definitionText.replace(PLACEHOLDER, (whole, name: string) => {
    const value = substitutions[name];
    if (value === undefined) {
      missing.add(name);
      return whole;
    }
    return JSON.stringify(value).slice(1, -1);
  });
  if (missing.size > 0) throw new MissingSubstitutionError([...missing]);
  return text;
}

/** Resources that wait for something outside the execution, which Express workflows cannot do. */
function waits(resource: string): boolean {
  return resource.endsWith(".waitForTaskToken") || /\.sync(:\d+)?$/.test(resource);
}

function* allStates(machine: Machine): Generator<[string, State]> {
  for (const [name, state] of Object.entries(machine.States)) {
    yield [name, state];
    for (const branch of state.Branches ?? []) yield* allStates(branch);
    const processor = state.ItemProcessor ?? state.Iterator;
    if (processor) yield* allStates(processor);
  }
}

/**
 * AWS accepts a ResultWriter with only WriterConfig (it shapes the Map's output instead of
 * exporting it); asl-validator 4 requires a Resource, so it is shown such states without one.
 * Walks whatever was given, since the validator has not yet said it is a state machine.
 */
function withoutOutputOnlyWriters(machine: unknown): void {
  const states = (machine as { States?: unknown } | null)?.States;
  if (states === null || typeof states !== "object") return;
  for (const state of Object.values(states as Record<string, unknown>)) {
    if (state === null || typeof state !== "object") continue;
    const fields = state as Record<string, unknown>;
    const writer = fields.ResultWriter as Record<string, unknown> | null | undefined;
    if (
      writer &&
      typeof writer === "object" &&
      writer.Resource === undefined &&
      writer.WriterConfig !== undefined
    ) {
      delete fields.ResultWriter;
    }
    if (Array.isArray(fields.Branches))
      for (const branch of fields.Branches) withoutOutputOnlyWriters(branch);
    withoutOutputOnlyWriters(fields.ItemProcessor ?? fields.Iterator);
  }
}

/**
 * Parses and validates a definition as CreateStateMachine does; throws InvalidDefinitionError with
 * every problem found. EXPRESS machines may not wait for callbacks or child executions.
 */
export function parseDefinition(text: string, type: "STANDARD" | "EXPRESS" = "STANDARD"): Definition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InvalidDefinitionError(`Definition is not valid JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new InvalidDefinitionError("Definition must be a JSON object");
  }
  // The validator annotates the object it checks, so it gets its own copy.
  const forValidator = structuredClone(parsed);
  withoutOutputOnlyWriters(forValidator);
  const result = validateAsl(forValidator, { checkPaths: true, checkArn: true });
  if (!result.isValid) {
    const problems = result.errors.map((e) => `${e["Error code"]}: ${e.Message}`).join("; ");
    throw new InvalidDefinitionError(`Invalid State Machine Definition: ${problems}`);
  }
  const definition = parsed as Definition & { QueryLanguage?: string };
  if (definition.QueryLanguage === "JSONata") {
    throw new InvalidDefinitionError(
      "QueryLanguage JSONata is not supported by the local engine; use JSONPath",
    );
  }
  for (const [name, state] of allStates(definition)) {
    const extended = state as State & { QueryLanguage?: string; Assign?: unknown };
    if (extended.QueryLanguage === "JSONata" || extended.Assign !== undefined) {
      throw new InvalidDefinitionError(
        `State ${name}: JSONata and variables (Assign) are not supported by the local engine`,
      );
    }
    if (type === "EXPRESS" && state.Type === "Task" && waits(state.Resource ?? "")) {
      throw new InvalidDefinitionError(
        `State ${name}: Express state machines do not support the ${state.Resource} integration pattern`,
      );
    }
  }
  return definition;
}

/** Reads a definition that was validated when its state machine was created (validation is slow). */
export function readValidatedDefinition(text: string): Definition {
  return JSON.parse(text) as Definition;
}
