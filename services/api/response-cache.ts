export interface ResponseCacheOptions {
  /** How long an answer is served as fresh; 0 disables caching (every call loads). */
  ttlMs: number;
  /** Distinct keys kept at once; the oldest is dropped past it. */
  entriesMax: number;
  /** Epoch milliseconds; injected so tests control expiry. */
  clock: () => number;
}

interface Entry<V> {
  loadedAtMs: number;
  value: Promise<V>;
  settled: boolean;
  refreshing: boolean;
}

/**
 * A short-lived cache with single flight: concurrent requests for the same key share
 * one ClickHouse query, and its answer is reused for `ttlMs`. For one more `ttlMs`
 * after that, the old answer is still served while one background load refreshes it,
 * so callers never wait on a refresh (answers are at most 2 × ttlMs old). Meant for
 * listings that change slowly (the GPU registry), where a query per request would cap
 * throughput. Failures are not cached.
 */
export class ResponseCache<V> {
  private readonly entries = new Map<string, Entry<V>>();

  constructor(private readonly options: ResponseCacheOptions) {
    if (!Number.isInteger(options.entriesMax) || options.entriesMax < 1) {
      throw new RangeError(`ResponseCache entriesMax must be a positive integer, got ${options.entriesMax}`);
    }
    if (options.ttlMs < 0) throw new RangeError(`ResponseCache ttlMs must be >= 0, got ${options.ttlMs}`);
  }

  get(key: string, load: () => Promise<V>): Promise<V> {
    if (this.options.ttlMs === 0) return load();
    const nowMs = this.options.clock();
    const cached = this.entries.get(key);
    const ageMs = cached === undefined ? Number.POSITIVE_INFINITY : nowMs - cached.loadedAtMs;
    if (cached !== undefined && ageMs < this.options.ttlMs) return cached.value;
    if (cached?.settled && ageMs < 2 * this.options.ttlMs) {
      if (!cached.refreshing) this.refresh(key, cached, load);
      return cached.value;
    }
    return this.store(key, load, nowMs).value;
  }

  get size(): number {
    return this.entries.size;
  }

  private store(key: string, load: () => Promise<V>, nowMs: number): Entry<V> {
    this.entries.delete(key);
    this.makeRoom();
    const entry: Entry<V> = { loadedAtMs: nowMs, value: load(), settled: false, refreshing: false };
    this.entries.set(key, entry);
    entry.value.then(
      () => {
        entry.settled = true;
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return entry;
  }

  /** Replaces the entry only once the new answer is in; a failed refresh keeps the old one until it ages out. */
  private refresh(key: string, stale: Entry<V>, load: () => Promise<V>): void {
    stale.refreshing = true;
    const startedMs = this.options.clock();
    load().then(
      (value) => {
        if (this.entries.get(key) !== stale) return;
        this.entries.set(key, {
          loadedAtMs: startedMs,
          value: Promise.resolve(value),
          settled: true,
          refreshing: false,
        });
      },
      () => {
        stale.refreshing = false;
      },
    );
  }

  private makeRoom(): void {
    while (this.entries.size >= this.options.entriesMax) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) return;
      this.entries.delete(oldest.value);
    }
  }
}
