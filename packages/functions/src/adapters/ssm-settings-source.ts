/** SettingsSource on SSM Parameter Store, read through Powertools Parameters with caching. */

import { SSMProvider } from "@aws-lambda-powertools/parameters/ssm";
import type { SSMClient } from "@aws-sdk/client-ssm";
import { Settings, type SettingsSource } from "@secondlook/core";

/** How long a warm sandbox reuses settings: an operator's change applies within this many seconds. */
export const SETTINGS_MAX_AGE_SECONDS = 30;

/** Powertools' own variable for the default cache age, honoured so operators can tune it as documented. */
const envMaxAge = () => {
  const value = Number(process.env.POWERTOOLS_PARAMETERS_MAX_AGE);
  return Number.isFinite(value) && value >= 0 && process.env.POWERTOOLS_PARAMETERS_MAX_AGE !== ""
    ? value
    : undefined;
};

/** Creates a SettingsSource reading every parameter directly under `path` (e.g. `/secondlook/dev/`). */
export function createSsmSettingsSource(
  client: SSMClient,
  path: string,
  maxAgeSeconds = envMaxAge() ?? SETTINGS_MAX_AGE_SECONDS,
): SettingsSource {
  const provider = new SSMProvider({ awsSdkV3Client: client });
  return {
    async load() {
      const parameters = await provider.getMultiple(path, { maxAge: maxAgeSeconds, recursive: false });
      return Settings.fromParameters((parameters ?? {}) as Record<string, string>);
    },
  };
}
