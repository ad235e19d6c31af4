import { Type } from "@sinclair/typebox";
import type { ConsumedBatch } from "../../../src/broker-client/consumed-batch.ts";
import type { BrokerHttp } from "../../../src/broker-client/http-client.ts";
import { queryRows, type RowsClient } from "../../../src/clickhouse/typed-query.ts";
import type { Logger } from "../../../src/observability/logger.ts";
import { Counter, Gauge, type Registry } from "../../../src/observability/metrics.ts";
import type { WallClock } from "../../../src/runtime/clock.ts";
import { sleep } from "../../../src/runtime/sleep.ts";
import { committedOffsets, describeTopic, fetchBatch, isOffsetOutOfRange } from "./broker-reads.ts";
import { InternerFullError } from "./byte-interner.ts";
import { FreshnessWindow } from "./freshness-window.ts";
import { TailColumns } from "./tail-columns.ts";
import type { TailDictionary } from "./tail-dictionary.ts";
import { TailRecordReader } from "./tail-record-reader.ts";
import type { TailStore } from "./tail-store.ts";

/**
 * Keeps the tail store equal to what ClickHouse holds from the horizon on, by reading
 * the telemetry topic as the collectors do and letting a record in only once the
 * collectors' group has committed past it: a committed record is in ClickHouse (they
 * insert, then commit), and a record the collectors dead-letter is refused here by
 * the same decoder. So the store is never ahead of ClickHouse; it can be behind by
 * the rows inserted but not yet committed (normally milliseconds).
 *
 * A sync reads the committed offsets first, then ClickHouse's newest part time: every
 * record before those offsets is in ClickHouse and older than the horizon set just
 * past that time, and every later record is read from the topic. Whatever breaks that
 * reasoning starts a new sync: a committed offset that moves back (a reset), a
 * partition's first commit, retention passing the read position, a new partition.
 * While the store is behind the committed offsets (or syncing) it answers nothing,
 * and ClickHouse serves every window.
 *
 * The datapoint streams do not wait for commits: they get each record as it is
 * fetched (onArrived), so what a chart shows live may run up to the collectors'
 * insert-and-commit delay ahead of what the telemetry endpoint returns.
 */

export interface LiveTailOptions {
  http: BrokerHttp;
  topic: string;
  group: string;
  store: TailStore;
  clickhouse: RowsClient;
  commitPollMs: number;
  fetchWaitMs: number;
  fetchBytesMax: number;
  /** Records read but not yet committed, over all partitions; reading pauses above it. */
  pendingRecordsMax: number;
  clock: WallClock;
  logger: Logger;
  registry: Registry;
  /**
   * Rows as they arrive from the broker, before the collectors insert them (each once,
   * also across syncs): the datapoint streams, which show a datapoint as soon as it is
   * safe in the broker rather than when a collector's commit makes it queryable. The
   * rows are `rows` [from, to), valid during the call only; ids are `names`'.
   */
  onArrived: (rows: ArrivedRows) => void;
}

export interface ArrivedRows {
  columns: TailColumns;
  from: number;
  to: number;
  names: TailDictionary;
}

export type LiveTailState = "syncing" | "live" | "catching_up" | "stopped";

export interface LiveTailStatus {
  state: LiveTailState;
  horizonMs: number | undefined;
  rows: number;
  gpus: number;
  syncs: number;
  lastError: string | undefined;
}

/** A reason to start over; not an error worth a backoff. */
class Resync extends Error {
  override name = "Resync";
}

interface PartitionTail {
  partition: number;
  position: number;
  committed: number | undefined;
  /** Records read and not yet committed, in offset order. */
  pending: TailColumns;
}

const retryMsMin = 200;
const retryMsMax = 5_000;
const freshnessSamplesPerPoll = 8;
/** A partition is fetched at most this often while records flow (the streams' added delay at worst). */
const fetchIntervalMsMin = 25;

export class LiveTail {
  private state: LiveTailState = "syncing";
  private running: Promise<void> | undefined;
  private readonly stopping = new AbortController();
  private syncs = 0;
  private lastError: string | undefined;
  readonly freshness = new FreshnessWindow(4_096);
  /** Per partition, one past the last offset handed to onArrived: a new sync reads some again. */
  private readonly arrivedThrough = new Map<number, number>();
  private readonly reader = new TailRecordReader();
  private readonly resyncs: Counter<"reason">;
  private readonly visibleRows: Counter;

  constructor(private readonly options: LiveTailOptions) {
    const registers = [options.registry];
    this.resyncs = new Counter({
      name: "api_live_tail_syncs_total",
      help: "times the live tail started over from the committed offsets, by reason",
      labelNames: ["reason"],
      registers,
    });
    this.visibleRows = new Counter({
      name: "api_live_tail_rows_total",
      help: "datapoints that entered the live tail (committed by the collectors)",
      registers,
    });
    const tail = this;
    new Gauge({
      name: "api_live_tail_held_rows",
      help: "datapoints the live tail holds",
      registers,
      collect() {
        this.set(tail.options.store.rowCount);
      },
    });
  }

  start(): void {
    if (this.running !== undefined) throw new Error("LiveTail already started");
    this.running = this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
    this.state = "stopped";
  }

  status(): LiveTailStatus {
    const { store } = this.options;
    return {
      state: this.state,
      horizonMs: store.horizonMs,
      rows: store.rowCount,
      gpus: store.gpuCount,
      syncs: this.syncs,
      lastError: this.lastError,
    };
  }

  private async run(): Promise<void> {
    let failures = 0;
    let reason = "start";
    while (!this.stopping.signal.aborted) {
      this.state = "syncing";
      this.options.store.setLive(false);
      this.syncs += 1;
      this.resyncs.inc({ reason });
      try {
        await this.follow();
      } catch (error) {
        if (this.stopping.signal.aborted) break;
        const resync = error instanceof Resync;
        failures = resync ? 0 : failures + 1;
        reason = resync ? (error.message.split(":")[0] ?? "resync") : "error";
        this.lastError = resync ? undefined : describe(error);
        this.options.logger[resync ? "info" : "warn"]({ err: describe(error) }, "live tail starts over");
        await sleep(resync ? 0 : Math.min(retryMsMax, retryMsMin * 2 ** Math.min(failures, 5)), this.stopping.signal);
      }
    }
    this.options.store.setLive(false);
  }

  /** One sync and everything after it, until something calls for a new one. */
  private async follow(): Promise<void> {
    const { http, topic, group, store } = this.options;
    const described = await describeTopic(http, topic);
    if (described === undefined) throw new Error(`topic ${topic} does not exist yet`);
    const { offsets, resetPolicy } = await committedOffsets(http, group, topic);
    const horizonMs = await newestPartTimeMs(this.options.clickhouse);
    store.reset(horizonMs);
    // A partition the group never committed is read from where the group will start it:
    // with "earliest" every record from the log start will be inserted, so that is the
    // baseline; otherwise its first commit says where, and calls for a new sync. A group
    // that does not exist yet is taken to start at the earliest offset, as collectors do.
    const earliest = (resetPolicy ?? "earliest") === "earliest";
    const partitions: PartitionTail[] = described.partitions.map((info) => {
      const committed = offsets.get(info.partition) ?? (earliest ? info.logStartOffset : undefined);
      const pending = new TailColumns(this.options.pendingRecordsMax);
      return { partition: info.partition, position: committed ?? info.highWatermark, committed, pending };
    });
    this.options.logger.info({ horizonMs, partitions: partitions.length }, "live tail synced");
    const epoch = new AbortController();
    const signal = AbortSignal.any([epoch.signal, this.stopping.signal]);
    const loops = [...partitions.map((partition) => this.fetchLoop(partition, partitions.length, signal))];
    loops.push(this.commitLoop(partitions, signal));
    try {
      await Promise.race(loops);
    } finally {
      epoch.abort();
      await Promise.allSettled(loops);
    }
  }

  private async fetchLoop(tail: PartitionTail, partitionCount: number, signal: AbortSignal): Promise<void> {
    const pendingMax = Math.max(1, Math.floor(this.options.pendingRecordsMax / partitionCount));
    let failures = 0;
    while (!signal.aborted) {
      if (tail.pending.size >= pendingMax) {
        await sleep(this.options.commitPollMs, signal);
        continue;
      }
      try {
        const startedMs = performance.now();
        const batch = await fetchBatch(this.options.http, {
          topic: this.options.topic,
          partition: tail.partition,
          offset: tail.position,
          bytesMax: this.options.fetchBytesMax,
          waitMs: this.options.fetchWaitMs,
          signal,
        });
        failures = 0;
        if (batch === undefined) continue;
        this.take(tail, batch);
        // Records keep arriving: wait a little so each fetch brings more of them, not one each.
        await sleep(Math.max(0, fetchIntervalMsMin - (performance.now() - startedMs)), signal);
      } catch (error) {
        if (signal.aborted) return;
        if (isOffsetOutOfRange(error)) throw new Resync(`retention: partition ${tail.partition} moved past the tail`);
        if (error instanceof InternerFullError) throw new Resync(`dictionary: ${error.message}`);
        failures += 1;
        this.lastError = describe(error);
        await sleep(Math.min(retryMsMax, retryMsMin * 2 ** Math.min(failures, 5)), signal);
      }
    }
  }

  /**
   * Reads a fetched batch into the partition's pending rows, decoding only the fields
   * the tail keeps (tail-record-reader.ts): about a microsecond a record and no object
   * per record, so a whole fetch (fetchBytesMax) is read in one go.
   */
  private take(tail: PartitionTail, batch: ConsumedBatch): void {
    const names = this.options.store.dictionary;
    const arrivedThrough = this.arrivedThrough.get(tail.partition) ?? 0;
    const pending = tail.pending;
    // Offsets ascend, so the rows not handed on before are the last ones read (appending may compact the front).
    let arrived = 0;
    batch.forEachRecord((record) => {
      if (this.reader.read(record.value, record.offset, names, pending) && record.offset >= arrivedThrough)
        arrived += 1;
    });
    tail.position = Math.max(tail.position, batch.nextOffset);
    this.arrivedThrough.set(tail.partition, Math.max(arrivedThrough, tail.position));
    if (arrived > 0)
      this.options.onArrived({ columns: pending, from: pending.length - arrived, to: pending.length, names });
  }

  private async commitLoop(partitions: PartitionTail[], signal: AbortSignal): Promise<void> {
    const { http, group, topic, store } = this.options;
    while (!signal.aborted) {
      let offsets: Map<number, number>;
      try {
        offsets = (await committedOffsets(http, group, topic)).offsets;
      } catch (error) {
        if (signal.aborted) return;
        this.lastError = describe(error);
        await sleep(retryMsMin, signal);
        continue;
      }
      const visible = this.advance(partitions, offsets);
      this.visibleRows.inc(visible);
      const caughtUp = partitions.every((tail) => tail.committed === undefined || tail.position >= tail.committed);
      store.setLive(caughtUp);
      this.state = caughtUp ? "live" : "catching_up";
      store.maintain(this.options.clock());
      await sleep(this.options.commitPollMs, signal);
    }
  }

  /** Applies new committed offsets: the rows they made visible move from pending to the store. */
  private advance(partitions: PartitionTail[], offsets: ReadonlyMap<number, number>): number {
    for (const partition of offsets.keys()) {
      if (partition >= partitions.length) throw new Resync(`partitions: ${partition} is new`);
    }
    const nowMs = this.options.clock();
    let visible = 0;
    for (const tail of partitions) {
      const committed = offsets.get(tail.partition);
      if (tail.committed === undefined) {
        if (committed !== undefined) throw new Resync(`first commit: partition ${tail.partition}`);
        continue;
      }
      if (committed === undefined) continue;
      if (committed < tail.committed) {
        throw new Resync(`rewind: partition ${tail.partition} committed ${committed} after ${tail.committed}`);
      }
      tail.committed = committed;
      const count = tail.pending.countBelow(committed);
      if (count === 0) continue;
      this.sampleFreshness(tail.pending, count, nowMs);
      this.options.store.append(tail.pending, count);
      visible += count;
    }
    return visible;
  }

  private sampleFreshness(pending: TailColumns, count: number, nowMs: number): void {
    const step = Math.max(1, Math.floor(count / freshnessSamplesPerPoll));
    for (let index = pending.first; index < pending.first + count; index += step) {
      this.freshness.add(nowMs, nowMs - (pending.ts[index] ?? nowMs));
    }
  }
}

const NewestPartRow = Type.Object({ max_time: Type.String({ pattern: "^[0-9]+$" }) });

/**
 * Just past the newest datapoint ClickHouse holds: part bounds are whole seconds
 * rounded down, so one second past the newest bound is past every row.
 */
async function newestPartTimeMs(client: RowsClient): Promise<number> {
  const rows = await queryRows(client, {
    name: "newest datapoints part",
    sql: `SELECT max(max_time) AS max_time FROM system.parts
WHERE database = currentDatabase() AND table = 'datapoints' AND active
SETTINGS date_time_output_format = 'unix_timestamp'`,
    params: {},
    row: NewestPartRow,
    rowsMax: 1,
  });
  return (Number(rows[0]?.max_time ?? 0) + 1) * 1000;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
