import { type OffsetResetPolicy, type PartitionOffset, resetOffset } from "../broker-protocol/group-protocol.ts";
import { brokerRoutes, routeRequest } from "../broker-protocol/routes.ts";
import { type BackoffOptions, defaultBackoff } from "../runtime/backoff.ts";
import { type MonotonicClock, monotonicMs } from "../runtime/clock.ts";
import { sleep } from "../runtime/sleep.ts";
import { ByteBudget } from "./byte-budget.ts";
import type { ConsumedBatch } from "./consumed-batch.ts";
import { GroupClient } from "./group-client.ts";
import { GroupMembership, type MembershipListener, type RevokeCause } from "./group-membership.ts";
import { BrokerClientError, type BrokerConnection, BrokerHttp, isRetryableError } from "./http-client.ts";
import { PartitionFetcher } from "./partition-fetcher.ts";
import { type PartitionKey, parseKey } from "./partition-keys.ts";

export type { ConsumedBatch };

export interface ConsumerOptions extends BrokerConnection {
  group: string;
  topics: string[];
  clientId?: string;
  /** Static membership (group-membership.ts): a restart with the same id takes the partitions back at once. */
  instanceId?: string;
  /** Another process joined with our instance id: this consumer has stopped for good. */
  onFenced?: (error: unknown) => void;
  /** Called once per fetched batch of a partition; the offsets are committed only after it resolves. */
  eachBatch: (batch: ConsumedBatch) => Promise<void> | void;
  sessionTimeoutMs?: number;
  /** Where a partition without a committed offset starts (set when the group is created). */
  resetPolicy?: OffsetResetPolicy;
  /** Bound on one fetch response. */
  fetchBytesMax?: number;
  /** Long-poll wait of a fetch at the end of the log. */
  fetchWaitMs?: number;
  /** Bytes fetched but not yet handled, over all partitions. */
  inFlightBytesMax?: number;
  /** Commit processed offsets this often; 0 commits after every batch. */
  autoCommitIntervalMs?: number;
  backoff?: BackoffOptions;
  /** How long `start` keeps retrying the first join while the broker is unreachable. */
  connectTimeoutMs?: number;
  /** Errors the consumer recovers from (fetch failures, handler throws, lost heartbeats). */
  onError?: (error: unknown, where: string) => void;
  /** For heartbeats, sessions and auto-commits: durations only. */
  clock?: MonotonicClock;
}

/** Heartbeat period while the group's partitions move. */
const rebalanceHeartbeatIntervalMs = 200;

/**
 * A consumer-group member: the group membership (group-membership.ts) hands it
 * partitions; it runs one fetch loop per partition and commits what the handler
 * has processed. A revoked partition's loop is stopped (its in-flight handler
 * awaited) and its offset committed before the membership tells the broker, so no
 * record is handled by two members at once and none is skipped.
 */
export class Consumer {
  private readonly http: BrokerHttp;
  private readonly groups: GroupClient;
  private readonly membership: GroupMembership;
  private readonly budget: ByteBudget;
  private readonly clock: MonotonicClock;
  private readonly fetchers = new Map<PartitionKey, PartitionFetcher>();
  private readonly processed = new Map<PartitionKey, number>();
  private readonly committed = new Map<PartitionKey, number>();
  private closing = false;
  private readonly stopSignal = new AbortController();
  private commitLoop: Promise<void> | undefined;
  private commitChain: Promise<void> = Promise.resolve();

  constructor(readonly options: ConsumerOptions) {
    this.http = new BrokerHttp({ brokerUrl: options.brokerUrl, token: options.token });
    this.groups = new GroupClient(this.http, options.group);
    this.budget = new ByteBudget(options.inFlightBytesMax ?? 32 * 1024 * 1024);
    this.clock = options.clock ?? monotonicMs;
    this.membership = new GroupMembership({
      brokerUrl: options.brokerUrl,
      token: options.token,
      group: options.group,
      topics: options.topics,
      clientId: options.clientId ?? `consumer-${process.pid}`,
      ...(options.instanceId === undefined ? {} : { instanceId: options.instanceId }),
      ...(options.onFenced === undefined ? {} : { onFenced: options.onFenced }),
      ...(options.sessionTimeoutMs === undefined
        ? {}
        : { sessionTimeoutMs: options.sessionTimeoutMs, requestTimeoutMs: Math.ceil(options.sessionTimeoutMs / 3) }),
      ...(options.resetPolicy === undefined ? {} : { resetPolicy: options.resetPolicy }),
      // Granted partitions are picked up within this while a rebalance is under way.
      rebalanceHeartbeatIntervalMs: rebalanceHeartbeatIntervalMs,
      joinRetry: {
        deadlineMs: options.connectTimeoutMs ?? 30_000,
        backoff: options.backoff ?? defaultBackoff,
        isRetryable: isRetryableError,
      },
      listener: this.listener(),
      onError: (error, where) => this.reportError(error, where),
      clock: this.clock,
    });
  }

  get id(): string | undefined {
    return this.membership.memberId;
  }

  get currentGeneration(): number {
    return this.membership.generation;
  }

  /** Partitions this member fetches now, as "topic/partition". */
  assigned(): string[] {
    return [...this.fetchers.keys()].sort();
  }

  /** Joins the group and starts fetching; resolves after the first assignment is running. */
  async start(): Promise<void> {
    if (this.commitLoop !== undefined) throw new Error(`consumer of group ${this.options.group} already started`);
    await this.membership.start();
    this.commitLoop = this.runAutoCommit();
  }

  /** Commits every processed offset not committed yet. */
  commit(): Promise<void> {
    return this.enqueueCommit(() => [...this.processed.keys()]);
  }

  /** Stops fetching, waits for handlers, commits, leaves the group. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.stopSignal.abort();
    await this.commitLoop;
    // Leaving revokes every partition first: fetch loops stop, their offsets are committed.
    await this.membership.leave();
  }

  private listener(): MembershipListener {
    return {
      onAssigned: (keys) => this.startFetchers(keys),
      onRevoked: (keys, cause) => this.onRevoked(keys, cause),
      onLost: async (keys) => {
        // Another member may own these now: stop, and forget offsets we may no longer commit.
        await this.stopFetchers(keys);
        for (const key of keys) {
          this.processed.delete(key);
          this.committed.delete(key);
        }
      },
    };
  }

  /** Stops the partitions' loops, then commits what they processed: they are still ours until this resolves. */
  private async onRevoked(keys: readonly PartitionKey[], cause: RevokeCause): Promise<void> {
    await this.stopFetchers(keys);
    const where = cause === "leave" ? "final commit" : "commit on revoke";
    await this.enqueueCommit(() => keys).catch((error) => this.reportError(error, where));
    for (const key of keys) {
      this.processed.delete(key);
      this.committed.delete(key);
    }
  }

  private async runAutoCommit(): Promise<void> {
    const intervalMs = this.options.autoCommitIntervalMs ?? 1_000;
    // 0 commits after every batch (onProcessed): nothing to do on a timer then.
    if (intervalMs === 0) return;
    while (!this.closing) {
      await sleep(intervalMs, this.stopSignal.signal);
      if (this.closing) return;
      await this.commit().catch((error) => this.reportError(error, "auto-commit"));
    }
  }

  private async stopFetchers(keys: readonly PartitionKey[]): Promise<void> {
    const stopping = keys.map(async (key) => {
      const fetcher = this.fetchers.get(key);
      if (fetcher === undefined) return;
      await fetcher.stop();
      this.fetchers.delete(key);
    });
    await Promise.all(stopping);
  }

  private async startFetchers(keys: readonly PartitionKey[]): Promise<void> {
    const positions = await this.startPositions(keys);
    for (const key of keys) {
      const { topic, partition } = parseKey(key);
      const startOffset = positions.get(key)!;
      this.committed.set(key, startOffset);
      const fetcher = new PartitionFetcher({
        http: this.http,
        topic,
        partition,
        startOffset,
        fetchBytesMax: this.options.fetchBytesMax ?? 1024 * 1024,
        fetchWaitMs: this.options.fetchWaitMs ?? 500,
        budget: this.budget,
        backoff: this.options.backoff ?? defaultBackoff,
        handler: this.options.eachBatch,
        onProcessed: (nextOffset) => this.onProcessed(key, nextOffset),
        onError: (error, where) => this.reportError(error, where),
      });
      this.fetchers.set(key, fetcher);
      fetcher.start();
    }
  }

  /** Committed offsets, or the group's reset policy applied to the partition's bounds. */
  private async startPositions(keys: readonly PartitionKey[]): Promise<Map<PartitionKey, number>> {
    const positions = new Map<PartitionKey, number>();
    const topics = new Set(keys.map((key) => parseKey(key).topic));
    for (const topic of topics) {
      const [offsets, info] = await Promise.all([
        this.groups.offsets(topic),
        this.http.json(routeRequest(brokerRoutes.describeTopic, { topic })),
      ]);
      const committed = new Map(offsets.offsets.map((entry) => [entry.partition, entry.offset]));
      for (const partitionInfo of info.partitions) {
        const key = `${topic}/${partitionInfo.partition}`;
        const stored = committed.get(partitionInfo.partition);
        const usable =
          stored !== undefined && stored >= partitionInfo.logStartOffset && stored <= partitionInfo.highWatermark;
        positions.set(key, usable ? stored : resetOffset(offsets.resetPolicy, partitionInfo));
      }
    }
    for (const key of keys) if (!positions.has(key)) throw new Error(`no start position for ${key}`);
    return positions;
  }

  private onProcessed(key: PartitionKey, nextOffset: number): void {
    this.processed.set(key, nextOffset);
    if ((this.options.autoCommitIntervalMs ?? 1_000) === 0) void this.commit().catch(() => undefined);
  }

  /** Commits run one at a time, in order: a revocation's final commit never races an auto-commit. */
  private enqueueCommit(keysOf: () => readonly PartitionKey[]): Promise<void> {
    const run = this.commitChain.then(() => this.commitNow(keysOf()));
    this.commitChain = run.catch(() => undefined);
    return run;
  }

  private async commitNow(keys: readonly PartitionKey[]): Promise<void> {
    const memberId = this.membership.memberId;
    if (memberId === undefined) return;
    const offsets: PartitionOffset[] = [];
    for (const key of keys) {
      const offset = this.processed.get(key);
      if (offset === undefined || offset === this.committed.get(key)) continue;
      const { topic, partition } = parseKey(key);
      offsets.push({ topic, partition, offset });
    }
    if (offsets.length === 0) return;
    try {
      await this.groups.commit({ memberId, generation: this.membership.generation, offsets });
    } catch (error) {
      // The group moved on (a member joined or left) since our last heartbeat: learn the
      // generation while keeping our partitions, then commit once more.
      if (!(error instanceof BrokerClientError) || error.code !== "stale_generation") throw error;
      await this.membership.refreshGeneration();
      await this.groups.commit({ memberId, generation: this.membership.generation, offsets });
    }
    for (const entry of offsets) this.committed.set(`${entry.topic}/${entry.partition}`, entry.offset);
  }

  private reportError(error: unknown, where: string): void {
    this.options.onError?.(error, where);
  }
}
