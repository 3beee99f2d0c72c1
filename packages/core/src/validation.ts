import type { z } from "zod";

type ErrorClass = new (message: string) => Error;

/** Formats zod issues as `path: message; …` so an error names the offending field. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(root)"}: ${issue.message}`)
    .join("; ");
}

/** Parses `value` with `schema`, throwing the given named error with a readable description. */
export function parseWith<S extends z.ZodType>(
  schema: S,
  value: unknown,
  ErrorType: ErrorClass,
  what: string,
): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ErrorType(`${what}: ${describeIssues(result.error)}`);
  return result.data;
}

/** Parses JSON text, throwing the given named error instead of a bare SyntaxError. */
export function parseJsonText(text: string, ErrorType: ErrorClass, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ErrorType(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}
