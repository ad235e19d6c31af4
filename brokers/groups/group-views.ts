import {
  type GroupDescription,
  type GroupLag,
  type GroupOffsets,
  type MemberDescription,
  type PartitionLag,
  type PartitionOffset,
  resetOffset,
} from "../../src/broker-protocol/group-protocol.ts";
import type { ConsumerGroup } from "./consumer-group.ts";

/** Read-only answers about one group: description, committed offsets, start offsets, lag. */

/** A partition's log range, as the storage engine reports it. */
export interface PartitionBounds {
  logStartOffset: number;
  highWatermark: number;
}

export type PartitionBoundsOf = (topic: string, partition: number) => PartitionBounds | undefined;

export function describeGroup(group: ConsumerGroup, nowMs: number): GroupDescription {
  const members: MemberDescription[] = [...group.members.values()]
    .sort((a, b) => compareText(a.memberId, b.memberId))
    .map((member) => ({
      memberId: member.memberId,
      clientId: member.clientId,
      instanceId: member.instanceId ?? null,
      topics: [...member.topics],
      sessionTimeoutMs: member.sessionTimeoutMs,
      // Whole ms: a monotonic clock reads fractions.
      silentMs: Math.max(0, Math.floor(nowMs - member.lastSeenMs)),
      fenced: member.fenced,
      assignment: group.assignmentOf(member.memberId),
      revoking: group.revokingOf(member.memberId),
      awaiting: group.awaitingOf(member.memberId),
    }));
  return {
    group: group.name,
    state: group.state,
    generation: group.generation,
    resetPolicy: group.resetPolicy,
    members,
    offsets: sortedOffsets(group),
  };
}

/** Committed offsets of one topic and the group's reset policy for the others. */
export function topicOffsetsOf(group: ConsumerGroup, topic: string): GroupOffsets {
  const byPartition = group.offsets.get(topic) ?? new Map<number, number>();
  const offsets = [...byPartition.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([partition, offset]) => ({ partition, offset }));
  return { group: group.name, topic, resetPolicy: group.resetPolicy, offsets };
}

/**
 * Where the group resumes a partition: the committed offset when it lies within
 * the log, otherwise the reset policy's end (also when retention passed it).
 */
export function startOffsetFor(
  group: ConsumerGroup,
  topic: string,
  partition: number,
  bounds: PartitionBounds,
): number {
  const committed = group.committedOffset(topic, partition);
  const inRange = committed !== undefined && committed >= bounds.logStartOffset && committed <= bounds.highWatermark;
  return inRange ? committed : resetOffset(group.resetPolicy, bounds);
}

/** Per-partition lag of the topics the group subscribes to or has offsets for. */
export function lagOf(options: {
  group: ConsumerGroup;
  partitionCount: (topic: string) => number | undefined;
  boundsOf: PartitionBoundsOf;
}): GroupLag {
  const { group, boundsOf } = options;
  const partitions: PartitionLag[] = [];
  for (const topic of topicsOf(group)) {
    const partitionCount = options.partitionCount(topic) ?? 0;
    for (let partition = 0; partition < partitionCount; partition += 1) {
      const bounds = boundsOf(topic, partition);
      if (bounds === undefined) continue;
      const start = startOffsetFor(group, topic, partition, bounds);
      partitions.push({
        topic,
        partition,
        committed: group.committedOffset(topic, partition) ?? null,
        highWatermark: bounds.highWatermark,
        lag: Math.max(0, bounds.highWatermark - start),
        memberId: group.ownerOf(topic, partition) ?? null,
      });
    }
  }
  const totalLag = partitions.reduce((sum, entry) => sum + entry.lag, 0);
  return { group: group.name, partitions, totalLag };
}

function topicsOf(group: ConsumerGroup): string[] {
  const topics = new Set<string>([...group.slots.keys(), ...group.offsets.keys()]);
  for (const member of group.members.values()) for (const topic of member.topics) topics.add(topic);
  return [...topics].sort(compareText);
}

function sortedOffsets(group: ConsumerGroup): PartitionOffset[] {
  const offsets: PartitionOffset[] = [];
  for (const topic of [...group.offsets.keys()].sort(compareText)) {
    const byPartition = group.offsets.get(topic) ?? new Map<number, number>();
    for (const partition of [...byPartition.keys()].sort((a, b) => a - b)) {
      offsets.push({ topic, partition, offset: byPartition.get(partition) ?? 0 });
    }
  }
  return offsets;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
