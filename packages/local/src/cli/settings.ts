/**
 * `secondlook settings get [name] | set <name> <value>`: the stage's SSM parameters, read and
 * written through the same schema the handlers parse them with, so a value the CLI accepts is one
 * every handler accepts.
 */
import { DeleteParameterCommand, GetParametersByPathCommand, PutParameterCommand } from "@aws-sdk/client-ssm";
import { InvalidSettingsError } from "@secondlook/core/errors";
import { type SettingKey, Settings } from "@secondlook/core/settings";
import { InvalidSettingError } from "./errors";
import { renderTable } from "./output";
import type { Target } from "./target";

/** The parameters under the stage's settings path, keyed by name suffix (`min-confidence`). */
async function readParameters(target: Target) {
  const parameters: Record<string, string> = {};
  let nextToken: string | undefined;
  do {
    const page = await target.clients.ssm.send(
      new GetParametersByPathCommand({ Path: target.settingsPath, NextToken: nextToken }),
    );
    for (const parameter of page.Parameters ?? []) {
      if (parameter.Name && parameter.Value !== undefined) {
        parameters[parameter.Name.slice(target.settingsPath.length)] = parameter.Value;
      }
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return parameters;
}

/** Accepts a setting's parameter name (`min-confidence`) or its key (`minConfidence`). */
export function settingKeyOf(name: string): SettingKey {
  const key = Settings.keys.find(
    (candidate) => candidate === name || Settings.parameterName(candidate) === name,
  );
  if (!key) {
    throw new InvalidSettingError(
      `unknown setting ${JSON.stringify(name)}; the settings are ${Settings.keys.map(Settings.parameterName).join(", ")}`,
    );
  }
  return key;
}

const display = (value: unknown) => (Array.isArray(value) ? JSON.stringify(value) : String(value));

/** Every setting (or one) with its current and default value; parse errors name the parameter. */
export async function getSettings(target: Target, name?: string) {
  const only = name === undefined ? undefined : settingKeyOf(name);
  let settings: Settings;
  try {
    settings = Settings.fromParameters(await readParameters(target));
  } catch (error) {
    if (error instanceof InvalidSettingsError) {
      throw new InvalidSettingError(
        `the stored settings are invalid: ${error.message} (fix with settings set)`,
      );
    }
    throw error;
  }
  const defaults = Settings.defaults();
  const keys = only ? [only] : Settings.keys;
  return keys.map((key) => ({
    name: Settings.parameterName(key),
    key,
    value: settings[key],
    default: defaults[key],
  }));
}

/** Prints settings as a table, or one setting's bare value (easy to capture in a script). */
export function formatSettings(rows: Awaited<ReturnType<typeof getSettings>>, single: boolean) {
  if (single && rows[0]) return display(rows[0].value);
  return renderTable(
    ["Setting", "Value", "Default"],
    rows.map((row) => [row.name, display(row.value), display(row.default)]),
  );
}

/**
 * Validates `value` for `name` together with the other stored settings, then writes its canonical
 * form; a value equal to "nothing" (an empty ARN) removes the parameter, since SSM stores no empty
 * strings and an absent setting takes its default.
 */
export async function setSetting(target: Target, name: string, value: string) {
  const key = settingKeyOf(name);
  const parameterName = Settings.parameterName(key);
  const parameters = await readParameters(target);
  let settings: Settings;
  try {
    settings = Settings.fromParameters({ ...parameters, [parameterName]: value });
  } catch (error) {
    if (error instanceof InvalidSettingsError) throw new InvalidSettingError(error.message);
    throw error;
  }
  const canonical = Settings.toParameters(settings)[parameterName] ?? "";
  const fullName = `${target.settingsPath}${parameterName}`;
  if (canonical === "") {
    if (parameters[parameterName] !== undefined) {
      await target.clients.ssm.send(new DeleteParameterCommand({ Name: fullName }));
    }
  } else {
    await target.clients.ssm.send(
      new PutParameterCommand({ Name: fullName, Value: canonical, Type: "String", Overwrite: true }),
    );
  }
  return { name: parameterName, key, value: settings[key], parameter: fullName };
}
