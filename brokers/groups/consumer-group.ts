import type {
  Assignment,
  GroupState,
  OffsetResetPolicy,
  TopicPartitions,
} from "../../src/broker-protocol/group-protocol.ts";
import { assignSticky, type PartitionOwners } from "./sticky-assignor.ts";

/**
 * One consumer group's membership and partition ownership, in memory. Pure state
 * machine: no clock reads, no I/O, no limits (the coordinator does those).
 *
 * Each partition has a `target` (where the sticky assignor wants it) and an `owner`
 * (the member allowed to process it now). A partition moves from owner A to target
 * B only when A lets go: A presents a generation at or after the one that revoked
 * it in a heartbeat (without it in `owned`), leaves, or is evicted.
 * Until then B does not see it. So at most one member ever owns a partition, and a
 * member's assignment only shrinks together with a generation bump.
 */

export interface MemberRecord {
  memberId: string;
  clientId: string;
  /** Static membership: the identity a restarted process joins with again. */
  instanceId: string | undefined;
  /** Member ids this one replaced (newest first, a few): their requests get fenced_instance. */
  fencedMemberIds: string[];
  /** Ascending, unique. */
  topics: string[];
  sessionTimeoutMs: number;
  /** Monotonic clock reading when the member was last heard from; not persisted (reset on load). */
  lastSeenMs: number;
  /** Highest generation this member has presented in a heartbeat (or joined at). */
  generationAcked: number;
  /** Monotonic clock reading since which the member holds a partition it should let go of; not persisted. */
  revokingSinceMs: number | undefined;
  /**
   * Held a revoked partition too long: every request of it is refused as unknown, so
   * its client stops; it keeps its partitions until its session times out, because
   * only then is the client sure to have stopped (its own session timer).
   */
  fenced: boolean;
}

export interface PartitionSlot {
  owner: string | undefined;
  target: string | undefined;
  /** Set while owner !== target: the generation whose assignment first left the owner without it. */
  revokedAtGeneration: number | undefined;
  /** The group's change number when `owner` got it; undefined for ownership loaded from a checkpoint. */
  grantedAt?: number;
}

export class ConsumerGroup {
  generation = 0;
  /**
   * Counts changes (the coordinator calls beginChange before each): a grant records
   * it, and the coordinator answers a grant only once a checkpoint of a change at
   * least that new is on disk. Not persisted: everything loaded is durable.
   */
  changeNumber = 0;
  resetPolicy: OffsetResetPolicy = "earliest";
  readonly members = new Map<string, MemberRecord>();
  /** topic → slot per partition. */
  readonly slots = new Map<string, PartitionSlot[]>();
  /** topic → partition → committed offset (next offset to consume). */
  readonly offsets = new Map<string, Map<number, number>>();

  constructor(readonly name: string) {}

  /** The coordinator is about to change the group: grants made now carry the new change number. */
  beginChange(): number {
    this.changeNumber += 1;
    return this.changeNumber;
  }

  /** New generation: recompute targets stickily, start revocations, grant free partitions. */
  rebalance(partitionCounts: ReadonlyMap<string, number>): void {
    this.generation += 1;
    const previous: PartitionOwners = new Map();
    for (const [topic, slots] of this.slots)
      previous.set(
        topic,
        slots.map((slot) => slot.target),
      );
    const targets = assignSticky({ members: [...this.members.values()], partitionCounts, previous });
    const topics = new Set([...this.slots.keys(), ...targets.keys()]);
    for (const topic of topics) {
      const topicTargets = targets.get(topic) ?? [];
      const slots = this.slots.get(topic) ?? [];
      const slotCount = Math.max(slots.length, topicTargets.length);
      const next: PartitionSlot[] = [];
      for (let partition = 0; partition < slotCount; partition += 1) {
        const slot = slots[partition] ?? { owner: undefined, target: undefined, revokedAtGeneration: undefined };
        next.push(this.retarget(slot, topicTargets[partition]));
      }
      this.slots.set(topic, next);
    }
    this.grantFree();
    this.dropIdleTopics();
  }

  private retarget(slot: PartitionSlot, target: string | undefined): PartitionSlot {
    if (slot.owner === undefined || slot.owner === target) {
      return { owner: slot.owner, target, revokedAtGeneration: undefined, grantedAt: slot.grantedAt };
    }
    return {
      owner: slot.owner,
      target,
      revokedAtGeneration: slot.revokedAtGeneration ?? this.generation,
      grantedAt: slot.grantedAt,
    };
  }

  /** Hands every unowned partition to its target. */
  private grantFree(): void {
    for (const slots of this.slots.values()) {
      for (const slot of slots) {
        if (slot.owner === undefined && slot.target !== undefined) {
          slot.owner = slot.target;
          slot.grantedAt = this.changeNumber;
        }
      }
    }
  }

  private dropIdleTopics(): void {
    for (const [topic, slots] of this.slots) {
      if (slots.every((slot) => slot.owner === undefined && slot.target === undefined)) this.slots.delete(topic);
    }
  }

  /**
   * The member, speaking at `generation`, lets go of the partitions revoked from it
   * at or before that generation for which `letsGo(partitionKey)` holds, and they
   * pass to their targets. Returns how many partitions it let go.
   */
  release(memberId: string, generation: number, letsGo: (key: string) => boolean): number {
    let releasedCount = 0;
    for (const [topic, slots] of this.slots) {
      for (const [partition, slot] of slots.entries()) {
        if (slot.owner !== memberId || slot.target === memberId) continue;
        if (slot.revokedAtGeneration === undefined || generation < slot.revokedAtGeneration) continue;
        if (!letsGo(partitionKey(topic, partition))) continue;
        slot.owner = undefined;
        slot.revokedAtGeneration = undefined;
        releasedCount += 1;
      }
    }
    if (releasedCount > 0) {
      this.grantFree();
      this.dropIdleTopics();
    }
    return releasedCount;
  }

  /** Members leave or are evicted: their partitions are free at once, then a rebalance. */
  removeMembers(memberIds: readonly string[], partitionCounts: ReadonlyMap<string, number>): void {
    const removed = new Set(memberIds);
    for (const memberId of removed) this.members.delete(memberId);
    for (const slots of this.slots.values()) {
      for (const slot of slots) {
        if (slot.owner !== undefined && removed.has(slot.owner)) {
          slot.owner = undefined;
          slot.revokedAtGeneration = undefined;
        }
      }
    }
    this.rebalance(partitionCounts);
  }

  /**
   * `member` takes `replacedId`'s place (static membership): every partition it owns
   * or is meant to get passes over as it is. No generation bump: nothing moves.
   */
  replaceMember(replacedId: string, member: MemberRecord): void {
    if (!this.members.delete(replacedId)) throw new Error(`group ${this.name}: no member ${replacedId} to replace`);
    if (this.members.has(member.memberId)) throw new Error(`group ${this.name}: member ${member.memberId} exists`);
    this.members.set(member.memberId, member);
    for (const slots of this.slots.values()) {
      for (const slot of slots) {
        if (slot.owner === replacedId) {
          slot.owner = member.memberId;
          slot.grantedAt = this.changeNumber;
        }
        if (slot.target === replacedId) slot.target = member.memberId;
      }
    }
  }

  /** The member with this instance id, if any. */
  memberByInstance(instanceId: string): MemberRecord | undefined {
    for (const member of this.members.values()) if (member.instanceId === instanceId) return member;
    return undefined;
  }

  /** The member that replaced `memberId`, if one did. */
  replacerOf(memberId: string): MemberRecord | undefined {
    for (const member of this.members.values()) if (member.fencedMemberIds.includes(memberId)) return member;
    return undefined;
  }

  ownerOf(topic: string, partition: number): string | undefined {
    return this.slots.get(topic)?.[partition]?.owner;
  }

  /**
   * Partitions the member may process now: owned and still meant for it. With
   * `durableThrough`, only those whose grant is on disk (a change number at most it).
   */
  assignmentOf(memberId: string, durableThrough = Number.POSITIVE_INFINITY): Assignment {
    return this.collect(
      (slot) => slot.owner === memberId && slot.target === memberId && (slot.grantedAt ?? 0) <= durableThrough,
    );
  }

  /** True when some partition the member owns was granted in a change newer than `durableThrough`. */
  hasGrantsAfter(memberId: string, durableThrough: number): boolean {
    for (const slots of this.slots.values()) {
      for (const slot of slots) if (slot.owner === memberId && (slot.grantedAt ?? 0) > durableThrough) return true;
    }
    return false;
  }

  /** Owned by the member but meant for another: waiting for it to let go. */
  revokingOf(memberId: string): Assignment {
    return this.collect((slot) => slot.owner === memberId && slot.target !== memberId);
  }

  /** Meant for the member but still owned by another. */
  awaitingOf(memberId: string): Assignment {
    return this.collect((slot) => slot.target === memberId && slot.owner !== memberId);
  }

  /** Members that own a partition meant for someone else. */
  membersRevoking(): Set<string> {
    const revoking = new Set<string>();
    for (const slots of this.slots.values()) {
      for (const slot of slots) {
        if (slot.owner !== undefined && slot.owner !== slot.target) revoking.add(slot.owner);
      }
    }
    return revoking;
  }

  get rebalancing(): boolean {
    for (const slots of this.slots.values()) {
      if (slots.some((slot) => slot.owner !== slot.target)) return true;
    }
    return false;
  }

  get state(): GroupState {
    if (this.members.size === 0) return "empty";
    return this.rebalancing ? "rebalancing" : "stable";
  }

  private collect(wanted: (slot: PartitionSlot) => boolean): Assignment {
    const assignment: TopicPartitions[] = [];
    for (const topic of [...this.slots.keys()].sort()) {
      const partitions: number[] = [];
      for (const [partition, slot] of (this.slots.get(topic) ?? []).entries()) {
        if (wanted(slot)) partitions.push(partition);
      }
      if (partitions.length > 0) assignment.push({ topic, partitions });
    }
    return assignment;
  }

  setOffset(topic: string, partition: number, offset: number): void {
    let topicOffsets = this.offsets.get(topic);
    if (topicOffsets === undefined) {
      topicOffsets = new Map();
      this.offsets.set(topic, topicOffsets);
    }
    topicOffsets.set(partition, offset);
  }

  /** Drops every committed offset of `topic`. */
  forgetOffsets(topic: string): void {
    this.offsets.delete(topic);
  }

  /** True when a member (live or fenced) subscribes to `topic`. */
  subscribesTo(topic: string): boolean {
    for (const member of this.members.values()) if (member.topics.includes(topic)) return true;
    return false;
  }

  committedOffset(topic: string, partition: number): number | undefined {
    return this.offsets.get(topic)?.get(partition);
  }

  /** Throws when ownership bookkeeping is inconsistent; run after every change. */
  checkInvariants(): void {
    for (const [topic, slots] of this.slots) {
      for (const [partition, slot] of slots.entries()) {
        const where = `group ${this.name} ${topic}/${partition} (owner ${slot.owner}, target ${slot.target})`;
        if (slot.owner !== undefined && !this.members.has(slot.owner)) fail(`${where}: owner is not a member`);
        if (slot.target !== undefined && !this.members.has(slot.target)) fail(`${where}: target is not a member`);
        if (slot.owner === undefined && slot.target !== undefined) fail(`${where}: free partition not granted`);
        const revoking = slot.owner !== undefined && slot.owner !== slot.target;
        if (revoking !== (slot.revokedAtGeneration !== undefined)) {
          fail(`${where}: revokedAtGeneration ${slot.revokedAtGeneration} disagrees with ownership`);
        }
        if ((slot.revokedAtGeneration ?? 0) > this.generation) {
          fail(`${where}: revoked at ${slot.revokedAtGeneration} after generation ${this.generation}`);
        }
      }
    }
    const instances = new Set<string>();
    for (const member of this.members.values()) {
      if (member.instanceId !== undefined) {
        if (instances.has(member.instanceId))
          fail(`group ${this.name}: two members with instance ${member.instanceId}`);
        instances.add(member.instanceId);
      }
      if (member.generationAcked > this.generation) {
        fail(`group ${this.name} member ${member.memberId}: acked ${member.generationAcked} > ${this.generation}`);
      }
    }
  }
}

/** Key of a partition in sets; topic names never contain '/'. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

function fail(message: string): never {
  throw new Error(`consumer group invariant: ${message}`);
}
