/**
 * What every streamer source hands the produce loop: encoded rows, each a record key
 * (the GPU UUID) and a record tail (see src/telemetry/record-codec.ts). Stamping the
 * processing time turns a tail into the record value: `stampRecord(nowMs, tail)`.
 *
 * A batch is a view `[start, end)` over arrays the source may share and reuse (the
 * replay cache hands out views of its arrays), so the loop must not keep or modify
 * them after its callback returns.
 */
export interface RowBatch {
  readonly keys: readonly string[];
  readonly tails: readonly Uint8Array[];
  readonly start: number;
  readonly end: number;
}

/** Awaited before the source reads on: a slow broker slows the source (backpressure). */
export type OnRowBatch = (batch: RowBatch) => void | Promise<void>;

export function rowCount(batch: RowBatch): number {
  return batch.end - batch.start;
}

/** Collects encoded rows and hands them on in batches of at most `batchRowsMax`. */
export class RowBatcher {
  private keys: string[] = [];
  private tails: Uint8Array[] = [];

  constructor(
    private readonly batchRowsMax: number,
    private readonly onBatch: OnRowBatch,
  ) {
    if (!Number.isInteger(batchRowsMax) || batchRowsMax < 1)
      throw new Error(`batchRowsMax ${batchRowsMax} must be >= 1`);
  }

  /** True when the batch is full and the caller must `flush()` before adding more. */
  add(key: string, tail: Uint8Array): boolean {
    if (this.keys.length >= this.batchRowsMax) {
      throw new Error(`batch already holds batchRowsMax ${this.batchRowsMax} rows; flush first`);
    }
    this.keys.push(key);
    this.tails.push(tail);
    return this.keys.length === this.batchRowsMax;
  }

  async flush(): Promise<void> {
    if (this.keys.length === 0) return;
    const batch: RowBatch = { keys: this.keys, tails: this.tails, start: 0, end: this.keys.length };
    // Fresh arrays per batch: the callback may still be looking at the old ones.
    this.keys = [];
    this.tails = [];
    await this.onBatch(batch);
  }
}
