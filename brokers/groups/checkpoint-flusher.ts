import type { CheckpointStore } from "./checkpoint-store.ts";
import type { GroupCheckpoint } from "./group-checkpoint.ts";

/** A group's state to write, and the change number it holds (all changes up to it). */
export interface GroupSnapshot {
  checkpoint: GroupCheckpoint;
  changeNumber: number;
}

export interface CheckpointFlusherOptions {
  /** The group's state now, or undefined when the group was deleted. */
  snapshot: (group: string) => GroupSnapshot | undefined;
  /** A round failed (`failures` in a row so far); it is retried after a backoff. */
  onError?: (error: unknown, failures: number) => void;
  /** Back-off between retries of a failed round. */
  retryMsMin?: number;
  retryMsMax?: number;
}

/**
 * Group commit for group checkpoints. Changes mark a group dirty; one flush round
 * at a time writes every dirty group (snapshot taken when the round starts) and
 * fsyncs once. Changes made while a round is writing go into the next round, so
 * concurrent commits share fsyncs. A caller acknowledges its request only after
 * `whenDurable` resolves for its group.
 *
 * A round that fails (a full disk) leaves its groups dirty and is retried on its own
 * with backoff until it succeeds: requests that changed nothing durable need not
 * wait for it, and those that did (commits) are refused meanwhile, not lost.
 */
export class CheckpointFlusher {
  private readonly dirty = new Set<string>();
  private inFlight = new Set<string>();
  private currentRound: Round | undefined;
  private nextRound = createRound();
  private running: Promise<void> | undefined;
  /** Per group, the change number its file on disk holds. */
  private readonly durable = new Map<string, number>();
  private failures = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  /** Rounds written so far; for tests and metrics. */
  roundCount = 0;

  constructor(
    private readonly store: CheckpointStore,
    private readonly options: CheckpointFlusherOptions,
  ) {}

  markDirty(group: string): void {
    this.dirty.add(group);
    this.kick();
  }

  /** The newest change of the group that is on disk (0: as loaded). */
  durableChange(group: string): number {
    return this.durable.get(group) ?? 0;
  }

  /** True while writes fail (the last round failed). */
  get failing(): boolean {
    return this.failures > 0;
  }

  /** Resolves once everything changed in this group so far is on disk. */
  whenDurable(group: string): Promise<void> {
    if (this.dirty.has(group)) {
      this.kick();
      return this.nextRound.promise;
    }
    if (this.inFlight.has(group) && this.currentRound !== undefined) return this.currentRound.promise;
    return Promise.resolve();
  }

  /** Waits until nothing is dirty or being written; throws when a write failed. No retries after. */
  async drain(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.dirty.size > 0) this.kick(true);
    await this.running;
    if (this.dirty.size > 0) {
      throw new Error(`group checkpoints of ${[...this.dirty].join(", ")} in ${this.store.directory} are not durable`);
    }
  }

  private kick(force = false): void {
    if (this.running !== undefined || (this.retryTimer !== undefined && !force)) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    // Started in a microtask so every synchronous change of the calling request joins this round.
    this.running = Promise.resolve().then(() => this.flushRounds());
  }

  private async flushRounds(): Promise<void> {
    while (this.dirty.size > 0) {
      const round = this.nextRound;
      this.nextRound = createRound();
      this.currentRound = round;
      const names = [...this.dirty].sort();
      this.dirty.clear();
      this.inFlight = new Set(names);
      try {
        await this.writeRound(names);
      } catch (error) {
        this.failRound(names, round, error);
        return;
      }
      this.failures = 0;
      this.roundCount += 1;
      this.finishRound();
      round.resolve();
    }
    this.running = undefined;
  }

  /** The groups stay dirty; whoever waits hears of it; the round is tried again after a backoff. */
  private failRound(names: readonly string[], round: Round, error: unknown): void {
    for (const name of names) this.dirty.add(name);
    this.finishRound();
    this.running = undefined;
    round.reject(error);
    this.rejectWaiting(error);
    this.failures += 1;
    this.options.onError?.(error, this.failures);
    if (this.closed) return;
    const minMs = this.options.retryMsMin ?? 50;
    const delayMs = Math.min(this.options.retryMsMax ?? 2_000, minMs * 2 ** Math.min(this.failures - 1, 16));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.dirty.size > 0) this.kick();
    }, delayMs);
    this.retryTimer.unref?.();
  }

  private async writeRound(names: readonly string[]): Promise<void> {
    const snapshots: { name: string; snapshot: GroupSnapshot }[] = [];
    const removed: string[] = [];
    for (const name of names) {
      const snapshot = this.options.snapshot(name);
      if (snapshot === undefined) removed.push(name);
      else snapshots.push({ name, snapshot });
    }
    await this.store.writeAll(snapshots.map((entry) => entry.snapshot.checkpoint));
    for (const name of removed) await this.store.remove(name);
    for (const { name, snapshot } of snapshots) this.durable.set(name, snapshot.changeNumber);
    for (const name of removed) this.durable.delete(name);
  }

  private finishRound(): void {
    this.inFlight = new Set();
    this.currentRound = undefined;
  }

  private rejectWaiting(error: unknown): void {
    const waiting = this.nextRound;
    this.nextRound = createRound();
    waiting.reject(error);
  }
}

interface Round {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

function createRound(): Round {
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  // Nobody may be waiting on a round; its failure is still reported through onError.
  promise.catch(() => {});
  return { promise, resolve, reject };
}
