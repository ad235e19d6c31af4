import type { PartitionClient } from "../../src/broker-client/partition-client.ts";
import type { DecodedRecord } from "../../src/broker-protocol/record-batch.ts";
import type { Logger } from "../../src/observability/logger.ts";
import { sleep } from "../../src/runtime/sleep.ts";
import { recordHeadBytes, scheduledRecordTag } from "../../src/telemetry/record-codec.ts";
import { readSafeInt64 } from "../../src/telemetry/row-binary.ts";
import type { BatchProducer, OwnershipView } from "./batch-producer.ts";
import type { StreamerMetrics } from "./metrics.ts";
import { readPartitionTail } from "./partition-tail.ts";
import { type Cursor, RowTable } from "./row-table.ts";
import { LoopSchedule } from "./schedule.ts";
import type { CsvFileSource, CsvPassSummary } from "./sources/csv-source.ts";

export interface ScheduledLoopOptions {
  source: CsvFileSource;
  path: string;
  batchProducer: BatchProducer;
  ownership: OwnershipView;
  partitionCount: number;
  /** Rows per second of the whole stream (all streamers together); 0 = as fast as the broker accepts. */
  rowsPerSecond: number;
  /** Rows due longer ago than this are skipped (and counted), at a take-over or after an outage. */
  catchUpMsMax: number;
  io: PartitionClient;
  topic: string;
  metrics: StreamerMetrics;
  logger: Logger;
  /** Wall clock, epoch ms: the schedule is shared by processes. */
  clock: () => number;
  signal: AbortSignal;
  /** A file that cannot be read is tried again after this. */
  retryWaitMs: number;
  /** How often the file is checked for a new version. */
  fileCheckIntervalMs: number;
}

/** Rows of one partition sent before the loop lets others (and timers) run. */
export const tickRowsMax = 2_000;
/** Longest wait between two looks at the schedule. */
const tickWaitMsMax = 20;
/** Records read back from a taken partition's end at most, and per step. */
export const tailRecordsMax = 50_000;
const tailWindowRecords = 2_000;
const tailFetchBytesMax = 4 * 1024 * 1024;

interface Rows {
  table: RowTable;
  schedule: LoopSchedule | undefined;
  contentHash: bigint;
}

/**
 * The CSV loop: the file's rows replayed forever on the schedule every streamer
 * shares (schedule.ts). Each partition this streamer owns has a cursor; every row
 * due at or before now is sent, stamped with its due time, in order. A partition
 * taken from another streamer resumes right after the last of its rows found in the
 * partition (partition-tail.ts), so nothing is sent twice and nothing is skipped;
 * rows due while nobody owned the partition are caught up at once (at most
 * `catchUpMsMax` of them). At rate 0 there is no time schedule: each partition's
 * rows go as fast as the broker takes them, stamped with the time they are sent,
 * and a new owner resumes after the last row found (by content) in the file order.
 */
export class ScheduledLoop {
  private rows: Rows | undefined;
  private readonly cursors = new Map<number, Cursor>();
  /** Partitions taken before the file could be loaded: their cursors are found once it is. */
  private readonly pending = new Set<number>();

  constructor(private readonly options: ScheduledLoopOptions) {
    if (!Number.isFinite(options.rowsPerSecond) || options.rowsPerSecond < 0)
      throw new RangeError(`rowsPerSecond ${options.rowsPerSecond} must be >= 0`);
  }

  /**
   * Called before the streamer starts sending a partition's rows: where to resume. A
   * partition taken before the file could be loaded gets its cursor once it is.
   */
  async takeOver(partitions: readonly number[]): Promise<void> {
    for (const partition of partitions) {
      if (this.rows === undefined) this.pending.add(partition);
      else await this.placeCursor(this.rows, partition);
    }
  }

  /** The partitions were let go of: a later owner of them starts from their tail again. */
  release(partitions: readonly number[]): void {
    for (const partition of partitions) {
      this.cursors.delete(partition);
      this.pending.delete(partition);
    }
  }

  private async placeCursor(rows: Rows, partition: number): Promise<void> {
    const cursor = await this.resumeCursor(rows, partition);
    if (cursor === undefined) this.cursors.delete(partition);
    else this.cursors.set(partition, cursor);
  }

  private async placePending(rows: Rows): Promise<void> {
    for (const partition of [...this.pending]) {
      await this.placeCursor(rows, partition);
      this.pending.delete(partition);
    }
  }

  /** Runs until the signal aborts. */
  async run(): Promise<void> {
    let checkedMs = Number.NEGATIVE_INFINITY;
    while (!this.options.signal.aborted) {
      if (performance.now() - checkedMs >= this.options.fileCheckIntervalMs || this.rows === undefined) {
        checkedMs = performance.now();
        if (!(await this.refreshRows())) {
          await sleep(this.options.retryWaitMs, this.options.signal);
          continue;
        }
      }
      const rows = this.rows as Rows;
      if (this.pending.size > 0) await this.placePending(rows);
      await this.tick(rows);
    }
  }

  /** How far behind its schedule the furthest-behind owned partition is, in ms (0 when none is). */
  lagMs(nowMs: number): number {
    const rows = this.rows;
    if (rows?.schedule === undefined) return 0;
    let lagMs = 0;
    for (const [partition, cursor] of this.cursors) {
      if (this.options.ownership.flags[partition] !== 1) continue;
      lagMs = Math.max(lagMs, nowMs - rows.schedule.dueMs(rows.table.position(partition, cursor)));
    }
    return lagMs;
  }

  /** Loads the file (again when it changed); false when it cannot be read now. */
  private async refreshRows(): Promise<boolean> {
    const { source, logger, path } = this.options;
    try {
      const loaded = await source.load();
      if (this.rows !== undefined && loaded.summary.contentHash === this.rows.contentHash) return true;
      const { batchProducer, partitionCount, rowsPerSecond } = this.options;
      const table = new RowTable(loaded.keys, loaded.tails, partitionCount, (key) =>
        batchProducer.partitionForKey(key),
      );
      const schedule =
        rowsPerSecond > 0 && table.rowCount > 0 ? new LoopSchedule(rowsPerSecond, table.rowCount) : undefined;
      const replaced = this.rows !== undefined;
      this.rows = { table, schedule, contentHash: loaded.summary.contentHash };
      this.reportLoad(loaded.summary);
      if (replaced) this.resnapCursors(table);
      return true;
    } catch (error) {
      logger.error({ err: error, path, retryWaitMs: this.options.retryWaitMs }, "CSV file unusable for the loop");
      return false;
    }
  }

  /** After a file change the positions stay; each cursor moves to its partition's next row in the new file. */
  private resnapCursors(table: RowTable): void {
    for (const [partition, cursor] of this.cursors) {
      const position = cursor.pass * table.rowCount;
      const next = table.cursorAt(partition, position);
      if (next === undefined) this.cursors.delete(partition);
      else this.cursors.set(partition, next);
    }
  }

  private async tick(rows: Rows): Promise<void> {
    const { ownership, clock } = this.options;
    const nowMs = clock();
    if (!ownership.live(nowMs)) {
      await sleep(tickWaitMsMax, this.options.signal);
      return;
    }
    const due = rows.schedule === undefined ? Number.POSITIVE_INFINITY : rows.schedule.lastDueAt(nowMs);
    let sent = 0;
    for (const [partition, cursor] of this.cursors) {
      if (ownership.flags[partition] !== 1) continue;
      this.skipTooOld(rows, partition, cursor, nowMs);
      sent += await this.sendDue(rows, partition, cursor, due);
    }
    if (sent > 0) {
      this.options.metrics.countProduced(sent);
      this.options.metrics.rowsRead.inc(sent);
    }
    await this.waitForNextDue(rows, sent, nowMs);
  }

  /** A cursor held back longer than the catch-up (a long broker outage) jumps to what is still within it. */
  private skipTooOld(rows: Rows, partition: number, cursor: Cursor, nowMs: number): void {
    if (rows.schedule === undefined) return;
    const floor = rows.schedule.lastDueAt(nowMs - this.options.catchUpMsMax) + 1;
    const position = rows.table.position(partition, cursor);
    if (position >= floor) return;
    this.reportSkipped(partition, rows.table, position, floor);
    const next = rows.table.cursorAt(partition, floor);
    if (next !== undefined) Object.assign(cursor, next);
  }

  /** Sends the partition's rows due by `due`, in order, at most tickRowsMax of them. */
  private async sendDue(rows: Rows, partition: number, cursor: Cursor, due: number): Promise<number> {
    const { table, schedule } = rows;
    const { batchProducer, ownership, clock } = this.options;
    const owned = () => ownership.flags[partition] === 1 && this.cursors.get(partition) === cursor;
    let sent = 0;
    while (sent < tickRowsMax) {
      const position = table.position(partition, cursor);
      if (position > due) break;
      const row = table.rowAt(partition, cursor);
      const tsMs = schedule === undefined ? clock() : schedule.dueMs(position);
      if (!(await batchProducer.sendRow(table.keys[row]!, table.tails[row]!, tsMs, owned))) break;
      table.advance(partition, cursor);
      sent += 1;
    }
    return sent;
  }

  /** At a rate, sleeps until the next row is due (a short while at most); at rate 0, yields. */
  private async waitForNextDue(rows: Rows, sent: number, nowMs: number): Promise<void> {
    if (rows.schedule === undefined) {
      if (sent === 0) await sleep(tickWaitMsMax, this.options.signal);
      else await new Promise<void>((resolve) => setImmediate(resolve));
      return;
    }
    let nextDueMs = Number.POSITIVE_INFINITY;
    for (const [partition, cursor] of this.cursors) {
      if (this.options.ownership.flags[partition] !== 1) continue;
      nextDueMs = Math.min(nextDueMs, rows.schedule.dueMs(rows.table.position(partition, cursor)));
    }
    const waitMs = Math.min(tickWaitMsMax, nextDueMs - nowMs);
    if (waitMs > 0) await sleep(waitMs, this.options.signal);
    else await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Where a partition taken now resumes: after its last row found in the partition, within the catch-up. */
  private async resumeCursor(rows: Rows, partition: number): Promise<Cursor | undefined> {
    const { table, schedule } = rows;
    if (table.rowCountOf(partition) === 0) return undefined;
    const tail = await readPartitionTail({
      io: this.options.io,
      topic: this.options.topic,
      partition,
      locate: (record) => this.locate(rows, record),
      recordsMax: tailRecordsMax,
      windowRecords: tailWindowRecords,
      fetchBytesMax: tailFetchBytesMax,
    });
    if (schedule === undefined) {
      // Rate 0: `place` is a row; the partition goes on after it, in file order.
      return table.cursorAt(partition, tail.place === undefined ? 0 : tail.place + 1);
    }
    const nowMs = this.options.clock();
    const floor = schedule.lastDueAt(nowMs - this.options.catchUpMsMax) + 1;
    const next = tail.place === undefined ? schedule.lastDueAt(nowMs) + 1 : tail.place + 1;
    const position = Math.max(floor, next);
    if (tail.place !== undefined && next < floor) this.reportSkipped(partition, table, next, floor);
    this.options.logger.info(
      { partition, lastPosition: tail.place ?? null, resumePosition: position, scanned: tail.scanned },
      tail.place === undefined
        ? "partition taken: no earlier row of the schedule found, starting now"
        : "partition taken: resuming after its last row",
    );
    return table.cursorAt(partition, position);
  }

  /** The schedule place of a record of this streamer's file: its position (at a rate) or its row (at rate 0). */
  private locate(rows: Rows, record: DecodedRecord): number | undefined {
    const value = record.value;
    // Only the schedule's own records: an upload or another producer of the same rows is not where it stands.
    if (value.byteLength <= recordHeadBytes || value[0] !== scheduledRecordTag) return undefined;
    const tail = value.subarray(recordHeadBytes);
    const matches = rows.table.rowsMatching(record.key, tail);
    if (matches.length === 0) return undefined;
    if (rows.schedule === undefined) return Math.max(...matches);
    const tsMs = readSafeInt64(new DataView(value.buffer, value.byteOffset + 1, 8), 0);
    let best: number | undefined;
    for (const row of matches) {
      const position = rows.schedule.positionAt(row, tsMs);
      if (position !== undefined && (best === undefined || position > best)) best = position;
    }
    return best;
  }

  /** Rows due longer ago than the catch-up allows are not sent: counted and logged. */
  private reportSkipped(partition: number, table: RowTable, from: number, until: number): void {
    const skipped = table.rowsBefore(partition, until) - table.rowsBefore(partition, from);
    this.options.metrics.rowsSkipped.inc(skipped);
    this.options.logger.warn(
      { partition, skipped, catchUpMsMax: this.options.catchUpMsMax },
      "rows due longer ago than the catch-up are skipped",
    );
  }

  private reportLoad(summary: CsvPassSummary): void {
    const { metrics, logger, path } = this.options;
    if (summary.fromCache) return;
    metrics.countRejected(summary.rejectedByReason);
    for (const rejection of summary.rejections.slice(0, 20)) {
      logger.warn({ path, line: rejection.line, reason: rejection.reason, detail: rejection.detail }, "row rejected");
    }
    logger.info(
      {
        path,
        accepted: summary.accepted,
        rejected: summary.rejectedByReason,
        lines: summary.lines,
        bytes: summary.bytes,
      },
      "CSV parsed",
    );
  }
}
