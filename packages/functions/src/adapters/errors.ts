/** Reading AWS SDK v3 errors without depending on each service's exception classes. */

/** The service error name (`NoSuchKey`, `ConflictException`, …) of a thrown SDK error. */
export function awsErrorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/** The HTTP status of a thrown SDK error, or undefined when no response arrived at all. */
export function httpStatusOf(error: unknown): number | undefined {
  const metadata = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata;
  return metadata?.httpStatusCode;
}

/** Whether a failure is worth retrying: throttling, 5xx, or no response (network). */
export function isTransient(error: unknown, transientNames: readonly string[] = []): boolean {
  const name = awsErrorName(error);
  if (name && transientNames.includes(name)) return true;
  const status = httpStatusOf(error);
  if (status === undefined) return error instanceof Error && !("$fault" in error);
  return status === 429 || status === 503 || status >= 500;
}
