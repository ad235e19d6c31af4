import { type DecodedRecord, forEachRecord, iterateBatches } from "../broker-protocol/record-batch.ts";

const neverAborted = new AbortController().signal;

/**
 * What one fetch brought for one partition, as a handler sees it. Records are
 * decoded lazily (on first access of `records`): a handler that forwards raw bytes
 * or only counts never pays for decoding. Records before `firstOffset` (the fetch
 * returns whole batches, the first may start earlier) are skipped.
 */
export class ConsumedBatch {
  private decoded: DecodedRecord[] | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    /** Whole batches as stored by the broker. */
    readonly bytes: Uint8Array,
    /** The first offset the handler is given (the fetch position). */
    readonly firstOffset: number,
    /** One past the last record in `bytes`: the offset to commit once handled. */
    readonly nextOffset: number,
    readonly highWatermark: number,
    /** Aborted once this partition is being taken away (revoked or the consumer closing). */
    readonly revoked: AbortSignal = neverAborted,
  ) {
    if (nextOffset <= firstOffset) {
      throw new Error(`${topic}/${partition}: batch ends at ${nextOffset}, not after its first offset ${firstOffset}`);
    }
  }

  get lastOffset(): number {
    return this.nextOffset - 1;
  }

  /** Records handed to the handler (those at or after firstOffset). */
  get recordCount(): number {
    return this.nextOffset - this.firstOffset;
  }

  get records(): DecodedRecord[] {
    this.decoded ??= this.decode();
    return this.decoded;
  }

  /** Visits records without building the array (hot loops). */
  forEachRecord(onRecord: (record: DecodedRecord) => void): void {
    if (this.decoded !== undefined) {
      for (const record of this.decoded) onRecord(record);
      return;
    }
    const first = this.firstOffset;
    forEachRecord(this.bytes, (record) => {
      if (record.offset >= first) onRecord(record);
    });
  }

  private decode(): DecodedRecord[] {
    const records: DecodedRecord[] = [];
    this.forEachRecord((record) => records.push(record));
    return records;
  }
}

/** Offset after the last record of the whole batches in `bytes`, or `fallback` when there are none. */
export function nextOffsetOf(bytes: Uint8Array, fallback: number): number {
  let next = fallback;
  for (const batch of iterateBatches(bytes)) next = batch.header.baseOffset + batch.header.lastOffsetDelta + 1;
  return next;
}
