import { GroupClient } from "../../src/broker-client/group-client.ts";
import { BrokerClientError, BrokerHttp } from "../../src/broker-client/http-client.ts";
import type { Assignment, MemberAssignment } from "../../src/broker-protocol/group-protocol.ts";
import { sleep } from "../../src/runtime/sleep.ts";

/**
 * Which of the topic's partitions this streamer may produce now, decided by the
 * broker's group membership (group `streamers`). A streamer does not fetch: the
 * partitions are only the unit the GPUs are split by (a GPU belongs to the
 * partition its UUID hashes to).
 *
 * Hand-over follows src/broker-protocol/group-protocol.ts: a revoked partition is cleared
 * here first (the produce loop stops producing its rows), `onRevoked` flushes the
 * producer, and only then the next heartbeat tells the broker, which hands the
 * partition to its next owner. So a GPU is never produced by two live streamers,
 * and its records keep their order across the hand-over.
 */

export interface OwnershipOptions {
  brokerUrl: string;
  group: string;
  topic: string;
  partitionCount: number;
  clientId: string;
  heartbeatMs: number;
  /** Heartbeat period while partitions are moving, so granted ones are picked up fast. */
  rebalanceHeartbeatMs: number;
  sessionTimeoutMs: number;
  /** Bound on one group request; must be below the session timeout. */
  requestTimeoutMs: number;
  /** Awaited after partitions stopped being owned and before the broker hears of it: flush here. */
  onRevoked: (partitions: readonly number[]) => Promise<void>;
  onChange: (owned: readonly number[]) => void;
  onError: (error: unknown, where: string) => void;
  /** Epoch ms. */
  clock: () => number;
}

/** Partitions a topic may have; the broker's protocol allows no more. */
export const ownedPartitionsMax = 65_536;

export class PartitionOwnership {
  /** 1 where the partition is owned; read per row by the produce loop. */
  readonly flags: Uint8Array;
  private readonly groups: GroupClient;
  private memberId: string | undefined;
  private generation = 0;
  private rebalancing = true;
  /** When the last successful heartbeat (or join) was sent: ownership lapses a session after it. */
  private lastOkSentMs = 0;
  private readonly stopSignal = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly stableWaiters = new Set<() => void>();

  constructor(private readonly options: OwnershipOptions) {
    const count = options.partitionCount;
    if (!Number.isInteger(count) || count < 1 || count > ownedPartitionsMax) {
      throw new Error(`partitionCount ${count} outside 1..${ownedPartitionsMax}`);
    }
    if (options.requestTimeoutMs >= options.sessionTimeoutMs) {
      throw new Error(
        `requestTimeoutMs ${options.requestTimeoutMs} must be below sessionTimeoutMs ${options.sessionTimeoutMs}`,
      );
    }
    this.flags = new Uint8Array(count);
    const http = new BrokerHttp({ brokerUrl: options.brokerUrl, requestTimeoutMs: options.requestTimeoutMs });
    this.groups = new GroupClient(http, options.group);
  }

  get joined(): boolean {
    return this.memberId !== undefined;
  }

  get member(): string | undefined {
    return this.memberId;
  }

  /** True while the session is surely alive at the broker: until then nobody else got our partitions. */
  live(nowMs: number): boolean {
    return this.memberId !== undefined && nowMs - this.lastOkSentMs < this.options.sessionTimeoutMs;
  }

  owned(): number[] {
    const partitions: number[] = [];
    for (let partition = 0; partition < this.flags.length; partition += 1)
      if (this.flags[partition] === 1) partitions.push(partition);
    return partitions;
  }

  /** Joins (retrying until `signal` aborts) and starts heartbeating. */
  async start(signal: AbortSignal): Promise<void> {
    if (this.loop !== undefined) throw new Error(`ownership of group ${this.options.group} already started`);
    await this.joinUntilDone(signal);
    this.loop = this.runLoop();
  }

  /** Resolves once the group is not rebalancing, or after `waitMs`; true when stable. */
  async waitStable(waitMs: number): Promise<boolean> {
    if (!this.rebalancing) return true;
    let release: () => void = () => undefined;
    const stable = new Promise<boolean>((resolve) => {
      release = () => resolve(true);
      this.stableWaiters.add(release);
    });
    const timeout = sleep(waitMs).then(() => false);
    const result = await Promise.race([stable, timeout]);
    this.stableWaiters.delete(release);
    return result;
  }

  /** Stops heartbeating, lets go of every partition and leaves (the caller flushed first). */
  async leave(): Promise<void> {
    this.stopSignal.abort();
    await this.loop;
    this.setOwned([]);
    const memberId = this.memberId;
    this.memberId = undefined;
    if (memberId !== undefined) await this.groups.leave(memberId);
  }

  private async joinUntilDone(signal: AbortSignal): Promise<void> {
    for (let attempt = 1; !signal.aborted; attempt += 1) {
      try {
        await this.join();
        return;
      } catch (error) {
        this.options.onError(error, "join");
        await sleep(Math.min(this.options.heartbeatMs * attempt, this.options.sessionTimeoutMs), signal);
      }
    }
  }

  private async join(): Promise<void> {
    const sentMs = this.options.clock();
    const state = await this.groups.join({
      ...(this.memberId === undefined ? {} : { memberId: this.memberId }),
      clientId: this.options.clientId,
      topics: [this.options.topic],
      sessionTimeoutMs: this.options.sessionTimeoutMs,
    });
    this.memberId = state.memberId;
    this.lastOkSentMs = sentMs;
    await this.apply(state);
  }

  private async runLoop(): Promise<void> {
    let again = false;
    while (!this.stopSignal.signal.aborted) {
      const periodMs = this.rebalancing ? this.options.rebalanceHeartbeatMs : this.options.heartbeatMs;
      if (!again) await sleep(periodMs, this.stopSignal.signal);
      if (this.stopSignal.signal.aborted) return;
      again = await this.heartbeatOnce();
    }
  }

  /** True when partitions were just let go of: the broker must hear of it at once. */
  private async heartbeatOnce(): Promise<boolean> {
    const memberId = this.memberId;
    if (memberId === undefined) {
      await this.join().catch((error) => this.options.onError(error, "join"));
      return false;
    }
    const sentMs = this.options.clock();
    try {
      const owned = this.ownedAssignment();
      const state = await this.groups.heartbeat({ memberId, generation: this.generation, owned });
      this.lastOkSentMs = sentMs;
      return await this.apply(state);
    } catch (error) {
      await this.onHeartbeatError(error);
      return false;
    }
  }

  private async onHeartbeatError(error: unknown): Promise<void> {
    this.options.onError(error, "heartbeat");
    const status = error instanceof BrokerClientError ? error.status : 0;
    const evicted = status === 410 || status === 404;
    if (evicted || !this.live(this.options.clock())) {
      // Another streamer may own our partitions now: stop before anything else.
      await this.revoke(this.owned());
      if (evicted) this.memberId = undefined;
    }
    if (evicted || status === 409 || this.memberId === undefined) {
      await this.join().catch((joinError) => this.options.onError(joinError, "rejoin"));
    }
  }

  /** Takes a broker answer: revoked partitions first (flushed), then the granted ones. */
  private async apply(state: MemberAssignment): Promise<boolean> {
    this.generation = state.generation;
    this.rebalancing = state.rebalancing;
    const wanted = new Set(partitionsOf(state.assignment, this.options.topic));
    for (const partition of wanted) {
      if (partition >= this.flags.length) {
        throw new Error(
          `assigned partition ${partition} of ${this.options.topic}, which has ${this.flags.length} partitions`,
        );
      }
    }
    const revoked = this.owned().filter((partition) => !wanted.has(partition));
    await this.revoke(revoked);
    this.setOwned([...wanted]);
    if (!this.rebalancing) for (const release of this.stableWaiters) release();
    return revoked.length > 0;
  }

  private async revoke(partitions: number[]): Promise<void> {
    if (partitions.length === 0) return;
    for (const partition of partitions) this.flags[partition] = 0;
    this.options.onChange(this.owned());
    // A failed flush is the producer's to report; the partitions are gone from us either way.
    await this.options.onRevoked(partitions).catch((error) => this.options.onError(error, "flush on revoke"));
  }

  private setOwned(partitions: readonly number[]): void {
    const before = this.owned().join(",");
    this.flags.fill(0);
    for (const partition of partitions) this.flags[partition] = 1;
    if (this.owned().join(",") !== before) this.options.onChange(this.owned());
  }

  private ownedAssignment(): Assignment {
    const partitions = this.owned();
    return partitions.length === 0 ? [] : [{ topic: this.options.topic, partitions }];
  }
}

function partitionsOf(assignment: Assignment, topic: string): number[] {
  return assignment.filter((entry) => entry.topic === topic).flatMap((entry) => entry.partitions);
}
