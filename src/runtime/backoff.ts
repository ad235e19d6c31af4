/** Capped exponential backoff with full jitter, so retrying clients spread out. */
export interface BackoffOptions {
  backoffMsMin: number;
  backoffMsMax: number;
}

export const defaultBackoff: BackoffOptions = { backoffMsMin: 20, backoffMsMax: 2_000 };

/** Delay before retry number `attempt` (1-based); at least `floorMs` (a server's retry-after). */
export function backoffDelayMs(options: BackoffOptions, attempt: number, floorMs = 0, random = Math.random): number {
  if (attempt < 1) throw new Error(`attempt is 1-based, got ${attempt}`);
  const ceiling = Math.min(options.backoffMsMax, options.backoffMsMin * 2 ** Math.min(attempt - 1, 30));
  const jittered = options.backoffMsMin + random() * (ceiling - options.backoffMsMin);
  return Math.max(floorMs, Math.round(jittered));
}
