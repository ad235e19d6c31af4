/**
 * Time as logic sees it, injected so tests drive it instead of sleeping.
 *
 * Two clocks, never mixed: a monotonic one for durations, timeouts and sessions (it
 * never jumps when the wall clock is set, so a clock step cannot evict a group member
 * or end a linger early), and the wall clock for timestamps that leave the process.
 */

/** Milliseconds from an arbitrary origin that only moves forward; only differences mean anything. */
export type MonotonicClock = () => number;

/** Milliseconds since the Unix epoch (UTC). */
export type WallClock = () => number;

export const monotonicMs: MonotonicClock = () => performance.now();

export const wallMs: WallClock = () => Date.now();

/** A clock that moves only when told: for tests of time-driven logic. */
export class ManualClock {
  private nowMs: number;

  constructor(startMs = 0) {
    if (!Number.isFinite(startMs)) throw new Error(`ManualClock start ${startMs} is not finite`);
    this.nowMs = startMs;
  }

  /** The clock function to inject. */
  readonly now = (): number => this.nowMs;

  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error(`ManualClock moves forward only, got ${ms} ms`);
    this.nowMs += ms;
  }
}
