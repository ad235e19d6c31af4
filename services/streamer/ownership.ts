import type { BrokerConnection } from "../../src/broker-client/connection.ts";
import { GroupMembership, type PartitionKey, type RevokeCause } from "../../src/broker-client/group-membership.ts";
import { parseKey } from "../../src/broker-client/partition-keys.ts";
import { RetryAbortedError, startUpAttemptsMax } from "../../src/runtime/retry.ts";

/**
 * Which of the topic's partitions this streamer may produce now, decided by the
 * broker's group membership (group `streamers`, through the client's one
 * membership state machine). A streamer does not fetch: the partitions are only the
 * unit the GPUs are split by (a GPU belongs to the partition its UUID hashes to).
 *
 * Hand-over follows src/broker-protocol/group-protocol.ts: a revoked partition is cleared
 * here first (the produce loop stops producing its rows), `onRevoked` flushes the
 * producer, and only then the next heartbeat tells the broker, which hands the
 * partition to its next owner. So a GPU is never produced by two live streamers,
 * and its records keep their order across the hand-over.
 */

export interface OwnershipOptions extends BrokerConnection {
  group: string;
  topic: string;
  partitionCount: number;
  clientId: string;
  /** Static membership: a restart with the same id takes the partitions back at once. */
  instanceId?: string;
  /** Another process joined with this instance id: this streamer must stop. */
  onFenced?: (error: unknown) => void;
  heartbeatMs: number;
  /** Heartbeat period while partitions are moving, so granted ones are picked up fast. */
  rebalanceHeartbeatMs: number;
  sessionTimeoutMs: number;
  /** Bound on one group request; must be below the session timeout. */
  requestTimeoutMs: number;
  /** Awaited after partitions stopped being owned and before the broker hears of it: flush here. */
  onRevoked: (partitions: readonly number[]) => Promise<void>;
  /** Awaited before granted partitions are produced: where to resume each (the schedule's take-over). */
  onGranting?: (partitions: readonly number[]) => Promise<void>;
  /** Partitions stopped being owned (revoked, lost or left), right after their flags were cleared. */
  onReleased?: (partitions: readonly number[]) => void;
  onChange: (owned: readonly number[]) => void;
  onError: (error: unknown, where: string) => void;
  /** Only differences are used (sessions); the produce path passes the same clock to `live`. */
  clock: () => number;
}

/** Partitions a topic may have; the broker's protocol allows no more. */
export const ownedPartitionsMax = 65_536;

export class PartitionOwnership {
  /** 1 where the partition is owned; read per row by the produce loop. */
  readonly flags: Uint8Array;
  private readonly membership: GroupMembership;

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
    this.membership = new GroupMembership({
      brokerUrl: options.brokerUrl,
      token: options.token,
      requestTimeoutMs: options.requestTimeoutMs,
      group: options.group,
      topics: [options.topic],
      clientId: options.clientId,
      ...(options.instanceId === undefined ? {} : { instanceId: options.instanceId }),
      ...(options.onFenced === undefined ? {} : { onFenced: options.onFenced }),
      sessionTimeoutMs: options.sessionTimeoutMs,
      heartbeatIntervalMs: options.heartbeatMs,
      rebalanceHeartbeatIntervalMs: options.rebalanceHeartbeatMs,
      joinRetry: {
        attemptsMax: startUpAttemptsMax,
        backoff: { backoffMsMin: options.heartbeatMs, backoffMsMax: options.sessionTimeoutMs },
        onRetry: ({ error }) => options.onError(error, "join"),
      },
      listener: {
        onAssigned: (keys) => this.grant(this.partitionsOf(keys)),
        onRevoked: (keys, cause) => this.revoke(this.partitionsOf(keys), cause),
        onLost: (keys) => this.revoke(this.partitionsOf(keys), "rebalance"),
      },
      onError: options.onError,
      clock: options.clock,
    });
  }

  get joined(): boolean {
    return this.membership.joined;
  }

  get member(): string | undefined {
    return this.membership.memberId;
  }

  /** True while the session is surely alive at the broker: until then nobody else got our partitions. */
  live(nowMs: number): boolean {
    return this.membership.live(nowMs);
  }

  owned(): number[] {
    const partitions: number[] = [];
    for (let partition = 0; partition < this.flags.length; partition += 1)
      if (this.flags[partition] === 1) partitions.push(partition);
    return partitions;
  }

  /** Joins (retrying until `signal` aborts) and starts heartbeating; false when aborted first. */
  async start(signal: AbortSignal): Promise<boolean> {
    try {
      await this.membership.start(signal);
      return true;
    } catch (error) {
      if (error instanceof RetryAbortedError) return false;
      throw error;
    }
  }

  /** Resolves once the group is not rebalancing, or after `waitMs`; true when stable. */
  waitStable(waitMs: number): Promise<boolean> {
    return this.membership.waitStable(waitMs);
  }

  /** Stops heartbeating, lets go of every partition and leaves (the caller flushed first). */
  leave(): Promise<void> {
    return this.membership.leave();
  }

  private partitionsOf(keys: readonly PartitionKey[]): number[] {
    const partitions: number[] = [];
    for (const key of keys) {
      const { topic, partition } = parseKey(key);
      if (topic !== this.options.topic) continue;
      if (partition >= this.flags.length) {
        throw new Error(`assigned partition ${partition} of ${topic}, which has ${this.flags.length} partitions`);
      }
      partitions.push(partition);
    }
    return partitions;
  }

  private async grant(partitions: readonly number[]): Promise<void> {
    if (partitions.length === 0) return;
    await this.options.onGranting?.(partitions);
    for (const partition of partitions) this.flags[partition] = 1;
    this.options.onChange(this.owned());
  }

  /** Clears the flags first (no more rows of them are sent), then flushes what was sent. */
  private async revoke(partitions: readonly number[], cause: RevokeCause): Promise<void> {
    if (partitions.length === 0) return;
    for (const partition of partitions) this.flags[partition] = 0;
    this.options.onReleased?.(partitions);
    this.options.onChange(this.owned());
    // Leaving comes after the caller's own flush: nothing is left to flush then.
    if (cause === "leave") return;
    // A failed flush is the producer's to report; the partitions are gone from us either way.
    await this.options.onRevoked(partitions).catch((error) => this.options.onError(error, "flush on revoke"));
  }
}
