import { type BackoffOptions, backoffDelayMs } from "../../src/broker-client/backoff.ts";
import type { Logger } from "../../src/observability/logger.ts";
import { sleep } from "../../src/runtime/sleep.ts";

/** Start-up gives up after this many attempts (hours at the capped backoff): an explicit bound, not a silent hang. */
export const startAttemptsMax = 100_000;

/**
 * Runs `step` until it succeeds, with capped exponential backoff and jitter: the
 * collector may start before the broker or ClickHouse. Resolves undefined when
 * `signal` aborts (shutdown during start-up).
 */
export async function startWithRetry<T>(options: {
  name: string;
  step: () => Promise<T>;
  backoff: BackoffOptions;
  logger: Logger;
  signal: AbortSignal;
}): Promise<T | undefined> {
  for (let attempt = 1; attempt <= startAttemptsMax; attempt++) {
    if (options.signal.aborted) return undefined;
    try {
      return await options.step();
    } catch (error) {
      const delayMs = backoffDelayMs(options.backoff, attempt);
      options.logger.warn({ err: error, step: options.name, attempt, delayMs }, "start-up step failed; retrying");
      await sleep(delayMs, options.signal);
    }
  }
  throw new Error(`start-up step "${options.name}" failed ${startAttemptsMax} times`);
}
