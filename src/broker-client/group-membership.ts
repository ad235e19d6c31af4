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
 *   (`onRevoked`: stop it, commit it); while that runs it is listed as still owned in
 *   every heartbeat, and the heartbeat that follows its end is what hands it to its
 *   next owner.
 * - Newly assigned partitions are given to the listener (`onAssigned`).
 * - Listener calls run one at a time, in the order the answers asked for them, but
 *   never hold up the heartbeats: a listener finishing a slow insert or flush keeps
 *   its session (and its partitions) instead of being evicted for its silence.
 * - Liveness counts from when the last successful heartbeat (or join) was *sent*:
 *   once a session has passed since, or the broker answers unknown_member (evicted,
 *   fenced), the partitions are lost (`onLost`: stop, do not commit) and the member
 *   joins anew.
 * - With an instance id (static membership, Kafka's group.instance.id) a restarted
 *   process takes its predecessor's partitions back at once; the predecessor, if it
 *   still runs, is fenced (`fenced_instance`) and stops for good (`onFenced`).
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
  /**
   * A stable identity across restarts (the pod or process name): a new process with
   * the same id takes the partitions of the old one at once, without a rebalance.
   * Two live processes must never share one.
   */
  instanceId?: string;
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
  /** Another process joined with this member's instance id: this one has stopped for good. */
  onFenced?: (error: unknown) => void;
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
  /** Granted partitions whose onAssigned is queued or running. */
  private readonly startingKeys = new Set<PartitionKey>();
  /** Revoked partitions the listener is still finishing: owned until it is done. */
  private readonly releasingKeys = new Set<PartitionKey>();
  /** Listener calls, chained: one at a time, in order. */
  private listenerWork: Promise<void> = Promise.resolve();
  private leaving = false;
  private fenced = false;
  private readonly stopSignal = new AbortController();
  private loop: Promise<void> | undefined;
  /** Ends the loop's wait early: a revocation finished and the broker must hear of it now. */
  private beatNow: (() => void) | undefined;
  private beatAgain = false;
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

  /** True once another process took this member's instance id: it never joins again. */
  get isFenced(): boolean {
    return this.fenced;
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
    await this.listenerWork;
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
    const state = await this.groups.heartbeat({ memberId, generation: this.generationNow, owned: this.owned() });
    this.lastOkSentMs = sentMs;
    this.generationNow = state.generation;
  }

  /**
   * Revokes everything from the listener (cause "leave") while still heartbeating,
   * then stops heartbeating and leaves the group.
   */
  async leave(): Promise<void> {
    if (this.leaving) return;
    this.leaving = true;
    this.queueRevoke([...this.assignedKeys, ...this.startingKeys], "leave");
    await this.listenerWork;
    this.stopSignal.abort();
    this.beatNow?.();
    await this.loop;
    const memberId = this.memberIdNow;
    this.memberIdNow = undefined;
    if (memberId === undefined) return;
    await this.groups.leave(memberId).catch((error) => this.options.onError(error, "leave"));
  }

  /** What the broker must keep ours: processed, being started, or being finished. */
  private owned() {
    return toAssignment(new Set([...this.assignedKeys, ...this.startingKeys, ...this.releasingKeys]));
  }

  private joinRequest() {
    const { options } = this;
    return {
      ...(this.memberIdNow === undefined ? {} : { memberId: this.memberIdNow }),
      clientId: options.clientId,
      ...(options.instanceId === undefined ? {} : { instanceId: options.instanceId }),
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
    this.apply(state);
  }

  private async runLoop(): Promise<void> {
    const stop = this.stopSignal.signal;
    while (!stop.aborted && !this.fenced) {
      await this.waitForBeat(stop);
      if (stop.aborted) return;
      await this.tick();
    }
  }

  /** Sleeps a heartbeat period, or less when a finished revocation must be told at once. */
  private async waitForBeat(stop: AbortSignal): Promise<void> {
    if (this.beatAgain) {
      this.beatAgain = false;
      return;
    }
    const woken = new Promise<void>((resolve) => {
      this.beatNow = resolve;
    });
    await Promise.race([sleep(this.periodMs(), stop), woken]);
    this.beatNow = undefined;
    this.beatAgain = false;
  }

  /** A revocation finished: heartbeat now (or right after the heartbeat under way). */
  private heartbeatSoon(): void {
    if (this.beatNow !== undefined) this.beatNow();
    else this.beatAgain = true;
  }

  private periodMs(): number {
    const steady = this.options.heartbeatIntervalMs ?? this.heartbeatIntervalMs;
    return this.rebalancing ? (this.options.rebalanceHeartbeatIntervalMs ?? steady) : steady;
  }

  /** One heartbeat (or a rejoin). */
  private async tick(): Promise<void> {
    const memberId = this.memberIdNow;
    if (memberId === undefined) {
      await this.join().catch((error) => this.onJoinError(error));
      return;
    }
    const sentMs = this.options.clock();
    let state: MemberAssignment;
    try {
      state = await this.groups.heartbeat({ memberId, generation: this.generationNow, owned: this.owned() });
      this.lastOkSentMs = sentMs;
    } catch (error) {
      await this.onHeartbeatError(error);
      return;
    }
    this.apply(state);
  }

  private async onHeartbeatError(error: unknown): Promise<void> {
    const code = error instanceof BrokerClientError ? error.code : "";
    if (code === "fenced_instance") {
      this.fence(error);
      return;
    }
    this.options.onError(error, "heartbeat");
    const status = error instanceof BrokerClientError ? error.status : 0;
    // 410 unknown_member: evicted or fenced; 404: the group itself is gone.
    const evicted = status === 410 || status === 404;
    const lost = evicted || !this.live(this.options.clock());
    if (lost) {
      // Another member may own our partitions now: stop before anything else.
      this.queueLost();
      if (evicted) this.memberIdNow = undefined;
    }
    // 409: stale generation or not assigned: our view is behind; a rejoin brings it up to date.
    if (lost || status === 409) await this.join().catch((joinError) => this.onJoinError(joinError));
  }

  private onJoinError(error: unknown): void {
    if (error instanceof BrokerClientError && error.code === "fenced_instance") this.fence(error);
    else this.options.onError(error, "rejoin");
  }

  /** Another process has our instance id: stop everything and never come back. */
  private fence(error: unknown): void {
    if (this.fenced) return;
    this.fenced = true;
    this.queueLost();
    this.memberIdNow = undefined;
    this.options.onError(error, "fenced");
    this.options.onFenced?.(error);
  }

  /**
   * Takes a broker answer: revocations and grants are queued for the listener (in
   * that order); the heartbeats go on meanwhile.
   */
  private apply(state: MemberAssignment): void {
    if (state.memberId !== this.memberIdNow) {
      throw new Error(`group ${this.options.group} answered member ${state.memberId}, we are ${this.memberIdNow}`);
    }
    this.generationNow = state.generation;
    this.rebalancing = state.rebalancing;
    this.heartbeatIntervalMs = state.heartbeatIntervalMs;
    this.sessionTimeoutMs = state.sessionTimeoutMs;
    const wanted = assignmentKeys(state.assignment);
    const held = [...this.assignedKeys, ...this.startingKeys];
    this.queueRevoke(
      held.filter((key) => !wanted.has(key)),
      "rebalance",
    );
    const added = [...wanted].filter((key) => !this.assignedKeys.has(key) && !this.startingKeys.has(key));
    if (added.length > 0 && !this.leaving) this.queueAssign(added);
    if (!this.rebalancing) for (const release of this.stableWaiters) release();
  }

  private enqueue(task: () => Promise<void>): void {
    this.listenerWork = this.listenerWork.then(task);
  }

  private queueAssign(keys: readonly PartitionKey[]): void {
    for (const key of keys) this.startingKeys.add(key);
    this.enqueue(async () => {
      // Revoked or lost before its turn came: nothing to start.
      const starting = keys.filter((key) => this.startingKeys.has(key));
      if (starting.length === 0) return;
      try {
        await this.options.listener.onAssigned(starting);
      } catch (error) {
        // Still ours at the broker: the next answer lists it again and it is retried then.
        for (const key of starting) this.startingKeys.delete(key);
        this.options.onError(error, "assignment");
        return;
      }
      for (const key of starting) {
        if (!this.startingKeys.delete(key)) continue;
        this.assignedKeys.add(key);
      }
    });
  }

  private queueRevoke(keys: readonly PartitionKey[], cause: RevokeCause): void {
    if (keys.length === 0) return;
    for (const key of keys) {
      this.assignedKeys.delete(key);
      this.startingKeys.delete(key);
      this.releasingKeys.add(key);
    }
    this.enqueue(async () => {
      try {
        await this.options.listener.onRevoked(keys, cause);
      } catch (error) {
        this.options.onError(error, "revoke");
      } finally {
        for (const key of keys) this.releasingKeys.delete(key);
        this.heartbeatSoon();
      }
    });
  }

  /** The session is gone: everything held is stopped without a commit. */
  private queueLost(): void {
    const keys = [...this.assignedKeys, ...this.startingKeys];
    this.assignedKeys.clear();
    this.startingKeys.clear();
    if (keys.length === 0) return;
    this.enqueue(async () => {
      try {
        await this.options.listener.onLost(keys);
      } catch (error) {
        this.options.onError(error, "lost");
      }
    });
  }
}
