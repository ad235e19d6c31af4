import type { Producer } from "../../src/broker-client/producer.ts";
import { partitionForKey } from "../../src/broker-protocol/partitioner.ts";
import { scheduledRecordTag } from "../../src/telemetry/record-codec.ts";
import type { StreamerMetrics } from "./metrics.ts";
import { RecordStamper } from "./record-stamper.ts";
import type { RateLimiter } from "./sources/rate-limiter.ts";
import { type RowBatch, rowCount } from "./sources/row-batch.ts";

/**
 * Turns source batches into records: each row is stamped with the processing time
 * (UTC ms, taken when the row is handed to the producer) and sent keyed by its GPU
 * UUID. `produceOwned` sends only the rows whose partition this streamer owns now;
 * `produceAll` (an upload) sends every row. Each send is awaited, so a broker that
 * slows down slows the source: nothing is dropped.
 */

export interface OwnershipView {
  /** 1 where the partition is owned now. */
  readonly flags: Uint8Array;
  live(nowMs: number): boolean;
}

export interface BatchProducerOptions {
  producer: Producer;
  metrics: StreamerMetrics;
  /** Applies to the rows of `produceOwned` (the streamer's own stream). */
  limiter: RateLimiter;
  /** Rows stamped and sent per rate reservation; at most the limiter's burst. */
  chunkRowsMax: number;
  /** Epoch ms: the processing time stamped on records. */
  clock: () => number;
  /** Milliseconds sleep, injected with the clock. */
  sleep: (ms: number) => Promise<void>;
}

/** Keys whose partition is remembered (GPU UUIDs); past this a key is hashed on every row. */
export const keysKnownMax = 65_536;

/** Bytes of one slab of stamped values (a few hundred records). */
export const stampSlabBytes = 256 * 1024;

export class BatchProducer {
  private readonly partitionOfKey = new Map<string, number>();
  private readonly partitionCount: number;
  private readonly stamper = new RecordStamper(stampSlabBytes);
  /** Set while the producer is being flushed: sends wait, so the flush has an end. */
  private pausedUntil: Promise<void> | undefined;

  constructor(private readonly options: BatchProducerOptions) {
    if (!Number.isInteger(options.chunkRowsMax) || options.chunkRowsMax < 1) {
      throw new Error(`chunkRowsMax ${options.chunkRowsMax} must be an integer >= 1`);
    }
    this.partitionCount = options.producer.partitionCount;
  }

  /** GPUs seen so far whose partition is owned now (flags of the owner). */
  ownedGpuCount(flags: Uint8Array): number {
    let count = 0;
    for (const partition of this.partitionOfKey.values()) if (flags[partition] === 1) count += 1;
    return count;
  }

  /**
   * Runs `work` (a flush) with every send paused. A flush waits for what is buffered;
   * a loop still sending at full speed would keep it from ever finishing.
   */
  async whilePaused<T>(work: () => Promise<T>): Promise<T> {
    while (this.pausedUntil !== undefined) await this.pausedUntil;
    let resume: () => void = () => undefined;
    this.pausedUntil = new Promise((resolve) => {
      resume = resolve;
    });
    try {
      return await work();
    } finally {
      this.pausedUntil = undefined;
      resume();
    }
  }

  /** Sends the rows of partitions `ownership` holds at the moment each is sent; returns rows sent. */
  async produceOwned(batch: RowBatch, ownership: OwnershipView): Promise<number> {
    const startedAt = performance.now();
    let produced = 0;
    for (let start = batch.start; start < batch.end; start += this.options.chunkRowsMax) {
      const end = Math.min(start + this.options.chunkRowsMax, batch.end);
      const wanted = this.countOwned(batch, start, end, ownership.flags);
      if (wanted === 0) continue;
      await this.options.limiter.acquire(wanted, this.options.sleep);
      produced += await this.sendOwned(batch, start, end, ownership);
    }
    this.observe(batch, produced, startedAt);
    return produced;
  }

  /**
   * Sends one row of the schedule stamped `tsMs`, unless `owned()` turned false while
   * a flush paused sends (a revocation clears ownership, then flushes). True when sent.
   */
  async sendRow(key: string, tail: Uint8Array, tsMs: number, owned: () => boolean): Promise<boolean> {
    if (this.pausedUntil !== undefined) await this.pausedUntil;
    if (!owned()) return false;
    await this.options.producer.send({
      key,
      value: this.stamper.stamp(tsMs, tail, scheduledRecordTag),
      timestampMs: tsMs,
    });
    return true;
  }

  /** The producer's partition of a key (the same hash), remembered per key. */
  partitionForKey(key: string): number {
    return this.partitionOf(key);
  }

  /** Sends every row of the batch (no ownership filter, no rate limit). */
  async produceAll(batch: RowBatch): Promise<number> {
    const startedAt = performance.now();
    const { producer, clock } = this.options;
    const nowMs = clock();
    for (let index = batch.start; index < batch.end; index += 1) {
      const key = batch.keys[index] as string;
      if (this.pausedUntil !== undefined) await this.pausedUntil;
      await producer.send({
        key,
        value: this.stamper.stamp(nowMs, batch.tails[index] as Uint8Array),
        timestampMs: nowMs,
      });
    }
    const produced = rowCount(batch);
    this.observe(batch, produced, startedAt);
    return produced;
  }

  private countOwned(batch: RowBatch, start: number, end: number, flags: Uint8Array): number {
    let count = 0;
    for (let index = start; index < end; index += 1)
      if (flags[this.partitionOf(batch.keys[index] as string)] === 1) count += 1;
    return count;
  }

  /** Ownership is checked again per row, after the rate wait: a revocation may have come in between. */
  private async sendOwned(batch: RowBatch, start: number, end: number, ownership: OwnershipView): Promise<number> {
    const { producer, clock } = this.options;
    const nowMs = clock();
    if (!ownership.live(nowMs)) return 0;
    const flags = ownership.flags;
    let sent = 0;
    for (let index = start; index < end; index += 1) {
      const key = batch.keys[index] as string;
      if (this.pausedUntil !== undefined) await this.pausedUntil;
      // Checked after the pause: a revocation pauses, clears the flag, then flushes.
      if (flags[this.partitionOf(key)] !== 1) continue;
      await producer.send({
        key,
        value: this.stamper.stamp(nowMs, batch.tails[index] as Uint8Array),
        timestampMs: nowMs,
      });
      sent += 1;
    }
    return sent;
  }

  /** The producer's partitioner (same hash), remembered per key. */
  private partitionOf(key: string): number {
    const known = this.partitionOfKey.get(key);
    if (known !== undefined) return known;
    const partition = partitionForKey(key, this.partitionCount);
    if (this.partitionOfKey.size < keysKnownMax) this.partitionOfKey.set(key, partition);
    return partition;
  }

  private observe(batch: RowBatch, produced: number, startedAt: number): void {
    const metrics = this.options.metrics;
    metrics.rowsRead.inc(rowCount(batch));
    if (produced > 0) metrics.countProduced(produced);
    metrics.produceDuration.observe((performance.now() - startedAt) / 1000);
  }
}
