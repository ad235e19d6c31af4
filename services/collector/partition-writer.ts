import type { ConsumedBatch } from "../../src/broker-client/consumed-batch.ts";
import type { DecodedRecord } from "../../src/broker-protocol/record-batch.ts";
import type { SourceSuffix } from "../../src/clickhouse/source-columns.ts";
import type { Logger } from "../../src/observability/logger.ts";
import { sleep } from "../../src/runtime/sleep.ts";
import { type BatchInserter, InsertAbandonedError } from "./batch-inserter.ts";
import { cutRanges } from "./batch-ranges.ts";
import { batchDeadLetterOf, type DeadLetter, type DeadLetterSink, deadLetterOf } from "./dead-letters.ts";
import { type CheckedRows, InsertCoalescer } from "./insert-coalescer.ts";
import type { CollectorMetrics } from "./metrics.ts";
import type { OffsetRange } from "./offset-range.ts";
import { admitRecord, type RecordAdmission } from "./record-validation.ts";
import { forEachStoredRecord, isSetAside, type SetAsideBatch } from "./stored-batches.ts";
import type { StoredOffsetsGate } from "./stored-offsets-gate.ts";

type RecordRejection = Extract<RecordAdmission, { ok: false }>;

export interface PartitionWriterOptions {
  topic: string;
  rowsMax: number;
  lingerMs: number;
  inserter: BatchInserter;
  /** Grouped inserts running at once. */
  insertsInFlightMax: number;
  /** What ClickHouse already holds of a partition. */
  stored: StoredOffsetsGate;
  /** The source columns every inserted row gets. */
  source: SourceSuffix;
  deadLetters: DeadLetterSink;
  metrics: CollectorMetrics;
  logger: Logger;
  clock: () => number;
  /** Commits every offset the consumer has processed; awaited before a batch is written. */
  commitProcessed: () => Promise<void>;
  /** The group generation now; a change gives up a failing insert (the partition may be moving). */
  generation: () => number;
  /** Called after each range is safely in ClickHouse, before its offsets are committed. */
  afterInsert?: (partition: number, range: OffsetRange) => void;
}

/** How long before the next group may start a caught-up partition fetches again. */
export const groupFetchLeadMs = 25;

interface PartitionState {
  generation: number;
  /** The first offset of the batch the consumer should hand over next. */
  expectedOffset: number;
  /** Offsets above this one are not in ClickHouse; at or below it, ClickHouse is asked which are. */
  storedThrough: number;
  /** Offsets through this one were inserted by this writer since it took the partition. */
  insertedThrough: number;
}

export interface PartitionLag {
  topic: string;
  partition: number;
  records: number;
}

/**
 * The consumer's batch handler: turns each fetched batch of a partition into one or
 * more ClickHouse inserts and returns only when all of them succeeded, so the
 * consumer commits the batch's offsets after its rows are stored (at-least-once).
 *
 * Exactly once. Every row carries its source (topic, partition, offset). Whenever the
 * writer takes a partition, or finds it somewhere it did not leave it (a rewind), it
 * asks ClickHouse what is stored (stored-offsets-gate.ts) and inserts only the rest,
 * however the ranges are cut now and were cut before. Inserts of one partition are
 * sequential (insert-coalescer.ts asserts it), so what a crash leaves behind is at
 * most the partition's last insert, in part.
 */
export class PartitionWriter {
  private readonly states = new Map<string, PartitionState>();
  readonly lag = new Map<string, PartitionLag>();
  private readonly stopping = new AbortController();
  /** Ranges of every partition share inserts through it. */
  private readonly coalescer: InsertCoalescer;

  constructor(private readonly options: PartitionWriterOptions) {
    if (!(options.rowsMax >= 1)) throw new RangeError(`rowsMax must be ≥ 1, got ${options.rowsMax}`);
    this.coalescer = new InsertCoalescer({
      rowsMax: options.rowsMax,
      insertsInFlightMax: options.insertsInFlightMax,
      intervalMs: options.lingerMs,
      source: options.source,
      inserter: options.inserter,
      signal: this.stopping.signal,
      ...(options.afterInsert === undefined ? {} : { afterInsert: options.afterInsert }),
    });
  }

  /** No new batch starts; a failing insert stops retrying; linger waits end. The batch in flight finishes. */
  beginShutdown(): void {
    this.stopping.abort();
  }

  readonly handle = async (batch: ConsumedBatch): Promise<void> => {
    if (this.stopping.signal.aborted)
      throw new InsertAbandonedError(`shutting down: ${batch.topic}/${batch.partition} left for later`);
    const startedMs = performance.now();
    await this.options.commitProcessed();
    const state = await this.stateFor(batch);
    const records = await this.recordsAfter(batch, state);
    if (records.length > 0) await this.writeRecords(batch, state, records);
    state.expectedOffset = batch.nextOffset;
    const position = Math.max(batch.nextOffset, state.insertedThrough + 1);
    this.lag.set(`${batch.topic}/${batch.partition}`, {
      topic: batch.topic,
      partition: batch.partition,
      records: Math.max(0, batch.highWatermark - position),
    });
    await this.linger(batch, startedMs);
  };

  /** The records in ranges of at most rowsMax, each without what ClickHouse holds, through the coalescer. */
  private async writeRecords(batch: ConsumedBatch, state: PartitionState, records: DecodedRecord[]): Promise<void> {
    const firstOffset = records[0]!.offset;
    const ranges = cutRanges({
      firstOffset,
      lastOffset: records[records.length - 1]!.offset,
      rowsMax: this.options.rowsMax,
    });
    const generation = state.generation;
    const abandon = () => this.stopping.signal.aborted || this.options.generation() !== generation;
    for (const [index, range] of ranges.entries()) {
      const slice = records.slice(range.first - firstOffset, range.last - firstOffset + 1);
      const checked = await this.checkRange(batch, slice, state.storedThrough);
      const rows = await this.withoutStored(batch.partition, range, checked, state.storedThrough);
      if (rows.rows.length > 0) {
        const caughtUp = index === ranges.length - 1 && batch.nextOffset >= batch.highWatermark;
        await this.coalescer.insert({
          partition: batch.partition,
          range,
          ...rows,
          abandon,
          caughtUp,
          revoked: batch.revoked,
        });
      }
      state.insertedThrough = Math.max(state.insertedThrough, range.last);
    }
  }

  /** The range's rows ClickHouse does not hold yet (all of them once past storedThrough). */
  private async withoutStored(
    partition: number,
    range: OffsetRange,
    checked: CheckedRows,
    storedThrough: number,
  ): Promise<CheckedRows> {
    if (range.first > storedThrough) return checked;
    const unstored = await this.options.stored.unstored(partition, checked, storedThrough);
    if (unstored.skipped > 0) {
      this.options.metrics.rowsSkippedStored.inc(unstored.skipped);
      this.options.logger.info(
        { topic: this.options.topic, partition, first: range.first, last: range.last, skipped: unstored.skipped },
        "skipped rows ClickHouse already holds",
      );
    }
    return unstored;
  }

  /** The partition's state, asked of ClickHouse anew after any membership change or jump. */
  private async stateFor(batch: ConsumedBatch): Promise<PartitionState> {
    const key = `${batch.topic}/${batch.partition}`;
    const generation = this.options.generation();
    const known = this.states.get(key);
    if (known !== undefined && known.generation === generation && known.expectedOffset === batch.firstOffset)
      return known;
    const storedThrough = await this.options.stored.storedThrough(batch.partition);
    if (storedThrough >= batch.firstOffset) {
      this.options.logger.info(
        { topic: batch.topic, partition: batch.partition, resumeOffset: batch.firstOffset, storedThrough },
        "resuming where rows are stored already: inserting only the missing ones",
      );
    }
    const state: PartitionState = {
      generation,
      expectedOffset: batch.firstOffset,
      storedThrough,
      insertedThrough: batch.firstOffset - 1,
    };
    this.states.set(key, state);
    return state;
  }

  /**
   * The range's valid rows; its bad records go to the dead-letter topic first, except
   * those at or below `storedThrough`: a later row of the partition is stored, and a
   * range's dead letters are sent before its insert, so those were sent already.
   */
  private async checkRange(
    batch: ConsumedBatch,
    records: readonly DecodedRecord[],
    storedThrough: number,
  ): Promise<CheckedRows> {
    const letters: DeadLetter[] = [];
    const checked = admittedRows(records, (record, verdict) => {
      if (record.offset <= storedThrough) return;
      const source = {
        topic: batch.topic,
        partition: batch.partition,
        offset: record.offset,
        key: record.key,
        value: record.value,
      };
      letters.push(
        deadLetterOf({ ...source, reason: verdict.reason, detail: verdict.detail, nowMs: this.options.clock() }),
      );
    });
    await this.options.deadLetters.send(letters);
    return checked;
  }

  /**
   * The batch's records after what this writer inserted, checked to be gapless. A
   * stored batch that cannot be decoded is dead-lettered whole here (unless a later
   * row of the partition is stored: then it was, before) and its offsets come back
   * as placeholders (stored-batches.ts), so the partition moves on.
   */
  private async recordsAfter(batch: ConsumedBatch, state: PartitionState): Promise<DecodedRecord[]> {
    const records: DecodedRecord[] = [];
    const setAside: SetAsideBatch[] = [];
    let next = Math.max(batch.firstOffset, state.insertedThrough + 1);
    const onRecord = (record: DecodedRecord) => {
      if (record.offset < next) return;
      if (record.offset !== next) {
        throw new Error(
          `${batch.topic}/${batch.partition}: offset ${record.offset} follows ${next - 1} (a gap in the log)`,
        );
      }
      records.push(record);
      next += 1;
    };
    forEachStoredRecord(batch.bytes, batch.firstOffset, onRecord, (stored) => {
      if (stored.lastOffset >= next && stored.lastOffset > state.storedThrough) setAside.push(stored);
    });
    const letters = setAside.map((stored) =>
      batchDeadLetterOf({ topic: batch.topic, partition: batch.partition, ...stored, nowMs: this.options.clock() }),
    );
    await this.options.deadLetters.send(letters);
    return records;
  }

  /**
   * A caught-up partition waits out the linger so the next fetch brings a fuller batch,
   * and at least until just before the next group may start: fetching right after an
   * insert would hold the rows that arrive meanwhile back until the group after next.
   */
  private async linger(batch: ConsumedBatch, startedMs: number): Promise<void> {
    if (this.options.lingerMs === 0 || batch.nextOffset < batch.highWatermark) return;
    const lingerLeftMs = this.options.lingerMs - (performance.now() - startedMs);
    const remainingMs = Math.max(lingerLeftMs, this.coalescer.msUntilNextGroup() - groupFetchLeadMs);
    if (remainingMs > 0) await sleep(remainingMs, this.stopping.signal);
  }
}

/** The rows of the records that can be inserted, with their offsets; each other one goes to `onRejected`. */
function admittedRows(
  records: readonly DecodedRecord[],
  onRejected: (record: DecodedRecord, verdict: RecordRejection) => void,
): CheckedRows {
  const rows: Uint8Array[] = [];
  const offsets: number[] = [];
  let rowBytes = 0;
  for (const record of records) {
    // Its whole batch was dead-lettered when it was read.
    if (isSetAside(record)) continue;
    const verdict = admitRecord(record.value);
    if (!verdict.ok) {
      onRejected(record, verdict);
      continue;
    }
    rows.push(verdict.row);
    offsets.push(record.offset);
    rowBytes += verdict.row.byteLength;
  }
  return { rows, offsets, rowBytes };
}
