/**
 * The handlers' one view of their environment: every variable is named in the blueprint and
 * validated here, once, on first use (so importing a handler never fails on its own).
 */
import { Env } from "@secondlook/core/blueprint";
import { z } from "zod";

export const EnvSchema = z.object({
  [Env.bucket]: z.string().min(3),
  [Env.settingsPath]: z.string().startsWith("/").endsWith("/"),
  [Env.flowDefinitionArn]: z.string().min(1).optional(),
  [Env.projectArn]: z.string().min(1).optional(),
  [Env.trainModelStateMachineArn]: z.string().min(1).optional(),
  /** Set by Lambda on AWS; the local cloud sets it too. */
  AWS_REGION: z.string().min(1),
  /** Set only when pointing the SDK at the local cloud. */
  AWS_ENDPOINT_URL: z.url().optional(),
});

export interface HandlerEnv {
  bucket: string;
  settingsPath: string;
  flowDefinitionArn: string | undefined;
  region: string;
  endpointUrl: string | undefined;
}

/** A missing or malformed environment variable: a deployment mistake, named so it is found fast. */
export class InvalidEnvironmentError extends Error {
  override readonly name = "InvalidEnvironmentError";
}

/** Reads and validates the environment from `source`. */
export function readEnv(source: NodeJS.ProcessEnv = process.env): HandlerEnv {
  const result = EnvSchema.safeParse(source);
  if (!result.success) {
    const problems = result.error.issues
      .map((issue) => `${issue.path.join(".")}: ${issue.message}`)
      .join("; ");
    throw new InvalidEnvironmentError(`Invalid handler environment: ${problems}`);
  }
  const env = result.data;
  return {
    bucket: env[Env.bucket],
    settingsPath: env[Env.settingsPath],
    flowDefinitionArn: env[Env.flowDefinitionArn],
    region: env.AWS_REGION,
    endpointUrl: env.AWS_ENDPOINT_URL,
  };
}

/** The value of an optional variable a particular handler cannot do without. */
export function required<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new InvalidEnvironmentError(`Environment variable ${name} is not set`);
  return value;
}

let cached: HandlerEnv | undefined;

/** The process environment, validated on first use and then reused for the sandbox's lifetime. */
export function env(): HandlerEnv {
  cached ??= readEnv();
  return cached;
}

/** Forgets the cached environment (tests change it between cases). */
export function resetEnv(): void {
  cached = undefined;
}
