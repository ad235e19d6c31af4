import { type TLiteral, type TSchema, type TUnion, Type } from "@sinclair/typebox";

/**
 * Builders for environment settings. Each carries its default, bounds and a
 * description, so the same schema validates, documents (README table) and types.
 */
export const Setting = {
  integer(options: { default: number; minimum: number; maximum: number; description: string }) {
    return Type.Integer(options);
  },
  number(options: { default: number; minimum: number; maximum: number; description: string }) {
    return Type.Number(options);
  },
  string(options: { default?: string; description: string; minLength?: number }) {
    return Type.String(options);
  },
  /**
   * A password, a token or a token list: never logged (the config echo shows only
   * whether it is set) and marked secret in the README table.
   */
  secret(options: { description: string }) {
    return Type.String({ default: "", description: options.description, secret: true });
  },
  url(options: { default: string; description: string }) {
    return Type.String({ ...options, pattern: "^https?://[^\\s/]+(/.*)?$" });
  },
  boolean(options: { default: boolean; description: string }) {
    return Type.Boolean(options);
  },
  choice<const T extends readonly string[]>(
    choices: T,
    options: { default: T[number]; description: string },
  ): TUnion<TLiteral<T[number]>[]> {
    const literals = choices.map((choice): TLiteral<T[number]> => Type.Literal(choice));
    return Type.Union(literals, options);
  },
};

export const LogLevel = Setting.choice(["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const, {
  default: "info",
  description: "pino log level",
});

/** True for a setting built with Setting.secret. */
export function isSecretSetting(setting: TSchema): boolean {
  return (setting as { secret?: unknown }).secret === true;
}
