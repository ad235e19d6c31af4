/**
 * Token bucket in rows per second. The bucket holds at most `burstRowsMax` tokens,
 * so after a pause the source catches up by at most one burst, not by the whole
 * pause. Rate 0 means unlimited (as fast as the broker accepts).
 *
 * `reserve(rows)` takes the tokens at once and says how long to wait before sending
 * them; the balance may go negative (a debt paid by waiting), so a batch larger than
 * what the bucket holds right now is delayed, not refused.
 */

export interface RateLimiterOptions {
  rowsPerSecond: number;
  burstRowsMax: number;
  /** Milliseconds, monotonic; injected so tests control time. */
  clock: () => number;
}

/** The longest single wait reserve() will hand out; more means a misconfigured rate. */
export const rateWaitMsMax = 60_000;

export class RateLimiter {
  private tokens: number;
  private lastRefillMs: number;

  constructor(private readonly options: RateLimiterOptions) {
    if (!Number.isFinite(options.rowsPerSecond) || options.rowsPerSecond < 0) {
      throw new Error(`rowsPerSecond ${options.rowsPerSecond} must be a finite number >= 0`);
    }
    if (!Number.isInteger(options.burstRowsMax) || options.burstRowsMax < 1) {
      throw new Error(`burstRowsMax ${options.burstRowsMax} must be an integer >= 1`);
    }
    this.tokens = options.burstRowsMax;
    this.lastRefillMs = options.clock();
  }

  get unlimited(): boolean {
    return this.options.rowsPerSecond === 0;
  }

  /**
   * Takes `rows` tokens; returns the milliseconds to wait before sending them (0 = now).
   * `rows` may not exceed burstRowsMax: callers cut their batches to fit.
   */
  reserve(rows: number): number {
    if (!Number.isInteger(rows) || rows < 0) throw new Error(`rows ${rows} must be an integer >= 0`);
    if (this.unlimited) return 0;
    if (rows > this.options.burstRowsMax) {
      throw new Error(`reserve of ${rows} rows exceeds burstRowsMax ${this.options.burstRowsMax}`);
    }
    this.refill();
    const tokens = this.tokens - rows;
    const waitMs = tokens >= 0 ? 0 : Math.ceil((-tokens * 1000) / this.options.rowsPerSecond);
    if (waitMs > rateWaitMsMax) {
      throw new Error(
        `rate wait ${waitMs} ms exceeds rateWaitMsMax ${rateWaitMsMax} (rate ${this.options.rowsPerSecond}/s)`,
      );
    }
    this.tokens = tokens;
    return waitMs;
  }

  /** Reserves and sleeps as needed; `sleep` is injected with the clock. */
  async acquire(rows: number, sleep: (ms: number) => Promise<void>): Promise<void> {
    const waitMs = this.reserve(rows);
    if (waitMs > 0) await sleep(waitMs);
  }

  private refill(): void {
    const nowMs = this.options.clock();
    const elapsedMs = Math.max(0, nowMs - this.lastRefillMs);
    this.lastRefillMs = Math.max(this.lastRefillMs, nowMs);
    const refilled = this.tokens + (elapsedMs * this.options.rowsPerSecond) / 1000;
    this.tokens = Math.min(this.options.burstRowsMax, refilled);
  }
}
