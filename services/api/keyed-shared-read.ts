import { SharedRead } from "./shared-read.ts";

/**
 * A SharedRead per key (e.g. per filter of a query), so that concurrent requests with
 * the same parameters share one fresh read. At most `keysMax` keys are kept; past it
 * the oldest is forgotten (a read it runs still answers its own callers).
 */
export class KeyedSharedRead<T> {
  private readonly reads = new Map<string, SharedRead<T>>();

  constructor(private readonly keysMax: number) {
    if (!Number.isInteger(keysMax) || keysMax < 1)
      throw new RangeError(`KeyedSharedRead keysMax must be a positive integer, got ${keysMax}`);
  }

  get(key: string, read: () => Promise<T>): Promise<T> {
    let shared = this.reads.get(key);
    if (shared === undefined) {
      if (this.reads.size >= this.keysMax) {
        const oldest = this.reads.keys().next();
        if (oldest.done !== true) this.reads.delete(oldest.value);
      }
      shared = new SharedRead(read);
      this.reads.set(key, shared);
    }
    return shared.get();
  }

  get size(): number {
    return this.reads.size;
  }
}
