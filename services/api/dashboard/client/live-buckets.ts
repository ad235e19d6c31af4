import type { StreamDatapoint, TelemetrySummary } from "./api.ts";

/**
 * One metric's chart data over a window that slides with now: the summary's buckets
 * (average per bucket), then live datapoints folded into the bucket they fall in. A
 * datapoint at or before the summary's end_time is already counted by the summary and
 * is ignored; so is one older than the window.
 */
export class LiveBuckets {
  /** Bucket start (ms) → sum and count, in time order. */
  private readonly buckets = new Map<number, { sum: number; count: number }>();
  private readonly summaryEndMs: number;
  lastTimestampMs = 0;

  constructor(
    readonly metric: string,
    readonly unit: string,
    private readonly stepMs: number,
    private readonly windowMs: number,
    summary: { end_time: string; points: TelemetrySummary["series"][number]["points"] },
  ) {
    if (!(stepMs > 0)) throw new RangeError(`LiveBuckets step must be positive, got ${stepMs}`);
    this.summaryEndMs = Date.parse(summary.end_time);
    for (const point of summary.points) {
      const startMs = Date.parse(point.timestamp);
      this.buckets.set(startMs, { sum: point.value * point.samples, count: point.samples });
      this.lastTimestampMs = Math.max(this.lastTimestampMs, startMs);
    }
  }

  /** Folds a live datapoint in; true when it changed the chart. */
  add(point: StreamDatapoint): boolean {
    const atMs = Date.parse(point.timestamp);
    if (!(atMs > this.summaryEndMs) || !Number.isFinite(point.value)) return false;
    const startMs = Math.floor(atMs / this.stepMs) * this.stepMs;
    const bucket = this.buckets.get(startMs);
    if (bucket === undefined) this.buckets.set(startMs, { sum: point.value, count: 1 });
    else {
      bucket.sum += point.value;
      bucket.count += 1;
    }
    this.lastTimestampMs = Math.max(this.lastTimestampMs, atMs);
    return true;
  }

  /** [seconds, values] for uPlot, oldest first, without buckets that left the window ending at `nowMs`. */
  series(nowMs: number): [number[], number[]] {
    const fromMs = nowMs - this.windowMs;
    for (const startMs of this.buckets.keys()) if (startMs + this.stepMs <= fromMs) this.buckets.delete(startMs);
    const starts = [...this.buckets.keys()].sort((a, b) => a - b);
    return [starts.map((startMs) => startMs / 1_000), starts.map((startMs) => this.average(startMs))];
  }

  get pointCount(): number {
    return this.buckets.size;
  }

  private average(startMs: number): number {
    const bucket = this.buckets.get(startMs);
    return bucket === undefined || bucket.count === 0 ? Number.NaN : bucket.sum / bucket.count;
  }
}

/** The summary step for a window: about 30 to 300 buckets. */
export function stepForWindow(windowMs: number): { step: "10s" | "1m" | "5m" | "1h"; stepMs: number } {
  if (windowMs <= 30 * 60_000) return { step: "10s", stepMs: 10_000 };
  if (windowMs <= 5 * 3_600_000) return { step: "1m", stepMs: 60_000 };
  if (windowMs <= 2 * 86_400_000) return { step: "5m", stepMs: 300_000 };
  return { step: "1h", stepMs: 3_600_000 };
}
