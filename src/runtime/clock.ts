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

/**
 * Calls `callback` once, `ms` from now on the monotonic clock it belongs to; the
 * returned function cancels it. Injected beside a MonotonicClock where logic waits,
 * so a test's ManualClock also decides when the wait ends.
 */
export type Timer = (ms: number, callback: () => void) => () => void;

/** The event loop's timer, which runs on real (monotonic) time. */
export const realTimer: Timer = (ms, callback) => {
  const handle = setTimeout(callback, ms);
  return () => clearTimeout(handle);
};

/** Timers one advance() fires at most: a callback that re-arms itself at 0 ms would otherwise never end. */
export const manualTimersPerAdvanceMax = 100_000;

interface ManualTimer {
  dueMs: number;
  /** Order of arming: timers due at the same time fire in that order, as the event loop's do. */
  sequence: number;
  callback: () => void;
}

/** A clock that moves only when told, with timers that fire as it passes them: for tests of time-driven logic. */
export class ManualClock {
  private nowMs: number;
  private readonly pending: ManualTimer[] = [];
  private armedCount = 0;

  constructor(startMs = 0) {
    if (!Number.isFinite(startMs)) throw new Error(`ManualClock start ${startMs} is not finite`);
    this.nowMs = startMs;
  }

  /** The clock function to inject. */
  readonly now = (): number => this.nowMs;

  /** The timer to inject with `now`. */
  readonly timer: Timer = (ms, callback) => {
    if (!(ms >= 0)) throw new Error(`ManualClock timer of ${ms} ms`);
    const armed: ManualTimer = { dueMs: this.nowMs + ms, sequence: this.armedCount++, callback };
    this.pending.push(armed);
    return () => {
      const index = this.pending.indexOf(armed);
      if (index >= 0) this.pending.splice(index, 1);
    };
  };

  /** Timers armed and neither fired nor cancelled. */
  get pendingTimerCount(): number {
    return this.pending.length;
  }

  /** Moves the clock `ms` forward, firing each timer due on the way at its due time, in order. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error(`ManualClock moves forward only, got ${ms} ms`);
    const targetMs = this.nowMs + ms;
    for (let fired = 0; ; fired += 1) {
      const next = this.nextDue(targetMs);
      if (next === undefined) break;
      if (fired === manualTimersPerAdvanceMax) {
        throw new Error(
          `ManualClock fired ${manualTimersPerAdvanceMax} timers in one advance: a timer re-arms forever`,
        );
      }
      this.pending.splice(this.pending.indexOf(next), 1);
      this.nowMs = next.dueMs;
      next.callback();
    }
    this.nowMs = targetMs;
  }

  private nextDue(targetMs: number): ManualTimer | undefined {
    let next: ManualTimer | undefined;
    for (const timer of this.pending) {
      if (timer.dueMs > targetMs) continue;
      if (
        next === undefined ||
        timer.dueMs < next.dueMs ||
        (timer.dueMs === next.dueMs && timer.sequence < next.sequence)
      )
        next = timer;
    }
    return next;
  }
}
