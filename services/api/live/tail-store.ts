import type { TelemetryCursor, TelemetryPointRow } from "../../../src/clickhouse/telemetry-page.ts";
import type { WorkloadFilter } from "../../../src/clickhouse/workload-filter.ts";
import type { TailColumns } from "./tail-columns.ts";
import { migSeparator, seriesName, TailDictionary } from "./tail-dictionary.ts";

export { compareUtf8 } from "./tail-dictionary.ts";

/**
 * The recent datapoints every GPU and MIG instance has in ClickHouse, in memory: what
 * serves live windows (end = now) without a query.
 *
 * The store is complete from its horizon on: it holds every datapoint with
 * ts >= horizonMs that ClickHouse holds from the offsets the collectors committed
 * (live-tail.ts decides what enters, and when). Rows older than the horizon are
 * ClickHouse's to answer. The horizon only moves forward: past `spanMs` before now,
 * and further when more than `rowsMax` rows are held.
 *
 * Each series' rows (a GPU's own, or a MIG instance's) are kept in the API's page
 * order (ts, metric, source_ts, value) in columns of typed arrays (30 bytes a row;
 * names and workloads are dictionary ids), so a window is two binary searches and a
 * scan, and a page is cut exactly as telemetryPage's SQL cuts it.
 */

/** One datapoint given as an object (tests, the rare JSON record). */
export interface TailRow {
  /** The series: the GPU's UUID, or UUID:migN for MIG instance N. */
  gpu: string;
  tsMs: number;
  metric: string;
  sourceTsMs: number;
  value: number;
  namespace?: string;
  pod?: string;
  container?: string;
}

export interface TailStoreOptions {
  /** How far back from now rows are kept. */
  spanMs: number;
  /** Rows kept at most, over all GPUs. */
  rowsMax: number;
}

export interface TailRowsOptions {
  uuid: string;
  /** The MIG instance (GPU_I_ID); empty or absent: the GPU's own rows. */
  gpuInstance?: string | undefined;
  /** Inclusive; rows before the horizon are not the store's to give. */
  startMs: number;
  endMs: number;
  /** Only these metrics; undefined: all. */
  metrics?: readonly string[] | undefined;
  /** Only rows of this workload (exact fields). */
  workload?: WorkloadFilter | undefined;
  order: "asc" | "desc";
  /** Start at this key (inclusive) and skip `skip` rows, as the SQL does. */
  after?: TelemetryCursor | undefined;
  /** Rows wanted at most. */
  count: number;
}

const capacityInitial = 64;

/** One series' rows, sorted by key, live from `first` to `length`. */
class Series {
  ts = new Float64Array(capacityInitial);
  sourceTs = new Float64Array(capacityInitial);
  value = new Float64Array(capacityInitial);
  metric = new Uint16Array(capacityInitial);
  workload = new Uint32Array(capacityInitial);
  first = 0;
  length = 0;

  get size(): number {
    return this.length - this.first;
  }

  ensureRoom(): void {
    if (this.length < this.ts.length) return;
    const live = this.size;
    const capacity = live * 2 > this.ts.length ? this.ts.length * 2 : this.ts.length;
    const move = <A extends Float64Array | Uint16Array | Uint32Array>(from: A, make: (n: number) => A): A => {
      const to = capacity === from.length ? from : make(capacity);
      to.set(from.subarray(this.first, this.length), 0);
      return to;
    };
    this.ts = move(this.ts, (n) => new Float64Array(n));
    this.sourceTs = move(this.sourceTs, (n) => new Float64Array(n));
    this.value = move(this.value, (n) => new Float64Array(n));
    this.metric = move(this.metric, (n) => new Uint16Array(n));
    this.workload = move(this.workload, (n) => new Uint32Array(n));
    this.first = 0;
    this.length = live;
  }
}

/** A row's key for comparisons, without an object per row. */
interface Key {
  tsMs: number;
  rank: number;
  sourceTsMs: number;
  value: number;
}

export class TailStore {
  private horizon: number | undefined;
  private live = false;
  private names = new TailDictionary();
  /** By series id; undefined where a series has no rows. */
  private series: (Series | undefined)[] = [];
  private seriesWithRows = 0;
  private rows = 0;
  /** Rows per whole second of ts, for choosing a horizon that keeps rowsMax. */
  private readonly perSecond = new Map<number, number>();
  private readonly probe: Key = { tsMs: 0, rank: 0, sourceTsMs: 0, value: 0 };

  constructor(private readonly options: TailStoreOptions) {
    if (!Number.isSafeInteger(options.spanMs) || options.spanMs < 1000)
      throw new RangeError(`TailStore spanMs must be an integer >= 1000, got ${options.spanMs}`);
    if (!Number.isSafeInteger(options.rowsMax) || options.rowsMax < 1)
      throw new RangeError(`TailStore rowsMax must be a positive integer, got ${options.rowsMax}`);
  }

  /**
   * Undefined while the store is not live (starting, or behind what the collectors
   * committed): every window is then ClickHouse's.
   */
  get horizonMs(): number | undefined {
    return this.live ? this.horizon : undefined;
  }

  /** Ids of series, metrics and workloads; replaced at every reset (rows read before it are read again). */
  get dictionary(): TailDictionary {
    return this.names;
  }

  /** Whether every committed row has been added: the store answers windows only then. */
  setLive(live: boolean): void {
    this.live = live && this.horizon !== undefined;
  }

  get rowCount(): number {
    return this.rows;
  }

  /** GPUs and MIG instances with rows. */
  get gpuCount(): number {
    return this.seriesWithRows;
  }

  /** Starts over, complete from `horizonMs` on (nothing is held yet, nothing from then on is missing). */
  reset(horizonMs: number | undefined): void {
    if (horizonMs !== undefined && !Number.isSafeInteger(horizonMs))
      throw new RangeError(`TailStore horizon must be integer milliseconds, got ${horizonMs}`);
    this.horizon = horizonMs;
    this.live = false;
    this.names = new TailDictionary();
    this.series = [];
    this.seriesWithRows = 0;
    this.perSecond.clear();
    this.rows = 0;
  }

  /** Whether the store holds rows of a series (a UUID, or UUID:migN). */
  has(gpu: string): boolean {
    const id = this.names.findSeries(gpu);
    return id !== undefined && (this.series[id]?.size ?? 0) > 0;
  }

  /** Adds rows given as objects; rows older than the horizon are ClickHouse's alone. */
  add(rows: readonly TailRow[]): void {
    for (const row of rows) {
      const [uuid = "", instance = ""] = row.gpu.split(migSeparator);
      const series = this.names.seriesOf(this.names.gpus.idOfText(uuid), this.names.gpuInstances.idOfText(instance));
      const workload = this.names.workloadOf(
        this.names.namespaces.idOfText(row.namespace ?? ""),
        this.names.pods.idOfText(row.pod ?? ""),
        this.names.containers.idOfText(row.container ?? ""),
      );
      this.insertRow(series, row.tsMs, this.names.metricOfText(row.metric), row.sourceTsMs, row.value, workload);
    }
    if (this.rows > this.options.rowsMax) this.maintain(Number.NEGATIVE_INFINITY);
  }

  /** Adds the first `count` rows of `columns` (ids of this store's dictionary), then drops them there. */
  append(columns: TailColumns, count: number): void {
    if (count > columns.size) throw new RangeError(`append ${count} of ${columns.size} rows`);
    const end = columns.first + count;
    for (let index = columns.first; index < end; index += 1) {
      this.insertRow(
        columns.series[index] as number,
        columns.ts[index] as number,
        columns.metric[index] as number,
        columns.sourceTs[index] as number,
        columns.value[index] as number,
        columns.workload[index] as number,
      );
    }
    columns.shift(count);
    if (this.rows > this.options.rowsMax) this.maintain(Number.NEGATIVE_INFINITY);
  }

  /**
   * Moves the horizon to `nowMs - spanMs` in whole seconds (and further while over
   * rowsMax) and drops what falls behind it: a walk over every series, so at most once a
   * second however often it is called.
   */
  maintain(nowMs: number): void {
    if (this.horizon === undefined) return;
    const secondsBack = Math.floor((nowMs - this.options.spanMs) / 1_000) * 1_000;
    let horizon = Math.max(this.horizon, secondsBack);
    if (this.rows > this.options.rowsMax) horizon = Math.max(horizon, this.horizonKeeping(this.options.rowsMax));
    if (horizon === this.horizon) return;
    this.horizon = horizon;
    let rows = 0;
    let withRows = 0;
    for (let id = 0; id < this.series.length; id += 1) {
      const series = this.series[id];
      if (series === undefined) continue;
      while (series.first < series.length && (series.ts[series.first] ?? 0) < horizon) series.first += 1;
      if (series.size === 0) this.series[id] = undefined;
      else {
        rows += series.size;
        withRows += 1;
      }
    }
    this.rows = rows;
    this.seriesWithRows = withRows;
    for (const second of this.perSecond.keys()) if ((second + 1) * 1000 <= horizon) this.perSecond.delete(second);
  }

  /** Up to `count` rows of one series in page order after the cursor, from the horizon on. */
  select(options: TailRowsOptions): TelemetryPointRow[] {
    const id = this.names.findSeries(seriesName(options.uuid, options.gpuInstance ?? ""));
    const series = id === undefined ? undefined : this.series[id];
    const horizon = this.horizon;
    if (series === undefined || horizon === undefined || options.count < 1) return [];
    const startMs = Math.max(options.startMs, horizon);
    if (options.endMs < startMs) return [];
    const filter = this.rowFilter(options);
    return options.order === "asc"
      ? this.selectAscending(series, { ...options, startMs }, filter)
      : this.selectDescending(series, { ...options, startMs }, filter);
  }

  private insertRow(
    seriesId: number,
    tsMs: number,
    metric: number,
    sourceTsMs: number,
    value: number,
    workload: number,
  ) {
    const horizon = this.horizon;
    if (horizon === undefined || tsMs < horizon) return;
    let series = this.series[seriesId];
    if (series === undefined) {
      series = new Series();
      this.series[seriesId] = series;
      this.seriesWithRows += 1;
    }
    series.ensureRoom();
    const probe = this.probe;
    probe.tsMs = tsMs;
    probe.rank = this.names.metricRank(metric);
    probe.sourceTsMs = sourceTsMs;
    probe.value = value;
    let at = series.length;
    // Rows mostly arrive in order: only a row older than the last one is placed by search.
    if (at > series.first && this.compareAt(series, at - 1, probe) > 0) {
      at = this.upperBound(series, probe);
      for (const column of [series.ts, series.sourceTs, series.value, series.metric, series.workload]) {
        column.copyWithin(at + 1, at, series.length);
      }
    }
    series.ts[at] = tsMs;
    series.sourceTs[at] = sourceTsMs;
    series.value[at] = value;
    series.metric[at] = metric;
    series.workload[at] = workload;
    series.length += 1;
    const second = Math.floor(tsMs / 1000);
    this.perSecond.set(second, (this.perSecond.get(second) ?? 0) + 1);
    this.rows += 1;
  }

  /** Which rows a page's metric and workload filters let through, by index. */
  private rowFilter(options: TailRowsOptions): ((series: Series, index: number) => boolean) | undefined {
    const wanted = options.metrics === undefined ? undefined : new Set(options.metrics);
    const workload = options.workload;
    const asked =
      workload === undefined
        ? []
        : (["namespace", "pod", "container"] as const).filter((f) => workload[f] !== undefined);
    if (wanted === undefined && asked.length === 0) return undefined;
    return (series, index) => {
      if (wanted !== undefined && !wanted.has(this.names.metricName(series.metric[index] ?? 0))) return false;
      if (asked.length === 0) return true;
      const of = this.names.workload(series.workload[index] ?? 0);
      return asked.every((field) => of[field] === workload?.[field]);
    };
  }

  private selectAscending(series: Series, options: TailRowsOptions, passes: RowFilter | undefined) {
    let index = this.lowerBoundTs(series, options.startMs);
    if (options.after !== undefined) index = Math.max(index, this.lowerBoundKey(series, options.after));
    let skip = options.after?.skip ?? 0;
    const rows: TelemetryPointRow[] = [];
    for (; index < series.length && rows.length < options.count; index += 1) {
      if ((series.ts[index] ?? 0) > options.endMs) break;
      if (passes !== undefined && !passes(series, index)) continue;
      if (skip > 0) {
        skip -= 1;
        continue;
      }
      rows.push(this.rowAt(series, index));
    }
    return rows;
  }

  private selectDescending(series: Series, options: TailRowsOptions, passes: RowFilter | undefined) {
    let index = this.lowerBoundTs(series, options.endMs + 1) - 1;
    if (options.after !== undefined) index = Math.min(index, this.upperBoundKey(series, options.after) - 1);
    let skip = options.after?.skip ?? 0;
    const rows: TelemetryPointRow[] = [];
    for (; index >= series.first && rows.length < options.count; index -= 1) {
      if ((series.ts[index] ?? 0) < options.startMs) break;
      if (passes !== undefined && !passes(series, index)) continue;
      if (skip > 0) {
        skip -= 1;
        continue;
      }
      rows.push(this.rowAt(series, index));
    }
    return rows;
  }

  private rowAt(series: Series, index: number): TelemetryPointRow {
    const workload = this.names.workload(series.workload[index] ?? 0);
    return {
      ts_ms: series.ts[index] ?? 0,
      metric: this.names.metricName(series.metric[index] ?? 0),
      value: series.value[index] ?? 0,
      source_ts_ms: series.sourceTs[index] ?? 0,
      namespace: workload.namespace,
      pod: workload.pod,
      container: workload.container,
    };
  }

  private cursorKey(after: TelemetryCursor): Key {
    return {
      tsMs: after.tsMs,
      rank: this.names.rankOfName(after.metric),
      sourceTsMs: after.sourceTsMs,
      value: after.value,
    };
  }

  private compareAt(series: Series, index: number, key: Key): number {
    const ts = series.ts[index] ?? 0;
    if (ts !== key.tsMs) return ts < key.tsMs ? -1 : 1;
    const rank = this.names.metricRank(series.metric[index] ?? 0);
    if (rank !== key.rank) return rank < key.rank ? -1 : 1;
    const sourceTs = series.sourceTs[index] ?? 0;
    if (sourceTs !== key.sourceTsMs) return sourceTs < key.sourceTsMs ? -1 : 1;
    const value = series.value[index] ?? 0;
    if (value !== key.value) return value < key.value ? -1 : 1;
    return 0;
  }

  private lowerBoundTs(series: Series, tsMs: number): number {
    let low = series.first;
    let high = series.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((series.ts[middle] ?? 0) < tsMs) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** First row whose key is >= the cursor's. */
  private lowerBoundKey(series: Series, after: TelemetryCursor): number {
    const key = this.cursorKey(after);
    let low = series.first;
    let high = series.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.compareAt(series, middle, key) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** First row whose key is > the cursor's. */
  private upperBoundKey(series: Series, after: TelemetryCursor): number {
    return this.upperBound(series, this.cursorKey(after));
  }

  private upperBound(series: Series, key: Key): number {
    let low = series.first;
    let high = series.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.compareAt(series, middle, key) <= 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** The smallest whole-second horizon that leaves at most `rowsMax` rows. */
  private horizonKeeping(rowsMax: number): number {
    const seconds = [...this.perSecond.keys()].sort((a, b) => b - a);
    let kept = 0;
    for (const second of seconds) {
      kept += this.perSecond.get(second) ?? 0;
      if (kept > rowsMax) return (second + 1) * 1000;
    }
    return this.horizon ?? 0;
  }
}

type RowFilter = (series: Series, index: number) => boolean;
