import { hostname } from "node:os";
import pino, { type DestinationStream, type Logger } from "pino";

export type { Logger };

export interface LoggerOptions {
  service: string;
  instanceId: string;
  level: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to read them back. */
  destination?: DestinationStream;
}

/** The id a process reports in logs and metrics when none is configured. */
export function defaultInstanceId(): string {
  return `${hostname()}-${process.pid}`;
}

/**
 * Field names whose values are secrets, wherever a log object carries them (top level
 * or up to two objects deep: `headers.authorization`, `req.headers.authorization`,
 * `settings.BROKER_TOKEN`). The code never logs them on purpose; this is the net
 * under that rule, for an object logged whole.
 */
const secretFields = [
  "authorization",
  "Authorization",
  "cookie",
  "password",
  "token",
  "tokens",
  "secret",
  "cursorKey",
  "BROKER_TOKEN",
  "BROKER_TOKENS_PRODUCE",
  "BROKER_TOKENS_CONSUME",
  "BROKER_TOKENS_ADMIN",
  "API_READ_TOKENS",
  "API_CURSOR_KEY",
  "STREAMER_UPLOAD_TOKENS",
  "CLICKHOUSE_PASSWORD",
  "CLICKHOUSE_EMBEDDED_PASSWORD",
];
export const redactedPaths = secretFields.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]);

/**
 * JSON logs with service and instance on every line. Pretty output only for a
 * person at a terminal in dev: machines (and CI) always get one JSON object a line.
 */
export function createLogger(options: LoggerOptions): Logger {
  const base = { service: options.service, instance: options.instanceId };
  const pinoOptions = {
    level: options.level,
    base,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactedPaths, censor: "[redacted]" },
  };
  if (options.destination !== undefined) return pino(pinoOptions, options.destination);
  const pretty = wantsPretty() ? loadPretty() : undefined;
  return pretty === undefined ? pino(pinoOptions) : pino(pinoOptions, pretty);
}

function wantsPretty(): boolean {
  if (process.env.LOG_FORMAT === "json") return false;
  if (process.env.LOG_FORMAT === "pretty") return true;
  return process.stdout.isTTY === true && process.env.NODE_ENV !== "production";
}

function loadPretty(): DestinationStream | undefined {
  try {
    // pino-pretty is a dev dependency: the production image does not have it.
    const prettyFactory = require("pino-pretty") as (options: object) => DestinationStream;
    return prettyFactory({ colorize: true, translateTime: "HH:MM:ss.l", ignore: "pid,hostname" });
  } catch {
    return undefined;
  }
}
