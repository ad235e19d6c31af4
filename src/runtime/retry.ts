import { type BackoffOptions, backoffDelayMs } from "./backoff.ts";
import { type MonotonicClock, monotonicMs } from "./clock.ts";
import { sleep as sleepFor } from "./sleep.ts";

/**
 * The one retry loop for start-up and reconnects: a dependency that is not there
 * yet (the broker, ClickHouse) is tried again with capped exponential backoff and
 * jitter, within explicit limits, and a shutdown ends the waiting at once.
 */

/** Services retry a dependency at start-up this many times (hours at a backoff of seconds), then fail loudly. */
export const startUpAttemptsMax = 100_000;

/** At least one limit: a retry loop without one is a hang nobody sees. */
export type RetryLimits = { attemptsMax: number; deadlineMs?: number } | { attemptsMax?: number; deadlineMs: number };

export type RetryOptions = RetryLimits & {
  backoff: BackoffOptions;
  /** Aborting ends the wait at once; the retry then rejects with RetryAbortedError. */
  signal?: AbortSignal;
  /** Errors worth another attempt; any other is thrown at once. Default: every error. */
  isRetryable?: (error: unknown) => boolean;
  /** A floor under the next delay read from the error (a server's retry-after), in ms. */
  retryAfterMs?: (error: unknown) => number;
  /** Told of every failed attempt that will be retried, before the wait: for logs. */
  onRetry?: (failure: RetryFailure) => void;
  clock?: MonotonicClock;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
};

export interface RetryFailure {
  error: unknown;
  /** 1-based number of the attempt that failed. */
  attempt: number;
  delayMs: number;
}

/** The retry was aborted (shutdown) before an attempt succeeded; `cause` is the last failure, if any. */
export class RetryAbortedError extends Error {
  override name = "RetryAbortedError";
}

/**
 * Runs `attempt` until it succeeds. A failure is retried when `isRetryable` accepts
 * it, fewer than `attemptsMax` attempts were made and the wait ends before
 * `deadlineMs` from the start; otherwise that last error is thrown as is.
 */
export async function retry<T>(attempt: (attemptNumber: number) => Promise<T>, options: RetryOptions): Promise<T> {
  assertLimits(options);
  const clock = options.clock ?? monotonicMs;
  const sleep = options.sleep ?? sleepFor;
  const deadlineAtMs = clock() + (options.deadlineMs ?? Number.POSITIVE_INFINITY);
  let lastError: unknown;
  for (let attemptNumber = 1; ; attemptNumber += 1) {
    if (isAborted(options.signal)) throw aborted(attemptNumber - 1, lastError);
    try {
      return await attempt(attemptNumber);
    } catch (error) {
      lastError = error;
      if (isAborted(options.signal)) throw aborted(attemptNumber, error);
      const delayMs = nextDelayMs(options, attemptNumber, error);
      const exhausted = options.attemptsMax !== undefined && attemptNumber >= options.attemptsMax;
      const retryable = options.isRetryable?.(error) ?? true;
      if (!retryable || exhausted || clock() + delayMs > deadlineAtMs) throw error;
      options.onRetry?.({ error, attempt: attemptNumber, delayMs });
      await sleep(delayMs, options.signal);
    }
  }
}

/** For a start-up that a shutdown may cut short: undefined when aborted, else the retry's outcome. */
export async function unlessAborted<T>(pending: Promise<T>): Promise<T | undefined> {
  try {
    return await pending;
  } catch (error) {
    if (error instanceof RetryAbortedError) return undefined;
    throw error;
  }
}

function nextDelayMs(options: RetryOptions, attemptNumber: number, error: unknown): number {
  const floorMs = options.retryAfterMs?.(error) ?? 0;
  return backoffDelayMs(options.backoff, attemptNumber, floorMs, options.random);
}

function assertLimits(options: RetryOptions): void {
  const { attemptsMax, deadlineMs } = options;
  if (attemptsMax === undefined && deadlineMs === undefined) throw new Error("retry needs attemptsMax or deadlineMs");
  if (attemptsMax !== undefined && !(Number.isInteger(attemptsMax) && attemptsMax >= 1)) {
    throw new Error(`retry attemptsMax must be an integer >= 1, got ${attemptsMax}`);
  }
  if (deadlineMs !== undefined && !(deadlineMs >= 0))
    throw new Error(`retry deadlineMs must be >= 0, got ${deadlineMs}`);
  if (!(options.backoff.backoffMsMin >= 0 && options.backoff.backoffMsMin <= options.backoff.backoffMsMax)) {
    throw new Error(
      `retry backoff needs 0 <= backoffMsMin ${options.backoff.backoffMsMin} <= backoffMsMax ${options.backoff.backoffMsMax}`,
    );
  }
}

/** A call, not an inline check: the signal changes while an attempt is awaited. */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function aborted(attempts: number, lastError: unknown): RetryAbortedError {
  const message = `aborted after ${attempts} attempt(s)`;
  return lastError === undefined
    ? new RetryAbortedError(message)
    : new RetryAbortedError(message, { cause: lastError });
}
