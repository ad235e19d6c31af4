import type { Static, TObject, TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";

/** A setting that failed validation; the message is one line naming the variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

export type Env = Record<string, string | undefined>;

/**
 * Reads every property of `schema` from the environment variable of the same name.
 * Missing variables take the schema default; strings are converted to the declared
 * type; the first invalid value throws a ConfigError naming the variable.
 */
export function loadConfig<S extends TObject>(schema: S, env: Env = process.env): Static<S> {
  const config: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(schema.properties)) {
    config[name] = readSetting(name, setting, env[name]);
  }
  return config as Static<S>;
}

function readSetting(name: string, setting: TSchema, raw: string | undefined): unknown {
  if (raw === undefined || raw === "") {
    if (setting.default === undefined) {
      throw new ConfigError(`${name}: required but not set (${describe(setting)})`);
    }
    return structuredClone(setting.default);
  }
  const value = convert(setting, raw.trim());
  if (!Value.Check(setting, value)) {
    const first = Value.Errors(setting, value).First();
    const reason = first === undefined ? "invalid" : first.message.toLowerCase();
    throw new ConfigError(`${name}: ${reason}, got ${JSON.stringify(raw)} (${describe(setting)})`);
  }
  return value;
}

/** Strict conversion: "12.5" is not an integer and "abc" is not a number (no truncation). */
function convert(setting: TSchema, text: string): unknown {
  if (setting.type === "integer" || setting.type === "number") {
    return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) ? Number(text) : text;
  }
  if (setting.type === "boolean") {
    const lowered = text.toLowerCase();
    if (["true", "1", "yes", "on"].includes(lowered)) return true;
    if (["false", "0", "no", "off"].includes(lowered)) return false;
    return text;
  }
  return Value.Convert(setting, text);
}

function describe(setting: TSchema): string {
  const parts: string[] = [];
  if (setting.description !== undefined) parts.push(setting.description);
  if (setting.minimum !== undefined) parts.push(`min ${setting.minimum}`);
  if (setting.maximum !== undefined) parts.push(`max ${setting.maximum}`);
  if (Array.isArray(setting.anyOf)) {
    const choices = setting.anyOf.map((choice: TSchema) => choice.const).filter((c) => c !== undefined);
    if (choices.length > 0) parts.push(`one of ${choices.join(", ")}`);
  }
  return parts.join("; ");
}

/**
 * Loads config for a process entry point: a bad value prints one line and exits 2,
 * so an operator sees exactly which variable to fix instead of a stack trace.
 */
export function loadConfigOrExit<S extends TObject>(schema: S, env: Env = process.env): Static<S> {
  try {
    return loadConfig(schema, env);
  } catch (error) {
    exitOnConfigError(error);
  }
}

/** Runs a start-up step whose ConfigError (a token file that does not parse) exits like a bad setting. */
export function tryOrExitOnConfigError<T>(step: () => T): T {
  try {
    return step();
  } catch (error) {
    exitOnConfigError(error);
  }
}

/**
 * For errors found after loading (settings that are wrong together, a token file that
 * does not parse): a ConfigError prints its one line and exits 2; anything else is rethrown.
 */
export function exitOnConfigError(error: unknown): never {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`config error: ${error.message}\n`);
  process.exit(2);
}
