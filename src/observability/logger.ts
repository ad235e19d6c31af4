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
 * JSON logs with service and instance on every line. Pretty output only for a
 * person at a terminal in dev: machines (and CI) always get one JSON object a line.
 */
export function createLogger(options: LoggerOptions): Logger {
  const base = { service: options.service, instance: options.instanceId };
  const pinoOptions = { level: options.level, base, timestamp: pino.stdTimeFunctions.isoTime };
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
