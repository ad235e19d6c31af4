import type { CheckpointStore } from "./checkpoint-store.ts";
import type { GroupCheckpoint } from "./group-checkpoint.ts";

/**
 * Group commit for group checkpoints. Changes mark a group dirty; one flush round
 * at a time writes every dirty group (snapshot taken when the round starts) and
 * fsyncs once. Changes made while a round is writing go into the next round, so
 * concurrent commits share fsyncs. A caller acknowledges its request only after
 * `whenDurable` resolves for its group.
 */
export class CheckpointFlusher {
  private readonly dirty = new Set<string>();
  private inFlight = new Set<string>();
  private currentRound: Round | undefined;
  private nextRound = createRound();
  private running: Promise<void> | undefined;
  /** Rounds written so far; for tests and metrics. */
  roundCount = 0;

  constructor(
    private readonly store: CheckpointStore,
    /** The group's checkpoint now, or undefined when the group was deleted. */
    private readonly snapshot: (group: string) => GroupCheckpoint | undefined,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  markDirty(group: string): void {
    this.dirty.add(group);
    this.kick();
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

  /** Waits until nothing is dirty or being written; throws when a write failed. */
  async drain(): Promise<void> {
    if (this.dirty.size > 0) this.kick();
    await this.running;
    if (this.dirty.size > 0) {
      throw new Error(`group checkpoints of ${[...this.dirty].join(", ")} in ${this.store.directory} are not durable`);
    }
  }

  private kick(): void {
    if (this.running !== undefined) return;
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
        // Stay dirty: the next request that waits for durability retries the write.
        for (const name of names) this.dirty.add(name);
        this.finishRound();
        this.running = undefined;
        round.reject(error);
        this.rejectWaiting(error);
        this.onError(error);
        return;
      }
      this.roundCount += 1;
      this.finishRound();
      round.resolve();
    }
    this.running = undefined;
  }

  private async writeRound(names: readonly string[]): Promise<void> {
    const checkpoints: GroupCheckpoint[] = [];
    const removed: string[] = [];
    for (const name of names) {
      const checkpoint = this.snapshot(name);
      if (checkpoint === undefined) removed.push(name);
      else checkpoints.push(checkpoint);
    }
    await this.store.writeAll(checkpoints);
    for (const name of removed) await this.store.remove(name);
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
