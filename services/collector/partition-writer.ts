import type { ConsumedBatch } from "../../src/broker-client/consumed-batch.ts";
import type { PartitionClient } from "../../src/broker-client/partition-client.ts";
import type { DecodedRecord } from "../../src/broker-protocol/record-batch.ts";
import { groupDedupToken } from "../../src/clickhouse/datapoints-insert.ts";
import type { Logger } from "../../src/observability/logger.ts";
import { sleep } from "../../src/runtime/sleep.ts";
import { type BatchInserter, InsertAbandonedError } from "./batch-inserter.ts";
import { cutRanges } from "./batch-ranges.ts";
import { batchDeadLetterOf, type DeadLetter, type DeadLetterSink, deadLetterOf } from "./dead-letters.ts";
import { type CheckedRows, concatGroupRows, InsertCoalescer } from "./insert-coalescer.ts";
import type { InsertIntentLog } from "./insert-intents.ts";
import type { GroupMember, InsertIntent, OffsetRange } from "./offset-range.ts";
import { admitRecord, type RecordAdmission } from "./record-validation.ts";
import { planRecovery } from "./recovery-plan.ts";
import { decodeStoredRecords, forEachStoredRecord, isSetAside, type SetAsideBatch } from "./stored-batches.ts";

type RecordRejection = Extract<RecordAdmission, { ok: false }>;

export interface PartitionWriterOptions {
  topic: string;
  rowsMax: number;
  lingerMs: number;
  fetchBytesMax: number;
  intents: InsertIntentLog;
  io: PartitionClient;
  /** Replays of announced ranges go straight here; fresh ranges through the coalescer. */
  inserter: BatchInserter;
  /** Grouped inserts running at once. */
  insertsInFlightMax: number;
  deadLetters: DeadLetterSink;
  logger: Logger;
  clock: () => number;
  /** Commits every offset the consumer has processed; awaited before new ranges are announced. */
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
  /** Offsets through this one are in ClickHouse (recovery, or a range read past a batch's end). */
  skipThroughOffset: number;
  /** Intents found in the log at recovery and not re-inserted yet, in order. */
  announced: InsertIntent[];
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
 * Effectively once. Each insert carries the token topic/partition/first-last, and the
 * datapoints table deduplicates tokens, so inserting one range twice stores it once.
 * What remains is to make a replay insert the same ranges: they are cut by row count
 * but also by what a fetch returned and by linger, which no replay can recompute. So
 * the ranges are announced in a write-ahead intent log (insert-intents.ts) before they
 * are inserted, and a new owner of the partition re-inserts the announced ranges first
 * (recovery-plan.ts). Normally only the last batch's ranges are uncommitted, because a
 * batch commits the previous one's offsets before it announces anything; if commits
 * fail for a while, recovery follows the chain of intents from the committed offset.
 */
export class PartitionWriter {
  private readonly states = new Map<string, PartitionState>();
  readonly lag = new Map<string, PartitionLag>();
  private readonly stopping = new AbortController();
  /** Fresh ranges of every partition share inserts through it. */
  private readonly coalescer: InsertCoalescer;

  constructor(private readonly options: PartitionWriterOptions) {
    if (!(options.rowsMax >= 1)) throw new RangeError(`rowsMax must be ≥ 1, got ${options.rowsMax}`);
    this.coalescer = new InsertCoalescer({
      topic: options.topic,
      rowsMax: options.rowsMax,
      insertsInFlightMax: options.insertsInFlightMax,
      intervalMs: options.lingerMs,
      intents: options.intents,
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
    const records = await this.recordsToWrite(batch, state);
    if (records.length > 0) await this.writeRecords(batch, state, records);
    state.expectedOffset = batch.nextOffset;
    const position = Math.max(batch.nextOffset, state.skipThroughOffset + 1);
    this.lag.set(`${batch.topic}/${batch.partition}`, {
      topic: batch.topic,
      partition: batch.partition,
      records: Math.max(0, batch.highWatermark - position),
    });
    await this.linger(batch, startedMs);
  };

  /** Replays what recovery found announced, exactly; hands the rest to the coalescer range by range. */
  private async writeRecords(batch: ConsumedBatch, state: PartitionState, records: DecodedRecord[]): Promise<void> {
    const firstOffset = records[0]!.offset;
    const ranges = cutRanges({
      firstOffset,
      lastOffset: records[records.length - 1]!.offset,
      rowsMax: this.options.rowsMax,
      announced: state.announced,
    });
    const replays = state.announced.length;
    const generation = state.generation;
    const abandon = () => this.stopping.signal.aborted || this.options.generation() !== generation;
    for (const [index, range] of ranges.entries()) {
      const checked = await this.checkRange(
        batch,
        records.slice(range.first - firstOffset, range.last - firstOffset + 1),
      );
      if (index < replays) {
        await this.replay(batch, range, checked, abandon);
        state.announced.shift();
      } else {
        const caughtUp = index === ranges.length - 1 && batch.nextOffset >= batch.highWatermark;
        await this.coalescer.insert({
          partition: batch.partition,
          range,
          ...checked,
          abandon,
          caughtUp,
          revoked: batch.revoked,
        });
      }
      state.skipThroughOffset = Math.max(state.skipThroughOffset, range.last);
    }
  }

  /** The partition's state, rebuilt from the intent log after any membership change or jump. */
  private async stateFor(batch: ConsumedBatch): Promise<PartitionState> {
    const key = `${batch.topic}/${batch.partition}`;
    const generation = this.options.generation();
    const known = this.states.get(key);
    if (known !== undefined && known.generation === generation && known.expectedOffset === batch.firstOffset)
      return known;
    const intents = await this.options.intents.readSince(batch.partition, batch.firstOffset);
    const plan = planRecovery(batch.firstOffset, intents);
    if (plan.skipThroughOffset >= 0 || plan.announced.length > 0) {
      this.options.logger.info(
        { topic: batch.topic, partition: batch.partition, resumeOffset: batch.firstOffset, ...plan },
        "resuming after an unfinished batch: re-inserting its announced ranges",
      );
    }
    const state: PartitionState = {
      generation,
      expectedOffset: batch.firstOffset,
      skipThroughOffset: plan.skipThroughOffset,
      announced: plan.announced,
    };
    this.states.set(key, state);
    return state;
  }

  /**
   * The batch's records not yet in ClickHouse, extended to the end of the last announced
   * range. A stored batch that cannot be decoded is dead-lettered whole here and its
   * offsets come back as placeholders (stored-batches.ts), so the partition moves on.
   */
  private async recordsToWrite(batch: ConsumedBatch, state: PartitionState): Promise<DecodedRecord[]> {
    const records: DecodedRecord[] = [];
    const setAside: SetAsideBatch[] = [];
    let next = Math.max(batch.firstOffset, state.skipThroughOffset + 1);
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
      if (stored.lastOffset >= next) setAside.push(stored);
    });
    await this.deadLetterBatches(batch, setAside);
    const announcedLast = state.announced[state.announced.length - 1]?.last ?? -1;
    if (announcedLast >= next) {
      const more = await this.options.io.readRange({
        topic: batch.topic,
        partition: batch.partition,
        fromOffset: next,
        throughOffset: announcedLast,
        fetchBytesMax: this.options.fetchBytesMax,
        decode: decodeStoredRecords,
      });
      for (const record of more.records) records.push(record);
    }
    return records;
  }

  private async deadLetterBatches(batch: ConsumedBatch, setAside: readonly SetAsideBatch[]): Promise<void> {
    const letters = setAside.map((stored) =>
      batchDeadLetterOf({ topic: batch.topic, partition: batch.partition, ...stored, nowMs: this.options.clock() }),
    );
    await this.options.deadLetters.send(letters);
  }

  /** The range's valid rows; its bad records go to the dead-letter topic first. */
  private async checkRange(batch: ConsumedBatch, records: readonly DecodedRecord[]): Promise<CheckedRows> {
    const letters: DeadLetter[] = [];
    const checked = admittedRows(records, (record, verdict) => {
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
   * Inserts an announced range again as it was first inserted: alone, or with the other
   * partitions' ranges of its group (read back from the broker), under the same token.
   * Another owner may replay the same group at the same time; ClickHouse keeps one copy.
   */
  private async replay(
    batch: ConsumedBatch,
    intent: InsertIntent,
    own: CheckedRows,
    abandon: () => boolean,
  ): Promise<void> {
    const members: GroupMember[] = intent.group ?? [
      { partition: batch.partition, first: intent.first, last: intent.last },
    ];
    const parts: CheckedRows[] = [];
    for (const member of members)
      parts.push(member.partition === batch.partition ? own : await this.memberRows(batch.topic, member));
    const rows = parts.reduce((sum, part) => sum + part.rows.length, 0);
    if (rows > 0) {
      await this.options.inserter.insert({
        body: concatGroupRows(parts),
        rows,
        dedupToken: groupDedupToken(batch.topic, members),
        abandon,
        signal: this.stopping.signal,
      });
    }
    this.options.afterInsert?.(batch.partition, intent);
  }

  /** Another partition's rows of a group, as its owner would have checked them (its dead letters are its own). */
  private async memberRows(topic: string, member: GroupMember): Promise<CheckedRows> {
    const read = await this.options.io.readRange({
      topic,
      partition: member.partition,
      fromOffset: member.first,
      throughOffset: member.last,
      fetchBytesMax: this.options.fetchBytesMax,
      decode: decodeStoredRecords,
    });
    return admittedRows(read.records, () => undefined);
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

/** The rows of the records that can be inserted; each other one goes to `onRejected`. */
function admittedRows(
  records: readonly DecodedRecord[],
  onRejected: (record: DecodedRecord, verdict: RecordRejection) => void,
): CheckedRows {
  const rows: Uint8Array[] = [];
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
    rowBytes += verdict.row.byteLength;
  }
  return { rows, rowBytes };
}
