import type { Static, TObject } from "@sinclair/typebox";
import type { Logger } from "../observability/logger.ts";
import { isSecretSetting } from "./settings.ts";

/**
 * The settings a process runs with, as one debug line at start-up (what an operator
 * asks first when something behaves oddly). Secret settings are listed by name only,
 * as set or empty: their values never reach a log.
 */
export function configForLog<S extends TObject>(
  schema: S,
  config: Static<S>,
): { settings: Record<string, unknown>; secretsSet: string[]; secretsEmpty: string[] } {
  const settings: Record<string, unknown> = {};
  const secretsSet: string[] = [];
  const secretsEmpty: string[] = [];
  for (const [name, setting] of Object.entries(schema.properties)) {
    const value = (config as Record<string, unknown>)[name];
    if (!isSecretSetting(setting)) settings[name] = value;
    else if (value === "") secretsEmpty.push(name);
    else secretsSet.push(name);
  }
  return { settings, secretsSet, secretsEmpty };
}

export function logConfig<S extends TObject>(logger: Logger, schema: S, config: Static<S>): void {
  logger.debug(configForLog(schema, config), "configuration");
}
