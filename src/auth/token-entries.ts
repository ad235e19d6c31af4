import { ConfigError } from "../config/env.ts";
import { digestOfEntry, isDigestEntry, tokenDigest, tokenProblem } from "./token-syntax.ts";

/**
 * A list of accepted tokens as operators write it, in an environment variable or a
 * file (a Kubernetes Secret key): one entry per line (or separated by `;`), `#` starts
 * a comment line. An entry is a token or `sha256:<hex>` of one, optionally followed by
 * `groups=a,b` where the scope allows a limit (the broker's consume scope: the token
 * then works for those consumer groups only).
 *
 *   Zq3…Kx                                      # any group
 *   sha256:9f86d081884c7d65…  groups=collectors # only group "collectors"
 *
 * Errors name the source and the entry number, never the entry's text.
 */

export interface TokenEntry {
  /** SHA-256 of the token. */
  readonly digest: Buffer;
  /** Names the grant is limited to (consumer groups); undefined: not limited. */
  readonly limit: ReadonlySet<string> | undefined;
}

export interface TokenEntriesOptions {
  /** Where the text came from, for errors: a variable name or a file path. */
  source: string;
  /** Whether an entry may carry `groups=` (only where the scope has something to limit). */
  limitable: boolean;
}

/** A configuration error: at start-up it stops the process with its one line (never the entry's text). */
export class TokenEntryError extends ConfigError {
  override name = "TokenEntryError";
}

/** Entries of one list at most: a list is a handful of tokens being rotated, not a user database. */
export const entriesMax = 1_000;
const limitKey = "groups=";
const limitNamePattern = /^[A-Za-z0-9._-]{1,200}$/;
const limitNamesMax = 100;

export function parseTokenEntries(text: string, options: TokenEntriesOptions): TokenEntry[] {
  const entries: TokenEntry[] = [];
  const lines = text.split(/[\n;]/);
  for (const raw of lines) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (entries.length === entriesMax) fail(options, entries.length + 1, `more than ${entriesMax} entries`);
    entries.push(parseEntry(line, options, entries.length + 1));
  }
  return entries;
}

function parseEntry(line: string, options: TokenEntriesOptions, number: number): TokenEntry {
  const [secret = "", ...rest] = line.split(/\s+/);
  if (rest.length > 1) fail(options, number, "expected a token, then at most one groups=a,b");
  const digest = isDigestEntry(secret) ? digestOfEntry(secret) : tokenDigestOrFail(secret, options, number);
  const limitText = rest[0];
  if (limitText === undefined) return { digest, limit: undefined };
  if (!limitText.startsWith(limitKey)) fail(options, number, `expected groups=a,b after the token`);
  if (!options.limitable) fail(options, number, "this scope cannot be limited to groups");
  return { digest, limit: limitNames(limitText.slice(limitKey.length), options, number) };
}

function tokenDigestOrFail(secret: string, options: TokenEntriesOptions, number: number): Buffer {
  if (secret.startsWith("sha256:")) fail(options, number, "a digest entry is sha256: then 64 lowercase hex digits");
  const problem = tokenProblem(secret);
  if (problem !== undefined) fail(options, number, problem);
  return tokenDigest(secret);
}

function limitNames(text: string, options: TokenEntriesOptions, number: number): ReadonlySet<string> {
  const names = text.split(",");
  if (names.length > limitNamesMax) fail(options, number, `more than ${limitNamesMax} groups`);
  names.forEach((name, index) => {
    if (!limitNamePattern.test(name)) fail(options, number, `group ${index + 1} is not 1-200 letters, digits or ._-`);
  });
  return new Set(names);
}

function fail(options: TokenEntriesOptions, number: number, problem: string): never {
  throw new TokenEntryError(`${options.source}: entry ${number}: ${problem}`);
}
