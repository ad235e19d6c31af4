import {
  type MemberAssignment,
  type OffsetResetPolicy,
  type PartitionOffset,
  resetOffset,
} from "../broker-protocol/group-protocol.ts";
import { brokerRoutes, routeRequest } from "../broker-protocol/routes.ts";
import { type BackoffOptions, defaultBackoff } from "../runtime/backoff.ts";
import { retry } from "../runtime/retry.ts";
import { sleep } from "../runtime/sleep.ts";
import { ByteBudget } from "./byte-budget.ts";
import type { ConsumedBatch } from "./consumed-batch.ts";
import { assignmentKeys, GroupClient, parseKey, toAssignment } from "./group-client.ts";
import { BrokerClientError, BrokerHttp, isRetryableError } from "./http-client.ts";
import { PartitionFetcher } from "./partition-fetcher.ts";

export type { ConsumedBatch };

export interface ConsumerOptions {
  brokerUrl: string;
  group: string;
  topics: string[];
  clientId?: string;
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
  clock?: () => number;
}

/**
 * A consumer-group member. Joins, heartbeats, runs one fetch loop per assigned
 * partition and commits what the handler has processed. On a rebalance a revoked
 * partition's loop is stopped (its in-flight handler awaited), its offset committed,
 * and only then the broker is told (heartbeat), so no record is handled by two
 * members at once and none is skipped.
 */
export class Consumer {
  private readonly http: BrokerHttp;
  private readonly groups: GroupClient;
  private readonly budget: ByteBudget;
  private readonly clock: () => number;
  private readonly fetchers = new Map<string, PartitionFetcher>();
  private readonly processed = new Map<string, number>();
  private readonly committed = new Map<string, number>();
  private memberId: string | undefined;
  private generation = 0;
  private heartbeatIntervalMs = 1_000;
  private lastHeartbeatOkMs = 0;
  private closing = false;
  private readonly stopSignal = new AbortController();
  private memberLoop: Promise<void> | undefined;
  private commitChain: Promise<void> = Promise.resolve();
  private lastCommitMs = 0;

  constructor(readonly options: ConsumerOptions) {
    this.http = new BrokerHttp({ brokerUrl: options.brokerUrl });
    this.groups = new GroupClient(this.http, options.group);
    this.budget = new ByteBudget(options.inFlightBytesMax ?? 32 * 1024 * 1024);
    this.clock = options.clock ?? Date.now;
  }

  get id(): string | undefined {
    return this.memberId;
  }

  get currentGeneration(): number {
    return this.generation;
  }

  /** Partitions this member fetches now, as "topic/partition". */
  assigned(): string[] {
    return [...this.fetchers.keys()].sort();
  }

  /** Joins the group and starts fetching; resolves after the first assignment is running. */
  async start(): Promise<void> {
    if (this.memberLoop !== undefined) throw new Error(`consumer of group ${this.options.group} already started`);
    await retry(() => this.join(), {
      deadlineMs: this.options.connectTimeoutMs ?? 30_000,
      backoff: this.options.backoff ?? defaultBackoff,
      isRetryable: isRetryableError,
    });
    this.memberLoop = this.runMemberLoop();
  }

  /** Commits every processed offset not committed yet. */
  commit(): Promise<void> {
    const run = this.commitChain.then(() => this.commitNow([...this.processed.keys()]));
    this.commitChain = run.catch(() => undefined);
    return run;
  }

  /** Stops fetching, waits for handlers, commits, leaves the group. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.stopSignal.abort();
    await this.memberLoop;
    await this.stopFetchers([...this.fetchers.keys()]);
    await this.commit().catch((error) => this.reportError(error, "final commit"));
    if (this.memberId !== undefined) {
      await this.groups.leave(this.memberId).catch((error) => this.reportError(error, "leave"));
    }
  }

  private async join(): Promise<void> {
    const state = await this.groups.join({
      ...(this.memberId === undefined ? {} : { memberId: this.memberId }),
      clientId: this.options.clientId ?? `consumer-${process.pid}`,
      topics: this.options.topics,
      ...(this.options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: this.options.sessionTimeoutMs }),
      ...(this.options.resetPolicy === undefined ? {} : { resetPolicy: this.options.resetPolicy }),
    });
    this.memberId = state.memberId;
    this.heartbeatIntervalMs = state.heartbeatIntervalMs;
    this.lastHeartbeatOkMs = this.clock();
    await this.reconcile(state);
  }

  /** One loop for heartbeats and auto-commits, so membership changes never race each other. */
  private async runMemberLoop(): Promise<void> {
    let heartbeatNow = false;
    let lastHeartbeatMs = this.clock();
    while (!this.closing) {
      if (!heartbeatNow) await sleep(this.tickMs(lastHeartbeatMs), this.stopSignal.signal);
      if (this.closing) return;
      if (heartbeatNow || this.clock() - lastHeartbeatMs >= this.heartbeatIntervalMs) {
        lastHeartbeatMs = this.clock();
        heartbeatNow = await this.heartbeatOnce();
      }
      await this.autoCommit();
    }
  }

  /** Sleep until the next heartbeat or auto-commit is due, whichever comes first. */
  private tickMs(lastHeartbeatMs: number): number {
    const untilHeartbeatMs = lastHeartbeatMs + this.heartbeatIntervalMs - this.clock();
    const commitIntervalMs = this.options.autoCommitIntervalMs ?? 1_000;
    const untilCommitMs =
      commitIntervalMs === 0 ? untilHeartbeatMs : this.lastCommitMs + commitIntervalMs - this.clock();
    return Math.max(1, Math.min(untilHeartbeatMs, untilCommitMs));
  }

  /** Returns true when the member must heartbeat again at once (it just let partitions go). */
  private async heartbeatOnce(): Promise<boolean> {
    const memberId = this.memberId;
    if (memberId === undefined) {
      // Evicted earlier and the rejoin failed: keep trying on every tick.
      await this.join().catch((error) => this.reportError(error, "rejoin"));
      return false;
    }
    try {
      const owned = toAssignment(this.fetchers.keys());
      const state = await this.groups.heartbeat({ memberId, generation: this.generation, owned });
      this.lastHeartbeatOkMs = this.clock();
      return await this.reconcile(state);
    } catch (error) {
      return await this.onHeartbeatError(error);
    }
  }

  private async onHeartbeatError(error: unknown): Promise<boolean> {
    this.reportError(error, "heartbeat");
    const status = error instanceof BrokerClientError ? error.status : 0;
    const silentMs = this.clock() - this.lastHeartbeatOkMs;
    const sessionMs = this.options.sessionTimeoutMs ?? 10_000;
    if (status === 410 || status === 404 || silentMs >= sessionMs) {
      // Evicted (or as good as): another member may own our partitions now.
      await this.stopFetchers([...this.fetchers.keys()]);
      this.processed.clear();
      this.committed.clear();
      if (status === 410 || status === 404) this.memberId = undefined;
      await this.join().catch((joinError) => this.reportError(joinError, "rejoin"));
      return false;
    }
    if (status === 409) {
      await this.join().catch((joinError) => this.reportError(joinError, "rejoin"));
    }
    return false;
  }

  /** Applies an assignment: revoke what left it (commit first), start what joined it. */
  private async reconcile(state: MemberAssignment): Promise<boolean> {
    this.generation = state.generation;
    this.heartbeatIntervalMs = state.heartbeatIntervalMs;
    const wanted = assignmentKeys(state.assignment);
    const revoked = [...this.fetchers.keys()].filter((key) => !wanted.has(key));
    if (revoked.length > 0) {
      await this.stopFetchers(revoked);
      await this.commitChain;
      await this.commitNow(revoked).catch((error) => this.reportError(error, "commit on revoke"));
      for (const key of revoked) {
        this.processed.delete(key);
        this.committed.delete(key);
      }
    }
    const added = [...wanted].filter((key) => !this.fetchers.has(key));
    if (added.length > 0 && !this.closing) await this.startFetchers(added);
    return revoked.length > 0;
  }

  private async stopFetchers(keys: string[]): Promise<void> {
    const stopping = keys.map(async (key) => {
      const fetcher = this.fetchers.get(key);
      if (fetcher === undefined) return;
      await fetcher.stop();
      this.fetchers.delete(key);
    });
    await Promise.all(stopping);
  }

  private async startFetchers(keys: string[]): Promise<void> {
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
  private async startPositions(keys: string[]): Promise<Map<string, number>> {
    const positions = new Map<string, number>();
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

  private onProcessed(key: string, nextOffset: number): void {
    this.processed.set(key, nextOffset);
    if ((this.options.autoCommitIntervalMs ?? 1_000) === 0) void this.commit().catch(() => undefined);
  }

  private async autoCommit(): Promise<void> {
    const intervalMs = this.options.autoCommitIntervalMs ?? 1_000;
    if (this.clock() - this.lastCommitMs < intervalMs) return;
    this.lastCommitMs = this.clock();
    await this.commit().catch((error) => this.reportError(error, "auto-commit"));
  }

  private async commitNow(keys: string[]): Promise<void> {
    const memberId = this.memberId;
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
      await this.groups.commit({ memberId, generation: this.generation, offsets });
    } catch (error) {
      // The group moved on (a member joined or left) since our last heartbeat: learn the
      // generation while keeping our partitions, then commit once more.
      if (!(error instanceof BrokerClientError) || error.code !== "stale_generation") throw error;
      await this.refreshGeneration(memberId);
      await this.groups.commit({ memberId, generation: this.generation, offsets });
    }
    for (const entry of offsets) this.committed.set(`${entry.topic}/${entry.partition}`, entry.offset);
  }

  /** A heartbeat that keeps every partition we hold or have uncommitted offsets for. */
  private async refreshGeneration(memberId: string): Promise<void> {
    const owned = toAssignment(new Set([...this.fetchers.keys(), ...this.processed.keys()]));
    const state = await this.groups.heartbeat({ memberId, generation: this.generation, owned });
    this.lastHeartbeatOkMs = this.clock();
    this.generation = state.generation;
  }

  private reportError(error: unknown, where: string): void {
    this.options.onError?.(error, where);
  }
}
