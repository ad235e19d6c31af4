/**
 * How long after its timestamp a datapoint became queryable, sampled over the last
 * samplesMax samples: what the pipeline page shows as freshness.
 */
export class FreshnessWindow {
  private readonly ages: Float64Array;
  private readonly times: Float64Array;
  private next = 0;
  private count = 0;

  constructor(private readonly samplesMax: number) {
    if (!Number.isInteger(samplesMax) || samplesMax < 1)
      throw new RangeError(`FreshnessWindow samplesMax must be a positive integer, got ${samplesMax}`);
    this.ages = new Float64Array(samplesMax);
    this.times = new Float64Array(samplesMax);
  }

  add(atMs: number, ageMs: number): void {
    this.ages[this.next] = ageMs;
    this.times[this.next] = atMs;
    this.next = (this.next + 1) % this.samplesMax;
    this.count = Math.min(this.count + 1, this.samplesMax);
  }

  /** Quantiles of the samples taken since `sinceMs`; undefined without any. */
  quantiles(sinceMs: number): { p50Ms: number; p99Ms: number; samples: number } | undefined {
    const recent: number[] = [];
    for (let index = 0; index < this.count; index += 1) {
      if ((this.times[index] ?? 0) >= sinceMs) recent.push(this.ages[index] ?? 0);
    }
    if (recent.length === 0) return undefined;
    recent.sort((a, b) => a - b);
    const at = (q: number) => recent[Math.min(recent.length - 1, Math.floor(q * recent.length))] ?? 0;
    return { p50Ms: at(0.5), p99Ms: at(0.99), samples: recent.length };
  }
}
