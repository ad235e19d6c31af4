import type { SourceSuffix } from "../../src/clickhouse/source-columns.ts";
import { type MonotonicClock, monotonicMs, realTimer, type Timer } from "../../src/runtime/clock.ts";
import { type BatchInserter, InsertAbandonedError } from "./batch-inserter.ts";
import { groupMembersMax, type OffsetRange } from "./offset-range.ts";
import { sourceDedupToken } from "./source-token.ts";

/** Valid rows as RowBinary, the offset of each, and their total size. */
export interface CheckedRows {
  rows: readonly Uint8Array[];
  /** The source offset of each row, ascending (rows of rejected records are absent). */
  offsets: readonly number[];
  rowBytes: number;
}

/** One partition's range, checked and ready. */
export interface CoalescedRange extends CheckedRows {
  partition: number;
  range: OffsetRange;
  /** Checked after a failed attempt: true gives the insert up (shutdown, rebalance); any member can. */
  abandon: () => boolean;
  /** The partition had nothing more to read: only then may the insert wait for pacing. */
  caughtUp: boolean;
  /**
   * Aborted when the partition is being taken away: a range still waiting is dropped at
   * once (nothing of it was inserted; the next owner reads it again), so a rebalance
   * does not wait for inserts queued ahead of it.
   */
  revoked?: AbortSignal;
}

export interface InsertCoalescerOptions {
  /** Rows of one insert at most; a single range larger than this still goes alone. */
  rowsMax: number;
  /** Inserts running at once; the ranges submitted meanwhile form the next ones. */
  insertsInFlightMax: number;
  /**
   * A group starts at least this long after the previous one started, unless rowsMax rows
   * are waiting or a waiting partition is behind (has more to read): at a trickle a
   * collector then inserts about once per interval instead of as often as the engine
   * allows (each insert has a fixed cost), and a backlog is never held back. 0: no pacing.
   */
  intervalMs: number;
  /** The source columns every row gets (topic, partition, offset). */
  source: SourceSuffix;
  inserter: BatchInserter;
  signal: AbortSignal;
  /** After a range is safely in ClickHouse, before its offsets are committed. */
  afterInsert?: (partition: number, range: OffsetRange) => void;
  /** Pacing and insert durations run on it (monotonicMs by default; a ManualClock's `now` in tests). */
  clock?: MonotonicClock;
  /** Ends a pacing wait; belongs to `clock` (realTimer by default; the ManualClock's `timer` in tests). */
  timer?: Timer;
}

/**
 * Paced inserts are also spaced by this many times the recent insert duration: a
 * collector spends at most about a third of its time in inserts while rows trickle in,
 * so a slow or shared ClickHouse gets fewer, larger inserts instead of a queue.
 */
export const pacingDurationFactor = 3;
/** Weight of the newest insert in the duration average. */
const durationWeight = 0.3;

interface Waiting {
  entry: CoalescedRange;
  resolve: () => void;
  reject: (error: unknown) => void;
  /** Removed once the range leaves the queue: the revoked signal lives as long as its partition. */
  onRevoked?: () => void;
}

/**
 * Group commit for inserts. Every partition of a collector hands its ranges here and
 * waits; the ranges of different partitions that are waiting together go into ONE
 * insert. Each insert is a new part in the table and in every view's target, a fixed
 * cost of tens of ms in the embedded engine whatever the row count, so one insert per
 * partition per linger (12 partitions: 120 inserts/s at a 100 ms linger) queued up and
 * made rows visible seconds late; grouped, a collector inserts about once per
 * insert-duration, however many partitions it owns.
 *
 * Exactly once does not depend on how ranges are grouped: every row carries its
 * source (topic, partition, offset), and a new owner of a partition skips the offsets
 * ClickHouse holds (partition-writer.ts). What this class must keep is the order
 * within a partition: a partition is in at most one insert, waiting or running, at a
 * time, so a later range of a partition is never stored before an earlier one that
 * could still fail (asserted in `insert`). The insert's token names exactly the rows
 * of its body, so a retry of the same body is stored once.
 */
export class InsertCoalescer {
  private readonly waiting: Waiting[] = [];
  /** Partitions with a range in a running insert. */
  private readonly inserting = new Set<number>();
  private running = 0;
  private lastStartMs = Number.NEGATIVE_INFINITY;
  private insertMsAverage = 0;
  /** Cancels the armed pacing wait; undefined when none is armed. */
  private cancelPacing: (() => void) | undefined;
  private readonly clock: MonotonicClock;
  private readonly timer: Timer;
  /** Ranges waiting for an insert at most: far above one per partition, which is what a collector has. */
  private readonly waitingRangesMax: number;

  constructor(private readonly options: InsertCoalescerOptions) {
    if (!(options.rowsMax >= 1)) throw new RangeError(`rowsMax must be ≥ 1, got ${options.rowsMax}`);
    if (!(options.insertsInFlightMax >= 1))
      throw new RangeError(`insertsInFlightMax must be ≥ 1, got ${options.insertsInFlightMax}`);
    this.waitingRangesMax = groupMembersMax * options.insertsInFlightMax * 4;
    this.clock = options.clock ?? monotonicMs;
    this.timer = options.timer ?? realTimer;
    // Shutting down ends pacing: what waits is inserted now, so SIGTERM does not wait out an interval.
    options.signal.addEventListener("abort", () => this.endPacing(), { once: true });
  }

  /** Ranges waiting for an insert to take them. */
  get waitingRangeCount(): number {
    return this.waiting.length;
  }

  /** Resolves once the range is in ClickHouse; rejects if its insert failed or was given up. */
  insert(entry: CoalescedRange): Promise<void> {
    if (this.waiting.some((other) => other.entry.partition === entry.partition)) {
      throw new Error(`partition ${entry.partition} already has a range waiting (one at a time, in offset order)`);
    }
    if (this.inserting.has(entry.partition)) {
      throw new Error(
        `partition ${entry.partition} already has a range being inserted (one at a time, in offset order)`,
      );
    }
    if (this.waiting.length >= this.waitingRangesMax) {
      throw new Error(`${this.waiting.length} ranges already wait for an insert`);
    }
    if (this.dropsRevoked(entry)) return Promise.reject(new InsertAbandonedError(revokedMessage(entry)));
    return new Promise<void>((resolve, reject) => {
      const waiting: Waiting = { entry, resolve, reject };
      if (entry.revoked !== undefined) {
        waiting.onRevoked = () => this.dropWaiting(waiting);
        entry.revoked.addEventListener("abort", waiting.onRevoked, { once: true });
      }
      this.waiting.push(waiting);
      this.startInserts();
    });
  }

  /**
   * A revoked partition's waiting range is dropped, except while the collector shuts
   * down (`signal`): then every fetcher is stopped too, and what was queued is finished
   * and committed, as SIGTERM promises.
   */
  private dropsRevoked(entry: CoalescedRange): boolean {
    return entry.revoked?.aborted === true && !this.options.signal.aborted;
  }

  private dropWaiting(waiting: Waiting): void {
    if (!this.dropsRevoked(waiting.entry)) return;
    const index = this.waiting.indexOf(waiting);
    if (index < 0) return;
    this.waiting.splice(index, 1);
    waiting.reject(new InsertAbandonedError(revokedMessage(waiting.entry)));
  }

  private endPacing(): void {
    this.cancelPacing?.();
    this.cancelPacing = undefined;
    this.startInserts();
  }

  private startInserts(): void {
    while (this.running < this.options.insertsInFlightMax && this.waiting.length > 0) {
      const paceMs = this.msUntilNextGroup();
      if (paceMs > 0 && !this.options.signal.aborted && this.onlyTrickling()) {
        this.cancelPacing ??= this.timer(paceMs, () => {
          this.cancelPacing = undefined;
          this.startInserts();
        });
        return;
      }
      this.lastStartMs = this.clock();
      const group = this.takeGroup();
      this.running += 1;
      void this.insertGroup(group).finally(() => {
        this.running -= 1;
        this.startInserts();
      });
    }
  }

  /** How long until a paced group may start (0: now). */
  msUntilNextGroup(): number {
    return Math.max(0, this.lastStartMs + this.pacingIntervalMs() - this.clock());
  }

  /** 0 when pacing is off; else the interval, widened when inserts are slow. */
  pacingIntervalMs(): number {
    if (this.options.intervalMs === 0) return 0;
    return Math.max(this.options.intervalMs, pacingDurationFactor * this.insertMsAverage);
  }

  /** Every waiting partition is caught up and together they hold less than a full insert. */
  private onlyTrickling(): boolean {
    let rows = 0;
    for (const { entry } of this.waiting) {
      if (!entry.caughtUp) return false;
      rows += entry.rows.length;
    }
    return rows < this.options.rowsMax;
  }

  /** The oldest waiting ranges, one per partition, within rowsMax rows (at least one range). */
  private takeGroup(): Waiting[] {
    const group: Waiting[] = [];
    let rows = 0;
    while (this.waiting.length > 0 && group.length < groupMembersMax) {
      const next = this.waiting[0] as Waiting;
      if (group.length > 0 && rows + next.entry.rows.length > this.options.rowsMax) break;
      group.push(next);
      rows += next.entry.rows.length;
      this.waiting.shift();
      if (next.onRevoked !== undefined) next.entry.revoked?.removeEventListener("abort", next.onRevoked);
    }
    return group;
  }

  private observeInsertMs(durationMs: number): void {
    this.insertMsAverage =
      this.insertMsAverage === 0
        ? durationMs
        : (1 - durationWeight) * this.insertMsAverage + durationWeight * durationMs;
  }

  private async insertGroup(group: readonly Waiting[]): Promise<void> {
    for (const { entry } of group) this.inserting.add(entry.partition);
    try {
      const members = group.map(({ entry }) => entry);
      const rows = members.reduce((sum, entry) => sum + entry.rows.length, 0);
      if (rows > 0) {
        const startedMs = this.clock();
        await this.options.inserter.insert({
          body: concatGroupRows(members, this.options.source),
          rows,
          dedupToken: sourceDedupToken(this.options.source.topic, members),
          abandon: () => members.some((entry) => entry.abandon()),
          signal: this.options.signal,
        });
        this.observeInsertMs(this.clock() - startedMs);
      }
      for (const entry of members) this.options.afterInsert?.(entry.partition, entry.range);
      for (const waiting of group) waiting.resolve();
    } catch (error) {
      for (const waiting of group) waiting.reject(error);
    } finally {
      for (const { entry } of group) this.inserting.delete(entry.partition);
    }
  }
}

function revokedMessage(entry: CoalescedRange): string {
  return `partition ${entry.partition} range ${entry.range.first}-${entry.range.last} dropped before its insert: the partition is being revoked`;
}

/**
 * The members' rows back to back, in member order, with one allocation, each row
 * followed by its source columns (the record's row itself is copied as it is).
 */
export function concatGroupRows(
  entries: readonly (CheckedRows & { partition: number })[],
  source: SourceSuffix,
): Uint8Array {
  let bytes = 0;
  for (const entry of entries) {
    if (entry.offsets.length !== entry.rows.length)
      throw new Error(`partition ${entry.partition}: ${entry.rows.length} rows but ${entry.offsets.length} offsets`);
    bytes += entry.rowBytes + entry.rows.length * source.bytesPerRow;
  }
  const body = new Uint8Array(bytes);
  const view = new DataView(body.buffer);
  let position = 0;
  for (const entry of entries) {
    for (const [index, row] of entry.rows.entries()) {
      body.set(row, position);
      position = source.write(body, view, position + row.byteLength, entry.partition, entry.offsets[index] as number);
    }
  }
  if (position !== body.byteLength) throw new Error(`group rows filled ${position} bytes, expected ${body.byteLength}`);
  return body;
}
