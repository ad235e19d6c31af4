import { LimitExceededError } from "./errors.ts";

interface Waiter {
  afterOffset: number;
  settle: (appended: boolean) => void;
}

/**
 * Long-poll support: fetches at the end of the log wait here until an append moves
 * the high watermark past their offset, a timeout, or an abort. Bounded by
 * `waitersMax`; one more is a LimitExceededError (the server answers "retry").
 */
export class AppendWaiters {
  private readonly waiters = new Set<Waiter>();

  constructor(private readonly waitersMax: number) {}

  get size(): number {
    return this.waiters.size;
  }

  wait(afterOffset: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    if (this.waiters.size >= this.waitersMax) {
      throw new LimitExceededError(`${this.waiters.size} fetches already waiting (waitersMax ${this.waitersMax})`);
    }
    if (timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = () => waiter.settle(false);
      const timer = setTimeout(() => waiter.settle(false), timeoutMs);
      const waiter: Waiter = {
        afterOffset,
        settle: (appended) => {
          if (!this.waiters.delete(waiter)) return;
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          resolve(appended);
        },
      };
      this.waiters.add(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Wakes every waiter whose offset the high watermark has passed. */
  notify(highWatermark: number): void {
    if (this.waiters.size === 0) return;
    for (const waiter of [...this.waiters]) if (highWatermark > waiter.afterOffset) waiter.settle(true);
  }

  closeAll(): void {
    for (const waiter of [...this.waiters]) waiter.settle(false);
  }
}
