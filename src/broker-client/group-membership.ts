import type { MemberAssignment, OffsetResetPolicy } from "../broker-protocol/group-protocol.ts";
import type { MonotonicClock } from "../runtime/clock.ts";
import { type RetryOptions, retry } from "../runtime/retry.ts";
import { sleep } from "../runtime/sleep.ts";
import { GroupClient } from "./group-client.ts";
import { BrokerClientError, type BrokerConnection, BrokerHttp } from "./http-client.ts";
import { assignmentKeys, type PartitionKey, toAssignment } from "./partition-keys.ts";

/**
 * The one group-membership state machine of the client: join, the heartbeat loop,
 * applying assignments, eviction and fencing. The consumer (fetch loops per
 * partition) and the streamers' ownership (a flag per partition) are two listeners
 * of it. It follows the hand-over contract of src/broker-protocol/group-protocol.ts:
 *
 * - A partition that leaves the assignment is revoked from the listener first
 *   (`onRevoked`: stop it, commit it); while that runs it is still listed as owned,
 *   and the heartbeat that follows at once is what hands it to its next owner.
 * - Newly assigned partitions are given to the listener (`onAssigned`) after the
 *   revoked ones are done.
 * - Liveness counts from when the last successful heartbeat (or join) was *sent*:
 *   once a session has passed since, or the broker answers unknown_member (evicted,
 *   fenced), the partitions are lost (`onLost`: stop, do not commit) and the member
 *   joins anew.
 *
 * Static membership (a stable instance id per member, issue 14) belongs here: the
 * join request is built in one place (`joinRequest`) and a leave in one (`leave`).
 */

export type { PartitionKey };

/** Why partitions are taken away from a listener that still holds them. */
export type RevokeCause = "rebalance" | "leave";

export interface MembershipListener {
  /** Start processing these partitions (newly assigned to this member). */
  onAssigned(keys: readonly PartitionKey[]): Promise<void>;
  /**
   * Stop processing these partitions; the member still owns them until this resolves,
   * so a final commit may happen here. The broker hears of the release only after.
   */
  onRevoked(keys: readonly PartitionKey[], cause: RevokeCause): Promise<void>;
  /** The session is gone (evicted, fenced, or silent a session long): another member may own these already. */
  onLost(keys: readonly PartitionKey[]): Promise<void>;
}

export interface GroupMembershipOptions extends BrokerConnection {
  /** Bound on one group request; keep it well below the session timeout. */
  requestTimeoutMs?: number;
  group: string;
  topics: readonly string[];
  /** Who the member is, for people (broker's describe, logs). */
  clientId: string;
  /** Asked of the broker, which bounds it; liveness follows the broker's answer. */
  sessionTimeoutMs?: number;
  resetPolicy?: OffsetResetPolicy;
  /** Heartbeat period; by default the broker's suggestion (a third of the session). */
  heartbeatIntervalMs?: number;
  /** Heartbeat period while partitions of the group move, so granted ones are picked up fast. */
  rebalanceHeartbeatIntervalMs?: number;
  /** Limits and backoff of the first join (later rejoins happen once per heartbeat period); start's signal wins. */
  joinRetry: RetryOptions;
  listener: MembershipListener;
  onError: (error: unknown, where: string) => void;
  clock: MonotonicClock;
}

/** Used until the broker suggests a period. */
const heartbeatIntervalMsInitial = 1_000;

export class GroupMembership {
  private readonly groups: GroupClient;
  private memberIdNow: string | undefined;
  private generationNow = 0;
  private rebalancing = true;
  private heartbeatIntervalMs: number;
  private sessionTimeoutMs: number;
  /** When the last successful heartbeat (or join) was sent. */
  private lastOkSentMs = 0;
  /** Partitions the listener processes now. */
  private readonly assignedKeys = new Set<PartitionKey>();
  /** Revoked partitions the listener is still finishing: owned until it is done. */
  private readonly releasingKeys = new Set<PartitionKey>();
  private leaving = false;
  private readonly stopSignal = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly stableWaiters = new Set<() => void>();

  constructor(private readonly options: GroupMembershipOptions) {
    if (options.topics.length === 0) throw new Error(`membership of group ${options.group}: no topics`);
    const { brokerUrl, token, requestTimeoutMs } = options;
    const http = new BrokerHttp({ brokerUrl, token, ...(requestTimeoutMs === undefined ? {} : { requestTimeoutMs }) });
    this.groups = new GroupClient(http, options.group);
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? heartbeatIntervalMsInitial;
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? Number.POSITIVE_INFINITY;
  }

  get memberId(): string | undefined {
    return this.memberIdNow;
  }

  get generation(): number {
    return this.generationNow;
  }

  get joined(): boolean {
    return this.memberIdNow !== undefined;
  }

  /** Partitions the listener processes now, sorted. */
  assigned(): PartitionKey[] {
    return [...this.assignedKeys].sort();
  }

  /** True while the session is surely alive at the broker: until then nobody else got our partitions. */
  live(nowMs: number): boolean {
    return this.memberIdNow !== undefined && nowMs - this.lastOkSentMs < this.sessionTimeoutMs;
  }

  /**
   * Joins (retrying within `joinRetry`; `signal` cuts that short with
   * RetryAbortedError) and starts heartbeating. Resolves once the first assignment
   * was handed to the listener.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.loop !== undefined || this.leaving)
      throw new Error(`membership of ${this.options.group} already started or left`);
    await retry(() => this.join(), { ...this.options.joinRetry, ...(signal === undefined ? {} : { signal }) });
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

  /**
   * Learns the group's current generation without giving anything up (for a commit
   * refused as stale): every partition held or still finishing is listed as owned.
   */
  async refreshGeneration(): Promise<void> {
    const memberId = this.memberIdNow;
    if (memberId === undefined) throw new Error(`not a member of group ${this.options.group}`);
    const sentMs = this.options.clock();
    const owned = toAssignment(new Set([...this.assignedKeys, ...this.releasingKeys]));
    const state = await this.groups.heartbeat({ memberId, generation: this.generationNow, owned });
    this.lastOkSentMs = sentMs;
    this.generationNow = state.generation;
  }

  /** Stops heartbeating, revokes everything from the listener (cause "leave") and leaves the group. */
  async leave(): Promise<void> {
    if (this.leaving) return;
    this.leaving = true;
    this.stopSignal.abort();
    await this.loop;
    await this.revoke([...this.assignedKeys], "leave");
    const memberId = this.memberIdNow;
    this.memberIdNow = undefined;
    if (memberId === undefined) return;
    await this.groups.leave(memberId).catch((error) => this.options.onError(error, "leave"));
  }

  private joinRequest() {
    const { options } = this;
    return {
      ...(this.memberIdNow === undefined ? {} : { memberId: this.memberIdNow }),
      clientId: options.clientId,
      topics: [...options.topics],
      ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.sessionTimeoutMs }),
      ...(options.resetPolicy === undefined ? {} : { resetPolicy: options.resetPolicy }),
    };
  }

  private async join(): Promise<void> {
    const sentMs = this.options.clock();
    const state = await this.groups.join(this.joinRequest());
    this.memberIdNow = state.memberId;
    this.lastOkSentMs = sentMs;
    await this.apply(state);
  }

  private async runLoop(): Promise<void> {
    const stop = this.stopSignal.signal;
    let again = false;
    while (!stop.aborted) {
      if (!again) await sleep(this.periodMs(), stop);
      if (stop.aborted) return;
      again = await this.tick();
    }
  }

  private periodMs(): number {
    const steady = this.options.heartbeatIntervalMs ?? this.heartbeatIntervalMs;
    return this.rebalancing ? (this.options.rebalanceHeartbeatIntervalMs ?? steady) : steady;
  }

  /** One heartbeat (or a rejoin); true when partitions were just let go of and the broker must hear at once. */
  private async tick(): Promise<boolean> {
    const memberId = this.memberIdNow;
    if (memberId === undefined) {
      await this.join().catch((error) => this.options.onError(error, "rejoin"));
      return false;
    }
    const sentMs = this.options.clock();
    let state: MemberAssignment;
    try {
      const owned = toAssignment(this.assignedKeys);
      state = await this.groups.heartbeat({ memberId, generation: this.generationNow, owned });
      this.lastOkSentMs = sentMs;
    } catch (error) {
      await this.onHeartbeatError(error);
      return false;
    }
    try {
      return await this.apply(state);
    } catch (error) {
      // The listener failed to start a partition: it is still ours at the broker, and
      // the next answer lists it again, so the next tick tries once more.
      this.options.onError(error, "assignment");
      return false;
    }
  }

  private async onHeartbeatError(error: unknown): Promise<void> {
    this.options.onError(error, "heartbeat");
    const status = error instanceof BrokerClientError ? error.status : 0;
    // 410 unknown_member: evicted or fenced; 404: the group itself is gone.
    const evicted = status === 410 || status === 404;
    const lost = evicted || !this.live(this.options.clock());
    if (lost) {
      // Another member may own our partitions now: stop before anything else.
      const keys = [...this.assignedKeys];
      this.assignedKeys.clear();
      if (keys.length > 0) await this.options.listener.onLost(keys);
      if (evicted) this.memberIdNow = undefined;
    }
    // 409: stale generation or not assigned: our view is behind; a rejoin brings it up to date.
    if (lost || status === 409) await this.join().catch((joinError) => this.options.onError(joinError, "rejoin"));
  }

  /** Takes a broker answer: revoked partitions first (finished by the listener), then the granted ones. */
  private async apply(state: MemberAssignment): Promise<boolean> {
    if (state.memberId !== this.memberIdNow) {
      throw new Error(`group ${this.options.group} answered member ${state.memberId}, we are ${this.memberIdNow}`);
    }
    this.generationNow = state.generation;
    this.rebalancing = state.rebalancing;
    this.heartbeatIntervalMs = state.heartbeatIntervalMs;
    this.sessionTimeoutMs = state.sessionTimeoutMs;
    const wanted = assignmentKeys(state.assignment);
    const revoked = [...this.assignedKeys].filter((key) => !wanted.has(key));
    await this.revoke(revoked, "rebalance");
    const added = [...wanted].filter((key) => !this.assignedKeys.has(key));
    if (added.length > 0 && !this.leaving) {
      await this.options.listener.onAssigned(added);
      for (const key of added) this.assignedKeys.add(key);
    }
    if (!this.rebalancing) for (const release of this.stableWaiters) release();
    return revoked.length > 0;
  }

  private async revoke(keys: readonly PartitionKey[], cause: RevokeCause): Promise<void> {
    if (keys.length === 0) return;
    for (const key of keys) {
      this.assignedKeys.delete(key);
      this.releasingKeys.add(key);
    }
    try {
      await this.options.listener.onRevoked(keys, cause);
    } finally {
      for (const key of keys) this.releasingKeys.delete(key);
    }
  }
}
