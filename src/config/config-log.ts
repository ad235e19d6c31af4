import type { Static, TObject } from "@sinclair/typebox";
import type { Logger } from "../observability/logger.ts";
import { isSecretSetting } from "./settings.ts";

/**
 * The settings a process runs with, as one debug line at start-up (what an operator
 * asks first when something behaves oddly). A secret setting shows only whether it is
 * set: its value never reaches a log.
 */
export function configForLog<S extends TObject>(schema: S, config: Static<S>): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(schema.properties)) {
    const value = (config as Record<string, unknown>)[name];
    shown[name] = isSecretSetting(setting) ? (value === "" ? "(empty)" : "(set)") : value;
  }
  return shown;
}

export function logConfig<S extends TObject>(logger: Logger, schema: S, config: Static<S>): void {
  logger.debug({ settings: configForLog(schema, config) }, "configuration");
}
