import { type Static, Type } from "@sinclair/typebox";
import { namePattern } from "./names.ts";

/**
 * JSON bodies of the consumer-group API (join, heartbeat, leave, commit, offsets,
 * describe, list), shared by the broker's coordinator (brokers/groups) and the
 * client library (src/broker-client). One schema per shape; the types are derived.
 *
 * Hand-over contract (cooperative, no partition is ever owned by two live members):
 * - A member processes exactly the partitions in the last `assignment` it received.
 * - Within one generation an assignment only grows; a partition disappears from it
 *   only together with a new generation.
 * - When a response brings a new generation whose assignment lacks a partition the
 *   member was processing, the member stops that partition, may commit its final
 *   offset with the new generation (it still owns it), and then heartbeats with the
 *   new generation. That heartbeat (unless it lists the partition in `owned`: still
 *   finishing), a leave, or the member's eviction hands the partition to its next
 *   owner; a commit never does. Until then the next owner is not given it.
 * - A member that holds a revoked partition longer than the broker's revocation
 *   timeout is fenced: its requests get unknown_member (stop everything, join anew)
 *   and its partitions move once its session has timed out.
 * - A join with the instance id of a current member (static membership) replaces it
 *   at once: the new member id inherits the old one's partitions and generation, no
 *   rebalance. Requests with the old member id get fenced_instance from then on: that
 *   process must stop for good (another process has its identity).
 * - A member must stop processing everything once its session timeout has passed
 *   since it *sent* its last heartbeat that succeeded (sending time, so the broker's
 *   later receive time is never earlier): the broker evicts it only after that.
 * - A heartbeat at an older generation than the current one is answered (that is how
 *   a member learns of a new generation); one older than a generation the member
 *   already presented, or newer than the group's, is refused as stale_generation.
 *   A commit must carry the current generation.
 */

export const groupNameLengthMax = 200;
export const memberIdLengthMax = 64;
export const clientIdLengthMax = 200;
export const instanceIdLengthMax = 200;
/** Topics one member may subscribe to. */
export const topicsPerMemberMax = 64;
/** Offsets one commit request may carry. */
export const offsetsPerCommitMax = 4_096;

export const GroupName = Type.String({
  pattern: namePattern,
  maxLength: groupNameLengthMax,
  description: "letters, digits, '.', '_' or '-'",
});
export const TopicName = Type.String({ pattern: namePattern, description: "letters, digits, '.', '_' or '-'" });
export const MemberId = Type.String({
  minLength: 1,
  maxLength: memberIdLengthMax,
  description: "assigned by the broker",
});
export const InstanceId = Type.String({
  pattern: namePattern,
  maxLength: instanceIdLengthMax,
  description:
    "static membership: a member's identity across restarts (a pod or process name). A join with the instance id of a current member replaces it at once (its partitions, no rebalance) and fences the old member id",
});
export const Generation = Type.Integer({ minimum: 0, description: "bumped by every membership change" });
export const Offset = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
export const PartitionNumber = Type.Integer({ minimum: 0, maximum: 65_535 });

export const OffsetResetPolicy = Type.Union([Type.Literal("earliest"), Type.Literal("latest")], {
  description: "where a partition without a committed offset starts: logStartOffset or highWatermark",
});
export type OffsetResetPolicy = Static<typeof OffsetResetPolicy>;

export const TopicPartitions = Type.Object({
  topic: TopicName,
  partitions: Type.Array(PartitionNumber, { description: "ascending" }),
});
export type TopicPartitions = Static<typeof TopicPartitions>;

/** Partitions grouped by topic, topics ascending. */
export const Assignment = Type.Array(TopicPartitions);
export type Assignment = Static<typeof Assignment>;

export const JoinGroupRequest = Type.Object(
  {
    memberId: Type.Optional(MemberId),
    clientId: Type.String({ minLength: 1, maxLength: clientIdLengthMax, description: "who the member is, for people" }),
    instanceId: Type.Optional(InstanceId),
    topics: Type.Array(TopicName, { minItems: 1, maxItems: topicsPerMemberMax }),
    sessionTimeoutMs: Type.Optional(
      Type.Integer({ minimum: 1, description: "evicted when silent this long; the broker bounds it" }),
    ),
    resetPolicy: Type.Optional(OffsetResetPolicy),
  },
  { $id: "JoinGroupRequest", additionalProperties: false },
);
export type JoinGroupRequest = Static<typeof JoinGroupRequest>;

export const MemberAssignment = Type.Object(
  {
    memberId: MemberId,
    generation: Generation,
    assignment: Assignment,
    rebalancing: Type.Boolean({ description: "true while partitions of the group are moving" }),
    sessionTimeoutMs: Type.Integer({ minimum: 1 }),
    heartbeatIntervalMs: Type.Integer({ minimum: 1, description: "suggested: a third of the session timeout" }),
  },
  { $id: "MemberAssignment" },
);
export type MemberAssignment = Static<typeof MemberAssignment>;

export const HeartbeatRequest = Type.Object(
  {
    memberId: MemberId,
    generation: Generation,
    owned: Type.Optional(
      Type.Array(TopicPartitions, {
        description: "partitions the member still processes; omitted means exactly its assignment",
      }),
    ),
  },
  { $id: "HeartbeatRequest", additionalProperties: false },
);
export type HeartbeatRequest = Static<typeof HeartbeatRequest>;

export const LeaveGroupRequest = Type.Object(
  { memberId: MemberId },
  { $id: "LeaveGroupRequest", additionalProperties: false },
);
export type LeaveGroupRequest = Static<typeof LeaveGroupRequest>;

export const LeaveGroupResponse = Type.Object({ left: Type.Boolean() });
export type LeaveGroupResponse = Static<typeof LeaveGroupResponse>;

export const DeleteGroupResponse = Type.Object({ deleted: Type.Boolean() });
export type DeleteGroupResponse = Static<typeof DeleteGroupResponse>;

export const PartitionOffset = Type.Object({
  topic: TopicName,
  partition: PartitionNumber,
  offset: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: "next offset to consume" }),
});
export type PartitionOffset = Static<typeof PartitionOffset>;

export const CommitOffsetsRequest = Type.Object(
  {
    memberId: MemberId,
    generation: Generation,
    offsets: Type.Array(PartitionOffset, { minItems: 1, maxItems: offsetsPerCommitMax }),
  },
  { $id: "CommitOffsetsRequest", additionalProperties: false },
);
export type CommitOffsetsRequest = Static<typeof CommitOffsetsRequest>;

export const CommitOffsetsResponse = Type.Object(
  { committed: Type.Integer({ minimum: 0, description: "offsets stored durably" }), generation: Generation },
  { $id: "CommitOffsetsResponse" },
);
export type CommitOffsetsResponse = Static<typeof CommitOffsetsResponse>;

/**
 * Where an operator's reset moves one partition (Kafka's `--to-offset`,
 * `--to-datetime`, `--to-earliest`, `--to-latest`). The broker resolves a time or an
 * end of the log against the partition as it is when the request arrives.
 */
export const OffsetResetTarget = Type.Object(
  {
    partition: PartitionNumber,
    offset: Type.Optional(Offset),
    timestampMs: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: Number.MAX_SAFE_INTEGER,
        description:
          "epoch milliseconds: the first record with a timestamp at or after it (the time index), else the high watermark",
      }),
    ),
    position: Type.Optional(
      Type.Union([Type.Literal("earliest"), Type.Literal("latest")], {
        description: "earliest: the log start offset; latest: the high watermark",
      }),
    ),
  },
  {
    additionalProperties: false,
    description: "one partition and where it moves: exactly one of offset, timestampMs and position",
  },
);
export type OffsetResetTarget = Static<typeof OffsetResetTarget>;

/**
 * An operator moves a group's committed offsets (Kafka's `--reset-offsets`). Only
 * partitions no member owns may be moved: a live owner would overwrite the new
 * offset with its next commit, so the group's members leave (or die and time out)
 * first. All of the partitions move, or none (a 409 or 400 names the first problem).
 */
export const ResetOffsetsRequest = Type.Object(
  {
    topic: TopicName,
    offsets: Type.Array(OffsetResetTarget, {
      minItems: 1,
      maxItems: offsetsPerCommitMax,
      description: "where each partition moves (each partition once); every offset within the partition's log",
    }),
    dryRun: Type.Optional(
      Type.Boolean({
        description: "answer what the reset would do, or the error it would get, without moving anything",
      }),
    ),
  },
  { $id: "ResetOffsetsRequest", additionalProperties: false },
);
export type ResetOffsetsRequest = Static<typeof ResetOffsetsRequest>;

export const ResetOffsetsResult = Type.Object(
  {
    group: GroupName,
    topic: TopicName,
    dryRun: Type.Boolean({ description: "true: nothing was moved" }),
    partitions: Type.Array(
      Type.Object({
        partition: PartitionNumber,
        before: Type.Union([Offset, Type.Null()], {
          description: "committed offset before the reset; null when none was committed",
        }),
        after: Type.Integer({ minimum: 0, description: "committed offset after the reset: next offset to consume" }),
        logStartOffset: Offset,
        highWatermark: Offset,
      }),
      { description: "the partitions of the request, ascending" },
    ),
  },
  { $id: "ResetOffsetsResult" },
);
export type ResetOffsetsResult = Static<typeof ResetOffsetsResult>;

export const GroupOffsets = Type.Object(
  {
    group: GroupName,
    topic: TopicName,
    resetPolicy: OffsetResetPolicy,
    offsets: Type.Array(Type.Object({ partition: PartitionNumber, offset: Offset }), {
      description: "committed offsets only; a partition not listed starts by resetPolicy",
    }),
  },
  { $id: "GroupOffsets" },
);
export type GroupOffsets = Static<typeof GroupOffsets>;

export const GroupState = Type.Union([Type.Literal("empty"), Type.Literal("stable"), Type.Literal("rebalancing")]);
export type GroupState = Static<typeof GroupState>;

export const MemberDescription = Type.Object({
  memberId: MemberId,
  clientId: Type.String(),
  instanceId: Type.Union([Type.String(), Type.Null()], { description: "static members only" }),
  topics: Type.Array(TopicName),
  sessionTimeoutMs: Type.Integer({ minimum: 1 }),
  silentMs: Type.Integer({ minimum: 0, description: "time since the member was last heard from" }),
  fenced: Type.Boolean({ description: "held a revoked partition too long: refused, removed at its session timeout" }),
  assignment: Assignment,
  revoking: Type.Array(TopicPartitions, { description: "still owned, waiting for the member to let go" }),
  awaiting: Type.Array(TopicPartitions, { description: "assigned, waiting for the previous owner to let go" }),
});
export type MemberDescription = Static<typeof MemberDescription>;

export const GroupDescription = Type.Object(
  {
    group: GroupName,
    state: GroupState,
    generation: Generation,
    resetPolicy: OffsetResetPolicy,
    members: Type.Array(MemberDescription),
    offsets: Type.Array(PartitionOffset, { description: "committed offsets, by topic then partition" }),
  },
  { $id: "GroupDescription" },
);
export type GroupDescription = Static<typeof GroupDescription>;

export const GroupSummary = Type.Object({
  group: GroupName,
  state: GroupState,
  generation: Generation,
  memberCount: Type.Integer({ minimum: 0 }),
});
export type GroupSummary = Static<typeof GroupSummary>;

export const GroupListing = Type.Object({ groups: Type.Array(GroupSummary) }, { $id: "GroupListing" });
export type GroupListing = Static<typeof GroupListing>;

export const PartitionLag = Type.Object({
  topic: TopicName,
  partition: PartitionNumber,
  committed: Type.Union([Offset, Type.Null()], { description: "null when nothing was committed" }),
  highWatermark: Offset,
  lag: Type.Integer({ minimum: 0, description: "records between the start position and the high watermark" }),
  memberId: Type.Union([MemberId, Type.Null()], { description: "current owner" }),
});
export type PartitionLag = Static<typeof PartitionLag>;

export const GroupLag = Type.Object(
  { group: GroupName, partitions: Type.Array(PartitionLag), totalLag: Type.Integer({ minimum: 0 }) },
  { $id: "GroupLag" },
);
export type GroupLag = Static<typeof GroupLag>;

/** A group's description with the lag of each of its partitions (what `describe` answers). */
export const GroupDetail = Type.Composite([GroupDescription, Type.Object({ lag: GroupLag })], { $id: "GroupDetail" });
export type GroupDetail = Static<typeof GroupDetail>;

/** Error codes of the group API, with the HTTP status each travels with. */
export const GroupErrorStatus = {
  stale_generation: 409,
  not_assigned: 409,
  partition_owned: 409,
  unknown_member: 410,
  fenced_instance: 410,
  unknown_group: 404,
  unknown_topic: 404,
  bad_request: 400,
  group_limit: 429,
  shutting_down: 503,
} as const;
export type GroupErrorCode = keyof typeof GroupErrorStatus;

/** Where a partition without a usable committed offset starts, under a policy. */
export function resetOffset(
  policy: OffsetResetPolicy,
  bounds: { logStartOffset: number; highWatermark: number },
): number {
  return policy === "earliest" ? bounds.logStartOffset : bounds.highWatermark;
}
