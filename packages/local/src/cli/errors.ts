/**
 * The CLI's errors and the exit codes scripts rely on. Every message says what to do next; none
 * carries a stack trace.
 */

/** Exit codes: 0 ok, 1 something in the run failed, 2 usage or input, 3 cannot reach or sign in. */
export const ExitCode = {
  ok: 0,
  runFailed: 1,
  usage: 2,
  unreachable: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the CLI reports as one line and turns into its exit code. */
export abstract class CliError extends Error {
  abstract readonly exitCode: ExitCode;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A wrong argument, path, setting name or value: the user can fix the command line. */
export class UsageError extends CliError {
  readonly exitCode = ExitCode.usage;
}

/** A folder or manifest that cannot be run as given; nothing was uploaded. */
export class InvalidInputPathError extends UsageError {}

/** A manifest line or row that names no image, or names one that does not exist. */
export class ManifestError extends UsageError {}

/** A setting name that does not exist or a value its schema refuses. */
export class InvalidSettingError extends UsageError {}

/** `--stage` names a stage with no deployed Review stack in that account and region. */
export class UnknownStageError extends UsageError {}

/** The endpoint did not answer (connection refused, unknown host, timeout). */
export class UnreachableError extends CliError {
  readonly exitCode = ExitCode.unreachable;
}

/** No credentials or region, or AWS refused the ones found. */
export class CredentialsError extends CliError {
  readonly exitCode = ExitCode.unreachable;
}

/** Some images of a run failed, or the run timed out before they were done. */
export class RunFailedError extends CliError {
  readonly exitCode = ExitCode.runFailed;
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "EAI_AGAIN",
]);

/** True for a failure to connect, including Node's AggregateError from trying several addresses. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && NETWORK_CODES.has(code)) return true;
  if (error.name === "TimeoutError") return true;
  if (error instanceof AggregateError) return error.errors.some(isConnectionError);
  return error.cause !== undefined && isConnectionError(error.cause);
}

const CREDENTIAL_ERROR_NAMES = new Set([
  "CredentialsProviderError",
  "InvalidClientTokenId",
  "UnrecognizedClientException",
  "ExpiredToken",
  "ExpiredTokenException",
  "SignatureDoesNotMatch",
  "InvalidSignatureException",
  "AccessDenied",
  "AccessDeniedException",
]);

/** Where the CLI was talking to, for messages. */
export interface Place {
  /** True when the target is the local cloud (no `--stage`). */
  local: boolean;
  endpoint: string | undefined;
  stage: string;
}

/**
 * Turns an SDK or Node error into the CLI error a user can act on; anything unrecognised is
 * returned unchanged (and reported as a failure of the command).
 */
export function explain(error: unknown, place: Place): unknown {
  if (error instanceof CliError || !(error instanceof Error)) return error;
  if (isConnectionError(error)) {
    if (place.local) {
      return new UnreachableError(
        `cannot reach the local cloud at ${place.endpoint}: is the local cloud running? Start it with \`npm start\` (or point --endpoint-url at it)`,
      );
    }
    return new UnreachableError(
      `cannot reach ${place.endpoint ?? "AWS"} for stage ${place.stage}: check the network, --endpoint-url and AWS_ENDPOINT_URL`,
    );
  }
  if (CREDENTIAL_ERROR_NAMES.has(error.name)) {
    return new CredentialsError(
      `AWS refused or could not find credentials (${error.name}: ${error.message}). Set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run \`aws sso login\``,
    );
  }
  if (/region is missing/i.test(error.message)) {
    return new CredentialsError("no AWS region: set AWS_REGION (or a region in your AWS profile)");
  }
  return error;
}
