import type { Logger } from "./logger.ts";

/**
 * An error nobody caught (a start-up that cannot go on, a stray rejection) ends the
 * process as before (exit 1), but with one JSON log line saying why instead of the
 * runtime's multi-line trace, so every line a process writes stays a JSON object.
 */
export function exitOnUncaught(logger: Logger, exit: (code: number) => void = (code) => process.exit(code)): void {
  const fatal = (error: unknown, what: string) => {
    logger.fatal({ err: error }, `${what}: exiting`);
    logger.flush?.();
    exit(1);
  };
  process.on("uncaughtException", (error) => fatal(error, "uncaught exception"));
  process.on("unhandledRejection", (reason) => fatal(reason, "unhandled rejection"));
}
