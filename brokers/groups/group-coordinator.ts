import { randomUUID } from "node:crypto";
import type {
  Assignment,
  CommitOffsetsResponse,
  GroupDescription,
  GroupLag,
  GroupOffsets,
  GroupSummary,
  JoinGroupRequest,
  MemberAssignment,
  PartitionOffset,
  ResetOffsetsResult,
} from "../../src/broker-protocol/group-protocol.ts";
import type { MonotonicClock } from "../../src/runtime/clock.ts";
import { CheckpointFlusher } from "./checkpoint-flusher.ts";
import { CheckpointStore } from "./checkpoint-store.ts";
import { ConsumerGroup, type MemberRecord, partitionKey } from "./consumer-group.ts";
import {
  CoordinatorClosedError,
  FencedInstanceError,
  GroupLimitError,
  InvalidGroupRequestError,
  NotAssignedError,
  PartitionOwnedError,
  StaleGenerationError,
  UnknownGroupError,
  UnknownMemberError,
} from "./errors.ts";
import { checkpointOf, groupFromCheckpoint } from "./group-checkpoint.ts";
import { type GroupLimits, resolveGroupLimits } from "./group-limits.ts";
import {
  describeGroup,
  lagOf,
  type PartitionBounds,
  type PartitionBoundsOf,
  startOffsetFor,
  topicOffsetsOf,
} from "./group-views.ts";
import { validateGeneration, validateGroupName, validateJoin, validateOffsets } from "./request-validation.ts";

export interface GroupCoordinatorOptions {
  /** Directory of the group checkpoints (one file per group). */
  dataDir: string;
  /**
   * Sessions, revocation timeouts and silentMs run on it, never on the wall clock: a
   * wall-clock step (NTP, an operator) must not evict a member nor keep a dead one.
   */
  clock: MonotonicClock;
  /** Partitions of a topic, undefined when the topic does not exist. */
  partitionCount(topic: string): number | undefined;
  limits?: Partial<GroupLimits>;
  /**
   * Called when a checkpoint write fails (`failures` in a row so far); it is retried
   * with backoff. Requests waiting on it get the error (a commit: 503 on a full disk).
   */
  onFlushError?: (error: unknown, failures: number) => void;
}

export type { PartitionBounds, PartitionBoundsOf } from "./group-views.ts";

/** An offset reset with every target resolved to an offset (the HTTP layer resolves times and ends of the log). */
export interface OffsetReset {
  topic: string;
  /** Next offset to consume, per partition. */
  offsets: readonly { partition: number; offset: number }[];
  dryRun: boolean;
}

/**
 * A member removed (session_timeout: its partitions move now) or fenced
 * (revocation_timeout: refused from now on, removed once its session times out).
 */
export interface EvictedMember {
  group: string;
  memberId: string;
  clientId: string;
  reason: "session_timeout" | "revocation_timeout";
}

/**
 * The consumer-group coordinator: membership, sticky broker-side assignment with
 * cooperative hand-over (see src/broker-protocol/group-protocol.ts for the contract), fencing
 * by generation and ownership, and durable committed offsets. Transport-agnostic:
 * the HTTP server wraps it. Every request that changes state is answered only
 * after that state is durable.
 */
export class GroupCoordinator {
  private readonly groups = new Map<string, ConsumerGroup>();
  private readonly flusher: CheckpointFlusher;
  private closed = false;

  private constructor(
    private readonly options: GroupCoordinatorOptions,
    readonly limits: GroupLimits,
    store: CheckpointStore,
  ) {
    this.flusher = new CheckpointFlusher(store, {
      snapshot: (name) => {
        const group = this.groups.get(name);
        return group === undefined ? undefined : { checkpoint: checkpointOf(group), changeNumber: group.changeNumber };
      },
      ...(options.onFlushError === undefined ? {} : { onError: options.onFlushError }),
    });
  }

  /**
   * Loads every group checkpoint in `dataDir`. Checkpoints hold no clock readings
   * (a monotonic reading means nothing in another process), so every member counts as
   * just heard from and every revocation timer starts now.
   */
  static async open(options: GroupCoordinatorOptions): Promise<GroupCoordinator> {
    const limits = resolveGroupLimits(options.limits);
    const { store, checkpoints } = await CheckpointStore.open({
      directory: options.dataDir,
      checkpointBytesMax: limits.checkpointBytesMax,
    });
    const coordinator = new GroupCoordinator(options, limits, store);
    const nowMs = options.clock();
    for (const checkpoint of checkpoints) {
      const group = groupFromCheckpoint(checkpoint, nowMs);
      coordinator.groups.set(checkpoint.group, group);
      coordinator.trackRevocations(group);
    }
    return coordinator;
  }

  /** Flush rounds written so far (each is one fsync of every dirty group). */
  get flushRoundCount(): number {
    return this.flusher.roundCount;
  }

  /**
   * Joins a member (no memberId: a new member with a fresh id) or updates a known
   * one. A new member or changed topics start a new generation.
   */
  async join(groupName: string, request: JoinGroupRequest): Promise<MemberAssignment> {
    this.assertOpen();
    const topics = validateJoin({
      groupName,
      request,
      limits: this.limits,
      partitionCount: this.options.partitionCount,
    });
    const sessionTimeoutMs = request.sessionTimeoutMs ?? this.limits.sessionTimeoutMsDefault;
    const existing = this.groups.get(groupName);
    if (existing !== undefined) this.evictExpired(existing);
    const group = this.groups.get(groupName) ?? this.createGroup(groupName);
    group.beginChange();
    const fields = { clientId: request.clientId, instanceId: request.instanceId, topics, sessionTimeoutMs };
    let member: MemberRecord;
    try {
      member = this.joinMember(group, request.memberId, fields);
    } catch (error) {
      this.deleteIfIdle(group);
      throw error;
    }
    if (request.resetPolicy !== undefined) group.resetPolicy = request.resetPolicy;
    this.changed(group);
    return await this.answer(group, member);
  }

  private createGroup(groupName: string): ConsumerGroup {
    if (this.groups.size >= this.limits.groupsMax) {
      throw new GroupLimitError(
        "groupsMax",
        this.limits.groupsMax,
        `cannot create group ${groupName}: too many groups`,
      );
    }
    const group = new ConsumerGroup(groupName);
    // A group of this name may have been deleted with its last checkpoint not yet rewritten.
    group.changeNumber = this.flusher.durableChange(groupName);
    this.groups.set(groupName, group);
    return group;
  }

  /**
   * A known member id updates its member; otherwise an instance id held by a current
   * member replaces that member (static membership); otherwise a new member joins.
   */
  private joinMember(group: ConsumerGroup, memberId: string | undefined, fields: MemberFields): MemberRecord {
    if (memberId !== undefined) return this.updateMember(group, memberId, fields);
    const previous = fields.instanceId === undefined ? undefined : group.memberByInstance(fields.instanceId);
    return previous === undefined ? this.addMember(group, fields) : this.replaceMember(group, previous, fields);
  }

  private addMember(group: ConsumerGroup, fields: MemberFields): MemberRecord {
    if (group.members.size >= this.limits.membersPerGroupMax) {
      const message = `group ${group.name}: cannot add ${fields.clientId}: group is full`;
      throw new GroupLimitError("membersPerGroupMax", this.limits.membersPerGroupMax, message);
    }
    this.assertPartitionsWithin(group, fields.topics, undefined);
    const memberId = randomUUID();
    const nowMs = this.options.clock();
    const member: MemberRecord = {
      memberId,
      ...fields,
      fencedMemberIds: [],
      lastSeenMs: nowMs,
      generationAcked: 0,
      revokingSinceMs: undefined,
      fenced: false,
    };
    group.members.set(memberId, member);
    group.rebalance(this.partitionCountsOf(group));
    // A new member owns nothing yet, so it has nothing to let go of.
    member.generationAcked = group.generation;
    return member;
  }

  /**
   * Static membership: a restarted process (same instance id, no member id) takes the
   * current member's place at once, partitions and generation included; the old id is
   * fenced. Only changed topics start a new generation.
   */
  private replaceMember(group: ConsumerGroup, previous: MemberRecord, fields: MemberFields): MemberRecord {
    const topicsChanged = previous.topics.join("\n") !== fields.topics.join("\n");
    if (topicsChanged) this.assertPartitionsWithin(group, fields.topics, previous.memberId);
    const member: MemberRecord = {
      memberId: randomUUID(),
      ...fields,
      fencedMemberIds: [previous.memberId, ...previous.fencedMemberIds].slice(0, fencedMemberIdsMax),
      lastSeenMs: this.options.clock(),
      generationAcked: previous.generationAcked,
      revokingSinceMs: undefined,
      fenced: false,
    };
    group.replaceMember(previous.memberId, member);
    if (topicsChanged) group.rebalance(this.partitionCountsOf(group));
    return member;
  }

  private updateMember(group: ConsumerGroup, memberId: string, fields: MemberFields): MemberRecord {
    const member = liveMember(group, memberId);
    if (fields.instanceId !== undefined && fields.instanceId !== member.instanceId) {
      const holder = group.memberByInstance(fields.instanceId);
      if (holder !== undefined) group.removeMembers([holder.memberId], this.partitionCountsOf(group));
      member.instanceId = fields.instanceId;
    }
    const topicsChanged = member.topics.join("\n") !== fields.topics.join("\n");
    if (topicsChanged) this.assertPartitionsWithin(group, fields.topics, memberId);
    member.clientId = fields.clientId;
    member.sessionTimeoutMs = fields.sessionTimeoutMs;
    member.lastSeenMs = this.options.clock();
    if (topicsChanged) {
      member.topics = fields.topics;
      group.rebalance(this.partitionCountsOf(group));
    }
    return member;
  }

  /**
   * A sign of life at `generation`. Lets go of the partitions revoked at or before
   * that generation, except those listed in `owned` (still being processed).
   * Answers the current generation and assignment.
   */
  async heartbeat(
    groupName: string,
    memberId: string,
    generation: number,
    owned?: Assignment,
  ): Promise<MemberAssignment> {
    this.assertOpen();
    const group = this.groups.get(groupName);
    if (group === undefined) throw new UnknownMemberError(groupName, memberId);
    this.evictExpired(group);
    const member = liveMember(group, memberId);
    validateGeneration(generation);
    if (generation > group.generation) {
      throw new StaleGenerationError(groupName, generation, group.generation, "is ahead of the group");
    }
    if (generation < member.generationAcked) {
      const detail = `is older than generation ${member.generationAcked} this member already used`;
      throw new StaleGenerationError(groupName, generation, group.generation, detail);
    }
    member.lastSeenMs = this.options.clock();
    group.beginChange();
    const acked = generation > member.generationAcked;
    member.generationAcked = Math.max(member.generationAcked, generation);
    const stillOwned = owned === undefined ? undefined : keysOf(owned);
    const releasedCount = group.release(memberId, generation, (key) => stillOwned?.has(key) !== true);
    if (acked || releasedCount > 0) this.changed(group);
    return await this.answer(group, member);
  }

  /** The member leaves: its partitions are free at once and a new generation starts. */
  async leave(groupName: string, memberId: string): Promise<void> {
    this.assertOpen();
    const group = this.groups.get(groupName);
    if (group === undefined) throw new UnknownMemberError(groupName, memberId);
    this.evictExpired(group);
    // A fenced member may still leave; an unknown or replaced one is told which.
    if (!group.members.has(memberId)) liveMember(group, memberId);
    group.beginChange();
    group.removeMembers([memberId], this.partitionCountsOf(group));
    this.changed(group);
    this.deleteIfIdle(group);
    // Best effort: a leave lost with a crash only means the member is evicted after its session.
    await this.flusher.whenDurable(group.name).catch(() => undefined);
  }

  /**
   * Stores committed offsets (next offset to consume). Refused unless the member is
   * known, speaks at the current generation and owns every partition named, which
   * includes partitions being revoked from it (its final commit). A commit never
   * hands a partition over: it cannot tell a final commit from progress on a
   * partition the member is still finishing; the member's next heartbeat does.
   */
  async commit(
    groupName: string,
    memberId: string,
    generation: number,
    offsets: readonly PartitionOffset[],
  ): Promise<CommitOffsetsResponse> {
    this.assertOpen();
    validateOffsets(offsets, this.limits);
    const group = this.groups.get(groupName);
    if (group === undefined) throw new UnknownMemberError(groupName, memberId);
    this.evictExpired(group);
    const member = liveMember(group, memberId);
    if (generation !== group.generation) {
      const detail = "is not the current generation; heartbeat to learn the current one";
      throw new StaleGenerationError(groupName, generation, group.generation, detail);
    }
    for (const entry of offsets) {
      if (group.ownerOf(entry.topic, entry.partition) !== memberId) {
        throw new NotAssignedError(groupName, memberId, entry.topic, entry.partition);
      }
    }
    member.lastSeenMs = this.options.clock();
    group.beginChange();
    for (const entry of offsets) group.setOffset(entry.topic, entry.partition, entry.offset);
    this.changed(group);
    await this.flusher.whenDurable(group.name);
    return { committed: offsets.length, generation: group.generation };
  }

  /**
   * An operator's reset of committed offsets (the admin route), all or nothing. Refused
   * for a partition a member owns: that member would commit over the reset, so it must
   * leave first. Each offset must lie within its partition's log (the high watermark
   * included). A group that does not exist (yet, or any more) is created with these
   * offsets. A dry run checks the same and answers the same, moving nothing.
   */
  async resetOffsets(groupName: string, reset: OffsetReset, boundsOf: PartitionBoundsOf): Promise<ResetOffsetsResult> {
    this.assertOpen();
    validateGroupName(groupName);
    const existing = this.groups.get(groupName);
    if (existing !== undefined) this.evictExpired(existing);
    const { topic } = reset;
    const offsets = [...reset.offsets].sort((a, b) => a.partition - b.partition);
    const current = this.groups.get(groupName);
    const owned = offsets
      .filter((entry) => current?.ownerOf(topic, entry.partition) !== undefined)
      .map((entry) => `${topic}/${entry.partition}`);
    if (owned.length > 0) throw new PartitionOwnedError(groupName, owned);
    validateOffsets(
      offsets.map((entry) => ({ topic, ...entry })),
      this.limits,
    );
    const partitions = offsets.map((entry, index) => {
      if (offsets[index - 1]?.partition === entry.partition)
        throw new InvalidGroupRequestError(`partition ${topic}/${entry.partition} named twice`);
      const bounds = boundsWithin(topic, entry, boundsOf);
      const before = current?.committedOffset(topic, entry.partition) ?? null;
      return { partition: entry.partition, before, after: entry.offset, ...bounds };
    });
    if (!reset.dryRun) {
      const group = current ?? this.createGroup(groupName);
      group.beginChange();
      for (const entry of offsets) group.setOffset(topic, entry.partition, entry.offset);
      this.changed(group);
      await this.flusher.whenDurable(group.name);
    }
    return { group: groupName, topic, dryRun: reset.dryRun, partitions };
  }

  /** Committed offsets of one topic and the group's reset policy for the others. */
  committedOffsets(groupName: string, topic: string): GroupOffsets {
    return topicOffsetsOf(this.requireGroup(groupName), topic);
  }

  /**
   * Where the group resumes a partition: the committed offset when it lies within
   * the log, otherwise the reset policy's end (also when retention passed it).
   */
  startOffset(groupName: string, topic: string, partition: number, bounds: PartitionBounds): number {
    const group = this.requireGroup(groupName);
    return startOffsetFor(group, topic, partition, bounds);
  }

  describe(groupName: string): GroupDescription {
    return describeGroup(this.requireGroup(groupName), this.options.clock());
  }

  listGroups(): GroupSummary[] {
    return [...this.groups.values()]
      .sort((a, b) => compareText(a.name, b.name))
      .map((group) => ({
        group: group.name,
        state: group.state,
        generation: group.generation,
        memberCount: group.members.size,
      }));
  }

  /**
   * Evicts members silent longer than their session timeout and rebalances groups
   * whose topics changed partition count. Call it periodically; the changes are
   * persisted in the background (and before any request sees them answered).
   */
  tick(): EvictedMember[] {
    if (this.closed) return [];
    const evicted: EvictedMember[] = [];
    for (const group of [...this.groups.values()]) {
      evicted.push(...this.evictExpired(group));
      if (this.partitionCountsChanged(group)) {
        group.beginChange();
        group.rebalance(this.partitionCountsOf(group));
        this.changed(group);
      }
    }
    return evicted;
  }

  /** Per-partition lag of one group against the log's current bounds. */
  lag(groupName: string, boundsOf: PartitionBoundsOf): GroupLag {
    return lagOf({ group: this.requireGroup(groupName), partitionCount: this.options.partitionCount, boundsOf });
  }

  /** Lag of every group, for /metrics. */
  lagAll(boundsOf: PartitionBoundsOf): GroupLag[] {
    return [...this.groups.keys()].sort(compareText).map((name) => this.lag(name, boundsOf));
  }

  /** Deletes an empty group and its committed offsets. */
  async deleteGroup(groupName: string): Promise<void> {
    this.assertOpen();
    const group = this.requireGroup(groupName);
    if (group.members.size > 0) {
      throw new InvalidGroupRequestError(
        `group ${groupName} has ${group.members.size} members; only empty groups can be deleted`,
      );
    }
    this.groups.delete(groupName);
    this.flusher.markDirty(groupName);
    await this.flusher.whenDurable(groupName);
  }

  /** Groups with a member subscribed to `topic`, by name: a topic in use is not deleted under them. */
  groupsSubscribedTo(topic: string): string[] {
    return [...this.groups.values()]
      .filter((group) => group.subscribesTo(topic))
      .map((group) => group.name)
      .sort(compareText);
  }

  /**
   * A deleted topic's committed offsets leave every group (as Kafka drops them), so a
   * topic created again under that name starts by each group's reset policy. A group
   * left with no members and no offsets is forgotten. Resolves once durable, with the
   * names of the groups that held offsets.
   */
  async forgetTopic(topic: string): Promise<string[]> {
    this.assertOpen();
    const changed: string[] = [];
    for (const group of [...this.groups.values()]) {
      if (!group.offsets.has(topic)) continue;
      group.beginChange();
      group.forgetOffsets(topic);
      this.changed(group);
      this.deleteIfIdle(group);
      changed.push(group.name);
    }
    await Promise.all(changed.map((name) => this.flusher.whenDurable(name)));
    return changed.sort(compareText);
  }

  /** Refuses new requests and waits until every change is on disk. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flusher.drain();
  }

  /**
   * The answer to a join or heartbeat. It never promises what is not on disk: a
   * partition granted by a change whose checkpoint is not written yet is left out
   * (after a crash the grant would be gone while the member worked on it). Normally
   * the write takes a moment and the answer waits for it; on a full disk the answer
   * comes without those partitions, so heartbeats go on and nobody is evicted.
   */
  private async answer(group: ConsumerGroup, member: MemberRecord): Promise<MemberAssignment> {
    if (group.hasGrantsAfter(member.memberId, this.flusher.durableChange(group.name))) {
      await this.flusher.whenDurable(group.name).catch(() => undefined);
    }
    return this.memberAssignment(group, member);
  }

  private memberAssignment(group: ConsumerGroup, member: MemberRecord): MemberAssignment {
    return {
      memberId: member.memberId,
      generation: group.generation,
      assignment: group.assignmentOf(member.memberId, this.flusher.durableChange(group.name)),
      rebalancing: group.rebalancing,
      sessionTimeoutMs: member.sessionTimeoutMs,
      heartbeatIntervalMs: Math.max(1, Math.floor(member.sessionTimeoutMs / 3)),
    };
  }

  /**
   * Removes members silent past their session timeout; fences members holding a
   * revoked partition past revocationTimeoutMs (removed later, by session timeout).
   */
  private evictExpired(group: ConsumerGroup): EvictedMember[] {
    const nowMs = this.options.clock();
    const events: EvictedMember[] = [];
    const removed: string[] = [];
    for (const member of group.members.values()) {
      const base = { group: group.name, memberId: member.memberId, clientId: member.clientId };
      if (nowMs - member.lastSeenMs > member.sessionTimeoutMs) {
        events.push({ ...base, reason: "session_timeout" });
        removed.push(member.memberId);
      } else if (!member.fenced && this.revocationOverdue(member, nowMs)) {
        events.push({ ...base, reason: "revocation_timeout" });
        member.fenced = true;
      }
    }
    if (removed.length > 0) {
      group.beginChange();
      group.removeMembers(removed, this.partitionCountsOf(group));
    }
    if (events.length > 0) this.changed(group);
    if (removed.length > 0) this.deleteIfIdle(group);
    return events;
  }

  private revocationOverdue(member: MemberRecord, nowMs: number): boolean {
    return member.revokingSinceMs !== undefined && nowMs - member.revokingSinceMs > this.limits.revocationTimeoutMs;
  }

  /** Starts or stops each member's revocation timer. */
  private trackRevocations(group: ConsumerGroup): void {
    const revoking = group.membersRevoking();
    const nowMs = this.options.clock();
    for (const member of group.members.values()) {
      if (!revoking.has(member.memberId)) member.revokingSinceMs = undefined;
      else member.revokingSinceMs ??= nowMs;
    }
  }

  /** A group with no members and no offsets is forgotten (and its file removed). */
  private deleteIfIdle(group: ConsumerGroup): void {
    if (group.members.size > 0 || group.offsets.size > 0) return;
    if (this.groups.get(group.name) !== group) return;
    this.groups.delete(group.name);
    this.flusher.markDirty(group.name);
  }

  private changed(group: ConsumerGroup): void {
    group.checkInvariants();
    this.trackRevocations(group);
    this.flusher.markDirty(group.name);
  }

  private partitionCountsOf(group: ConsumerGroup): Map<string, number> {
    const counts = new Map<string, number>();
    for (const member of group.members.values()) {
      for (const topic of member.topics) {
        if (!counts.has(topic)) counts.set(topic, this.options.partitionCount(topic) ?? 0);
      }
    }
    return counts;
  }

  private partitionCountsChanged(group: ConsumerGroup): boolean {
    for (const [topic, count] of this.partitionCountsOf(group)) {
      if ((group.slots.get(topic)?.length ?? 0) < count) return true;
    }
    return false;
  }

  private requireGroup(groupName: string): ConsumerGroup {
    const group = this.groups.get(groupName);
    if (group === undefined) throw new UnknownGroupError(groupName);
    return group;
  }

  private assertOpen(): void {
    if (this.closed) throw new CoordinatorClosedError(this.options.dataDir);
  }

  /** The group's partitions with `topics` for member `memberId` (new member when undefined) stay bounded. */
  private assertPartitionsWithin(group: ConsumerGroup, topics: readonly string[], memberId: string | undefined): void {
    const all = new Set(topics);
    for (const member of group.members.values()) {
      if (member.memberId !== memberId) for (const topic of member.topics) all.add(topic);
    }
    let partitionCount = 0;
    for (const topic of all) partitionCount += this.options.partitionCount(topic) ?? 0;
    if (partitionCount > this.limits.partitionsPerGroupMax) {
      const message = `group ${group.name} would span ${partitionCount} partitions`;
      throw new GroupLimitError("partitionsPerGroupMax", this.limits.partitionsPerGroupMax, message);
    }
  }
}

/** What a join says about its member. */
interface MemberFields {
  clientId: string;
  instanceId: string | undefined;
  topics: string[];
  sessionTimeoutMs: number;
}

/** Replaced member ids remembered per member: enough for a crash loop, bounded in the checkpoint. */
export const fencedMemberIdsMax = 4;

/**
 * The member, unless it is unknown or fenced (then the client must stop and join
 * anew), or was replaced by a restart with its instance id (then it must stop for good).
 */
function liveMember(group: ConsumerGroup, memberId: string): MemberRecord {
  const member = group.members.get(memberId);
  if (member === undefined) {
    const replacer = group.replacerOf(memberId);
    if (replacer?.instanceId !== undefined) throw new FencedInstanceError(group.name, memberId, replacer.instanceId);
    throw new UnknownMemberError(group.name, memberId);
  }
  if (member.fenced) throw new UnknownMemberError(group.name, memberId);
  return member;
}

/** The partition's bounds, when `entry.offset` lies within them; a 400 naming both otherwise. */
function boundsWithin(
  topic: string,
  entry: { partition: number; offset: number },
  boundsOf: PartitionBoundsOf,
): PartitionBounds {
  const bounds = boundsOf(topic, entry.partition);
  if (bounds === undefined) throw new InvalidGroupRequestError(`${topic}/${entry.partition} does not exist`);
  if (entry.offset < bounds.logStartOffset || entry.offset > bounds.highWatermark) {
    throw new InvalidGroupRequestError(
      `offset ${entry.offset} of ${topic}/${entry.partition} outside the log ${bounds.logStartOffset}..${bounds.highWatermark}`,
    );
  }
  return { logStartOffset: bounds.logStartOffset, highWatermark: bounds.highWatermark };
}

function keysOf(assignment: Assignment): Set<string> {
  const keys = new Set<string>();
  for (const entry of assignment)
    for (const partition of entry.partitions) keys.add(partitionKey(entry.topic, partition));
  return keys;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
