import { type Static, Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { GroupName, OffsetResetPolicy, PartitionOffset } from "../../src/broker-protocol/group-protocol.ts";
import { ConsumerGroup } from "./consumer-group.ts";

/**
 * The durable form of one group: membership, partition ownership and committed
 * offsets. Membership is persisted too, so after a broker restart the members keep
 * their ids and partitions (no partition changes hands without its owner letting go
 * or being evicted, even across a restart). No clock reading is persisted: silence
 * and revocation run on the monotonic clock, whose readings mean nothing in another
 * process, so they restart at load time (durations such as sessionTimeoutMs are kept).
 */
export const groupCheckpointFormat = 1;

const NullableText = Type.Union([Type.String(), Type.Null()]);

export const GroupCheckpoint = Type.Object({
  format: Type.Literal(groupCheckpointFormat),
  group: GroupName,
  generation: Type.Integer({ minimum: 0 }),
  resetPolicy: OffsetResetPolicy,
  members: Type.Array(
    Type.Object({
      memberId: Type.String(),
      clientId: Type.String(),
      instanceId: Type.Optional(Type.String()),
      fencedMemberIds: Type.Optional(Type.Array(Type.String())),
      topics: Type.Array(Type.String()),
      sessionTimeoutMs: Type.Integer({ minimum: 1 }),
      generationAcked: Type.Integer({ minimum: 0 }),
      fenced: Type.Boolean(),
    }),
  ),
  partitions: Type.Array(
    Type.Object({
      topic: Type.String(),
      partition: Type.Integer({ minimum: 0 }),
      owner: NullableText,
      target: NullableText,
      revokedAtGeneration: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
    }),
  ),
  offsets: Type.Array(PartitionOffset),
});
export type GroupCheckpoint = Static<typeof GroupCheckpoint>;

export const groupCheckpointValidator = TypeCompiler.Compile(GroupCheckpoint);

export function checkpointOf(group: ConsumerGroup): GroupCheckpoint {
  const partitions: GroupCheckpoint["partitions"] = [];
  for (const [topic, slots] of group.slots) {
    for (const [partition, slot] of slots.entries()) {
      partitions.push({
        topic,
        partition,
        owner: slot.owner ?? null,
        target: slot.target ?? null,
        revokedAtGeneration: slot.revokedAtGeneration ?? null,
      });
    }
  }
  const offsets: GroupCheckpoint["offsets"] = [];
  for (const [topic, byPartition] of group.offsets) {
    for (const [partition, offset] of byPartition) offsets.push({ topic, partition, offset });
  }
  const members = [...group.members.values()].map((member) => ({
    memberId: member.memberId,
    clientId: member.clientId,
    ...(member.instanceId === undefined ? {} : { instanceId: member.instanceId }),
    fencedMemberIds: member.fencedMemberIds,
    topics: member.topics,
    sessionTimeoutMs: member.sessionTimeoutMs,
    generationAcked: member.generationAcked,
    fenced: member.fenced,
  }));
  return {
    format: groupCheckpointFormat,
    group: group.name,
    generation: group.generation,
    resetPolicy: group.resetPolicy,
    members,
    partitions,
    offsets,
  };
}

/** Rebuilds a group; every member counts as just heard from at `nowMs` (monotonic). */
export function groupFromCheckpoint(checkpoint: GroupCheckpoint, nowMs: number): ConsumerGroup {
  const group = new ConsumerGroup(checkpoint.group);
  group.generation = checkpoint.generation;
  group.resetPolicy = checkpoint.resetPolicy;
  for (const member of checkpoint.members) {
    const restored = {
      ...member,
      instanceId: member.instanceId,
      fencedMemberIds: [...(member.fencedMemberIds ?? [])],
      topics: [...member.topics],
      lastSeenMs: nowMs,
      revokingSinceMs: undefined,
    };
    group.members.set(member.memberId, restored);
  }
  for (const entry of checkpoint.partitions) {
    let slots = group.slots.get(entry.topic);
    if (slots === undefined) {
      slots = [];
      group.slots.set(entry.topic, slots);
    }
    while (slots.length <= entry.partition) {
      slots.push({ owner: undefined, target: undefined, revokedAtGeneration: undefined });
    }
    slots[entry.partition] = {
      owner: entry.owner ?? undefined,
      target: entry.target ?? undefined,
      revokedAtGeneration: entry.revokedAtGeneration ?? undefined,
    };
  }
  for (const entry of checkpoint.offsets) group.setOffset(entry.topic, entry.partition, entry.offset);
  group.checkInvariants();
  return group;
}
