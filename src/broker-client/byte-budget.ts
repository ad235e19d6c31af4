/**
 * A bound on bytes held at once (fetched but not yet handled). `acquire` waits
 * while the budget is spent; one holder may always take it whole so a batch larger
 * than the budget cannot deadlock.
 */
export class ByteBudget {
  private usedBytes = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly bytesMax: number) {
    if (!(bytesMax > 0)) throw new Error(`bytesMax must be positive, got ${bytesMax}`);
  }

  get used(): number {
    return this.usedBytes;
  }

  /** Waits until some budget is free (used < bytesMax). */
  async waitForRoom(signal?: AbortSignal): Promise<void> {
    while (this.usedBytes >= this.bytesMax && signal?.aborted !== true) {
      await new Promise<void>((resolve) => {
        const onAbort = () => resolve();
        // Removed when woken: a listener per wait would pile up on a long-lived signal.
        this.waiters.push(() => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        });
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    }
  }

  take(bytes: number): void {
    this.usedBytes += bytes;
  }

  release(bytes: number): void {
    if (bytes > this.usedBytes) throw new Error(`releasing ${bytes} bytes, only ${this.usedBytes} held`);
    this.usedBytes -= bytes;
    const waiters = this.waiters.splice(0);
    for (const wake of waiters) wake();
  }
}
