/**
 * ClickHouse identifiers (database names) cannot be query parameters everywhere (DDL of
 * materialized views, for one), so the few we put in SQL text are checked against this
 * pattern first: letters, digits and underscore, nothing a statement could be built from.
 */
export const identifierPattern = "^[A-Za-z_][A-Za-z0-9_]{0,63}$";

const identifierRegExp = new RegExp(identifierPattern);

/** Throws unless `name` matches {@link identifierPattern}; returns it for chaining. */
export function assertIdentifier(name: string, what: string): string {
  if (!identifierRegExp.test(name)) {
    throw new RangeError(`${what} must match ${identifierPattern}, got ${JSON.stringify(name)}`);
  }
  return name;
}
