/**
 * Datapoints the live tail has read, as columns of typed arrays (44 bytes a row)
 * rather than an object each: the records a partition holds until the collectors
 * commit them (seconds at most, tens of thousands of rows) would otherwise all be
 * objects that outlive the young generation, and collecting them stalled the API's
 * event loop for 100–500 ms about once a second at 10,000 datapoints/s.
 *
 * Rows are appended at the end and taken from the front; the live part is
 * [first, length). Ids refer to the tail's dictionary (tail-dictionary.ts).
 */

const capacityInitial = 256;

export class TailColumns {
  offset = new Float64Array(capacityInitial);
  series = new Uint32Array(capacityInitial);
  ts = new Float64Array(capacityInitial);
  sourceTs = new Float64Array(capacityInitial);
  value = new Float64Array(capacityInitial);
  metric = new Uint16Array(capacityInitial);
  workload = new Uint32Array(capacityInitial);
  first = 0;
  length = 0;

  constructor(readonly rowsMax: number) {
    if (!Number.isSafeInteger(rowsMax) || rowsMax < 1)
      throw new RangeError(`TailColumns rowsMax must be positive, got ${rowsMax}`);
  }

  /** Rows held. */
  get size(): number {
    return this.length - this.first;
  }

  push(row: {
    offset: number;
    series: number;
    ts: number;
    sourceTs: number;
    value: number;
    metric: number;
    workload: number;
  }): void {
    this.pushValues(row.offset, row.series, row.ts, row.sourceTs, row.value, row.metric, row.workload);
  }

  /** One row, from scalars (the hot path: no object per row). */
  pushValues(
    offset: number,
    series: number,
    ts: number,
    sourceTs: number,
    value: number,
    metric: number,
    workload: number,
  ): void {
    if (this.length === this.offset.length) this.makeRoom();
    const at = this.length;
    this.offset[at] = offset;
    this.series[at] = series;
    this.ts[at] = ts;
    this.sourceTs[at] = sourceTs;
    this.value[at] = value;
    this.metric[at] = metric;
    this.workload[at] = workload;
    this.length = at + 1;
  }

  /** Drops the first `count` rows. */
  shift(count: number): void {
    if (count < 0 || count > this.size) throw new RangeError(`shift ${count} of ${this.size} rows`);
    this.first += count;
    if (this.first === this.length) {
      this.first = 0;
      this.length = 0;
    }
  }

  clear(): void {
    this.first = 0;
    this.length = 0;
  }

  /** How many rows from the front have an offset below `offset` (offsets ascend). */
  countBelow(offset: number): number {
    let low = this.first;
    let high = this.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.offset[middle] ?? 0) < offset) low = middle + 1;
      else high = middle;
    }
    return low - this.first;
  }

  /** Moves the live rows to the front, growing the arrays when over half full. */
  private makeRoom(): void {
    const live = this.size;
    if (live >= this.rowsMax) throw new RangeError(`TailColumns: more than rowsMax ${this.rowsMax} rows`);
    const capacity =
      live * 2 > this.offset.length ? Math.min(this.offset.length * 2, this.rowsMax) : this.offset.length;
    this.offset = moved(this.offset, this.first, this.length, capacity, (n) => new Float64Array(n));
    this.series = moved(this.series, this.first, this.length, capacity, (n) => new Uint32Array(n));
    this.ts = moved(this.ts, this.first, this.length, capacity, (n) => new Float64Array(n));
    this.sourceTs = moved(this.sourceTs, this.first, this.length, capacity, (n) => new Float64Array(n));
    this.value = moved(this.value, this.first, this.length, capacity, (n) => new Float64Array(n));
    this.metric = moved(this.metric, this.first, this.length, capacity, (n) => new Uint16Array(n));
    this.workload = moved(this.workload, this.first, this.length, capacity, (n) => new Uint32Array(n));
    this.first = 0;
    this.length = live;
  }
}

function moved<A extends Float64Array | Uint32Array | Uint16Array>(
  from: A,
  first: number,
  length: number,
  capacity: number,
  make: (capacity: number) => A,
): A {
  const to = capacity === from.length ? from : make(capacity);
  to.set(from.subarray(first, length), 0);
  return to;
}
