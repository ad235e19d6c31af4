import type { TelemetryCursor, TelemetryPointRow } from "../../../src/clickhouse/telemetry-page.ts";

/**
 * The recent datapoints every GPU has in ClickHouse, in memory: what serves live
 * windows (end = now) without a query, and the datapoint streams.
 *
 * The store is complete from its horizon on: it holds every datapoint with
 * ts >= horizonMs that ClickHouse holds from the offsets the collectors committed
 * (live-tail.ts decides what enters, and when). Rows older than the horizon are
 * ClickHouse's to answer. The horizon only moves forward: past `spanMs` before now,
 * and further when more than `rowsMax` rows are held.
 *
 * Each GPU's rows are kept in the API's page order (ts, metric, source_ts, value) in
 * columns of typed arrays (28 bytes a row), so a window is two binary searches and
 * a scan, and a page is cut exactly as telemetryPage's SQL cuts it.
 */

export interface TailRow {
  uuid: string;
  tsMs: number;
  metric: string;
  sourceTsMs: number;
  value: number;
}

export interface TailStoreOptions {
  /** How far back from now rows are kept. */
  spanMs: number;
  /** Rows kept at most, over all GPUs. */
  rowsMax: number;
}

export interface TailRowsOptions {
  uuid: string;
  /** Inclusive; rows before the horizon are not the store's to give. */
  startMs: number;
  endMs: number;
  /** Only these metrics; undefined: all. */
  metrics?: readonly string[] | undefined;
  order: "asc" | "desc";
  /** Start at this key (inclusive) and skip `skip` rows, as the SQL does. */
  after?: TelemetryCursor | undefined;
  /** Rows wanted at most. */
  count: number;
}

const capacityInitial = 64;
/** More metrics than this in one API process is a bug upstream (the catalog has 26). */
export const tailMetricsMax = 65_535;

/** One GPU's rows, sorted by key, live from `first` to `length`. */
class Series {
  ts = new Float64Array(capacityInitial);
  sourceTs = new Float64Array(capacityInitial);
  value = new Float64Array(capacityInitial);
  metric = new Uint16Array(capacityInitial);
  first = 0;
  length = 0;

  get size(): number {
    return this.length - this.first;
  }

  ensureRoom(): void {
    if (this.length < this.ts.length) return;
    const live = this.size;
    const capacity = live * 2 > this.ts.length ? this.ts.length * 2 : this.ts.length;
    const move = <A extends Float64Array | Uint16Array>(from: A, make: (n: number) => A): A => {
      const to = capacity === from.length ? from : make(capacity);
      to.set(from.subarray(this.first, this.length), 0);
      return to;
    };
    this.ts = move(this.ts, (n) => new Float64Array(n));
    this.sourceTs = move(this.sourceTs, (n) => new Float64Array(n));
    this.value = move(this.value, (n) => new Float64Array(n));
    this.metric = move(this.metric, (n) => new Uint16Array(n));
    this.first = 0;
    this.length = live;
  }
}

export class TailStore {
  private horizon: number | undefined;
  private live = false;
  private readonly series = new Map<string, Series>();
  private readonly metricNames: string[] = [];
  private readonly metricIds = new Map<string, number>();
  /** Rank of each metric id in byte order of the names (ClickHouse's String order). */
  private ranks: number[] = [];
  private sortedNames: string[] = [];
  private rows = 0;
  /** Rows per whole second of ts, for choosing a horizon that keeps rowsMax. */
  private readonly perSecond = new Map<number, number>();

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

  /** Whether every committed row has been added: the store answers windows only then. */
  setLive(live: boolean): void {
    this.live = live && this.horizon !== undefined;
  }

  get rowCount(): number {
    return this.rows;
  }

  get gpuCount(): number {
    return this.series.size;
  }

  /** Starts over, complete from `horizonMs` on (nothing is held yet, nothing from then on is missing). */
  reset(horizonMs: number | undefined): void {
    if (horizonMs !== undefined && !Number.isSafeInteger(horizonMs))
      throw new RangeError(`TailStore horizon must be integer milliseconds, got ${horizonMs}`);
    this.horizon = horizonMs;
    this.live = false;
    this.series.clear();
    this.perSecond.clear();
    this.rows = 0;
  }

  has(uuid: string): boolean {
    return (this.series.get(uuid)?.size ?? 0) > 0;
  }

  /** Adds rows ClickHouse now holds; rows older than the horizon are ClickHouse's alone. */
  add(rows: readonly TailRow[]): void {
    const horizon = this.horizon;
    if (horizon === undefined) return;
    for (const row of rows) {
      if (row.tsMs < horizon) continue;
      let series = this.series.get(row.uuid);
      if (series === undefined) {
        series = new Series();
        this.series.set(row.uuid, series);
      }
      this.insert(series, row);
      const second = Math.floor(row.tsMs / 1000);
      this.perSecond.set(second, (this.perSecond.get(second) ?? 0) + 1);
      this.rows += 1;
    }
    if (this.rows > this.options.rowsMax) this.maintain(Number.NEGATIVE_INFINITY);
  }

  /**
   * Moves the horizon to `nowMs - spanMs` in whole seconds (and further while over
   * rowsMax) and drops what falls behind it: a walk over every GPU, so at most once a
   * second however often it is called.
   */
  maintain(nowMs: number): void {
    if (this.horizon === undefined) return;
    const secondsBack = Math.floor((nowMs - this.options.spanMs) / 1_000) * 1_000;
    let horizon = Math.max(this.horizon, secondsBack);
    if (this.rows > this.options.rowsMax) horizon = Math.max(horizon, this.horizonKeeping(this.options.rowsMax));
    if (horizon === this.horizon) return;
    this.horizon = horizon;
    for (const [uuid, series] of this.series) {
      while (series.first < series.length && (series.ts[series.first] ?? 0) < horizon) series.first += 1;
      if (series.size === 0) this.series.delete(uuid);
    }
    let rows = 0;
    for (const series of this.series.values()) rows += series.size;
    this.rows = rows;
    for (const second of this.perSecond.keys()) if ((second + 1) * 1000 <= horizon) this.perSecond.delete(second);
  }

  /** Up to `count` rows of one GPU in page order after the cursor, from the horizon on. */
  select(options: TailRowsOptions): TelemetryPointRow[] {
    const series = this.series.get(options.uuid);
    const horizon = this.horizon;
    if (series === undefined || horizon === undefined || options.count < 1) return [];
    const startMs = Math.max(options.startMs, horizon);
    if (options.endMs < startMs) return [];
    const wanted = options.metrics === undefined ? undefined : new Set(options.metrics);
    return options.order === "asc"
      ? this.selectAscending(series, { ...options, startMs }, wanted)
      : this.selectDescending(series, { ...options, startMs }, wanted);
  }

  private selectAscending(series: Series, options: TailRowsOptions, wanted: Set<string> | undefined) {
    let index = this.lowerBoundTs(series, options.startMs);
    if (options.after !== undefined) index = Math.max(index, this.lowerBoundKey(series, options.after));
    let skip = options.after?.skip ?? 0;
    const rows: TelemetryPointRow[] = [];
    for (; index < series.length && rows.length < options.count; index += 1) {
      if ((series.ts[index] ?? 0) > options.endMs) break;
      if (!this.passes(series, index, wanted)) continue;
      if (skip > 0) {
        skip -= 1;
        continue;
      }
      rows.push(this.rowAt(series, index));
    }
    return rows;
  }

  private selectDescending(series: Series, options: TailRowsOptions, wanted: Set<string> | undefined) {
    let index = this.lowerBoundTs(series, options.endMs + 1) - 1;
    if (options.after !== undefined) index = Math.min(index, this.upperBoundKey(series, options.after) - 1);
    let skip = options.after?.skip ?? 0;
    const rows: TelemetryPointRow[] = [];
    for (; index >= series.first && rows.length < options.count; index -= 1) {
      if ((series.ts[index] ?? 0) < options.startMs) break;
      if (!this.passes(series, index, wanted)) continue;
      if (skip > 0) {
        skip -= 1;
        continue;
      }
      rows.push(this.rowAt(series, index));
    }
    return rows;
  }

  private passes(series: Series, index: number, wanted: Set<string> | undefined): boolean {
    return wanted === undefined || wanted.has(this.metricNames[series.metric[index] ?? 0] ?? "");
  }

  private rowAt(series: Series, index: number): TelemetryPointRow {
    return {
      ts_ms: series.ts[index] ?? 0,
      metric: this.metricNames[series.metric[index] ?? 0] ?? "",
      value: series.value[index] ?? 0,
      source_ts_ms: series.sourceTs[index] ?? 0,
    };
  }

  private insert(series: Series, row: TailRow): void {
    const metric = this.metricId(row.metric);
    series.ensureRoom();
    const key = { tsMs: row.tsMs, rank: this.ranks[metric] ?? 0, sourceTsMs: row.sourceTsMs, value: row.value };
    let at = series.length;
    // Rows mostly arrive in order: only a row older than the last one is placed by search.
    if (at > series.first && this.compareAt(series, at - 1, key) > 0) {
      at = this.upperBound(series, key);
      for (const column of [series.ts, series.sourceTs, series.value, series.metric]) {
        column.copyWithin(at + 1, at, series.length);
      }
    }
    series.ts[at] = row.tsMs;
    series.sourceTs[at] = row.sourceTsMs;
    series.value[at] = row.value;
    series.metric[at] = metric;
    series.length += 1;
  }

  private metricId(name: string): number {
    const known = this.metricIds.get(name);
    if (known !== undefined) return known;
    if (this.metricNames.length >= tailMetricsMax) throw new Error(`TailStore: more than ${tailMetricsMax} metrics`);
    const id = this.metricNames.length;
    this.metricNames.push(name);
    this.metricIds.set(name, id);
    this.sortedNames = [...this.metricNames].sort(compareUtf8);
    const rankOf = new Map(this.sortedNames.map((sorted, rank) => [sorted, rank]));
    this.ranks = this.metricNames.map((known) => rankOf.get(known) ?? 0);
    return id;
  }

  /** A cursor's metric as a rank; a name the store never saw sits between the ranks around it. */
  private rankOfName(name: string): number {
    const id = this.metricIds.get(name);
    if (id !== undefined) return this.ranks[id] ?? 0;
    let below = 0;
    while (below < this.sortedNames.length && compareUtf8(this.sortedNames[below] ?? "", name) < 0) below += 1;
    return below - 0.5;
  }

  private cursorKey(after: TelemetryCursor): Key {
    return { tsMs: after.tsMs, rank: this.rankOfName(after.metric), sourceTsMs: after.sourceTsMs, value: after.value };
  }

  private compareAt(series: Series, index: number, key: Key): number {
    const ts = series.ts[index] ?? 0;
    if (ts !== key.tsMs) return ts < key.tsMs ? -1 : 1;
    const rank = this.ranks[series.metric[index] ?? 0] ?? 0;
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

interface Key {
  tsMs: number;
  rank: number;
  sourceTsMs: number;
  value: number;
}

/** ClickHouse orders String by bytes: UTF-8 order, which differs from UTF-16 order above U+FFFF. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
