import { readFileSync, statSync } from "node:fs";
import { ConfigError } from "../config/env.ts";
import { type MonotonicClock, monotonicMs } from "../runtime/clock.ts";
import { isPresentable } from "./token-syntax.ts";

/**
 * The token a client presents (a service to the broker, the CLI, `dev:scale`): fixed
 * from a setting, or read from a file (a mounted Secret) and read again when the file
 * changes, so a rotated token reaches a running client without a restart.
 */
export type TokenProvider = () => string;

export interface ClientTokenSettings {
  /** The token itself and the setting it came from (named in errors, never echoed). */
  token: { name: string; value: string };
  /** A file holding the token, and the setting naming it. */
  file: { name: string; path: string };
  clock?: MonotonicClock;
  /** Told when a changed file cannot be used (the last good token stays). */
  onRejected?: (problem: string) => void;
}

/** A file is looked at (one stat) at most this often. */
export const tokenFileCheckMs = 1_000;

/** Undefined when neither setting is given; throws when both are, or when the token is unusable. */
export function clientToken(settings: ClientTokenSettings): TokenProvider | undefined {
  const { token, file } = settings;
  if (token.value !== "" && file.path !== "") throw new ConfigError(`set ${token.name} or ${file.name}, not both`);
  if (token.value !== "") {
    const value = token.value.trim();
    if (!isPresentable(value))
      throw new ConfigError(`${token.name}: not a token (letters, digits, -._~+/ and = padding)`);
    return () => value;
  }
  if (file.path === "") return undefined;
  return fileToken(settings);
}

function fileToken(settings: ClientTokenSettings): TokenProvider {
  const { path } = settings.file;
  const clock = settings.clock ?? monotonicMs;
  const read = (): { token: string; fingerprint: string } => {
    const fingerprint = fingerprintOf(path);
    const token = readFileSync(path, "utf8").trim();
    if (!isPresentable(token)) throw new ConfigError(`${settings.file.name}: ${path} does not hold a token`);
    return { token, fingerprint };
  };
  let current: { token: string; fingerprint: string };
  try {
    current = read();
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`${settings.file.name}: cannot read ${path}: ${(error as Error).message}`);
  }
  let checkedAtMs = clock();
  /** A version of the file already reported as unusable: not reported again. */
  let rejected = "";
  return () => {
    const nowMs = clock();
    if (nowMs - checkedAtMs < tokenFileCheckMs) return current.token;
    checkedAtMs = nowMs;
    let fingerprint = "unreadable";
    try {
      fingerprint = fingerprintOf(path);
      if (fingerprint !== current.fingerprint && fingerprint !== rejected) current = read();
    } catch (error) {
      if (fingerprint !== rejected) settings.onRejected?.((error as Error).message);
      rejected = fingerprint;
    }
    return current.token;
  };
}

function fingerprintOf(path: string): string {
  const stats = statSync(path);
  return `${stats.ino}:${stats.size}:${stats.mtimeMs}`;
}

/** A broker client's connection from its BROKER_URL, BROKER_TOKEN and BROKER_TOKEN_FILE settings. */
export function brokerConnectionOf(
  config: { BROKER_URL: string; BROKER_TOKEN: string; BROKER_TOKEN_FILE: string },
  onRejected?: (problem: string) => void,
): { brokerUrl: string; token: TokenProvider | undefined } {
  const token = clientToken({
    token: { name: "BROKER_TOKEN", value: config.BROKER_TOKEN },
    file: { name: "BROKER_TOKEN_FILE", path: config.BROKER_TOKEN_FILE },
    ...(onRejected === undefined ? {} : { onRejected }),
  });
  return { brokerUrl: config.BROKER_URL, token };
}
