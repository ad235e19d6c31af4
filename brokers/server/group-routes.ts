import { Elysia, t } from "elysia";
import { ErrorBody } from "../../src/broker-protocol/api-schemas.ts";
import {
  CommitOffsetsRequest,
  CommitOffsetsResponse,
  GroupDescription,
  GroupLag,
  GroupListing,
  GroupName,
  GroupOffsets,
  HeartbeatRequest,
  JoinGroupRequest,
  LeaveGroupRequest,
  MemberAssignment,
  TopicName,
} from "../../src/broker-protocol/group-protocol.ts";
import type { GroupCoordinator, PartitionBounds } from "../groups/group-coordinator.ts";
import type { BrokerContext } from "./broker-context.ts";
import { ensureTopic } from "./topic-lookup.ts";

const GroupParams = t.Object({ group: GroupName });
const GroupDetail = t.Composite([GroupDescription, t.Object({ lag: GroupLag })], { $id: "GroupDetail" });
const refusals = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody, 410: ErrorBody, 429: ErrorBody };

/** The consumer-group API: a thin HTTP skin over the coordinator (which owns every rule). */
export function groupRoutes(context: BrokerContext, coordinator: GroupCoordinator) {
  const boundsOf = (topic: string, partition: number) => partitionBounds(context, topic, partition);
  return new Elysia({ name: "broker-groups" })
    .get("/v1/groups", () => ({ groups: coordinator.listGroups() }), {
      response: { 200: GroupListing },
      detail: { tags: ["groups"], summary: "List consumer groups" },
    })
    .get(
      "/v1/groups/:group",
      ({ params }) => ({ ...coordinator.describe(params.group), lag: coordinator.lag(params.group, boundsOf) }),
      {
        params: GroupParams,
        response: { 200: GroupDetail, 404: ErrorBody },
        detail: { tags: ["groups"], summary: "Describe a group: members, assignment, offsets, lag per partition" },
      },
    )
    .get("/v1/groups/:group/offsets", ({ params, query }) => coordinator.committedOffsets(params.group, query.topic), {
      params: GroupParams,
      query: t.Object({ topic: TopicName }),
      response: { 200: GroupOffsets, 404: ErrorBody },
      detail: { tags: ["groups"], summary: "Committed offsets of one topic and the reset policy" },
    })
    .post(
      "/v1/groups/:group/join",
      async ({ params, body }) => {
        if (context.topicDefaults.autoCreate) for (const topic of body.topics) await ensureTopic(context, topic);
        return await coordinator.join(params.group, body);
      },
      {
        params: GroupParams,
        body: JoinGroupRequest,
        response: { 200: MemberAssignment, ...refusals },
        detail: { tags: ["groups"], summary: "Join (no memberId) or rejoin; answers generation and assignment" },
      },
    )
    .post(
      "/v1/groups/:group/heartbeat",
      ({ params, body }) => coordinator.heartbeat(params.group, body.memberId, body.generation, body.owned),
      {
        params: GroupParams,
        body: HeartbeatRequest,
        response: { 200: MemberAssignment, ...refusals },
        detail: { tags: ["groups"], summary: "Sign of life; releases revoked partitions not in owned" },
      },
    )
    .post(
      "/v1/groups/:group/leave",
      async ({ params, body }) => {
        await coordinator.leave(params.group, body.memberId);
        return { left: true };
      },
      {
        params: GroupParams,
        body: LeaveGroupRequest,
        response: { 200: t.Object({ left: t.Boolean() }), ...refusals },
        detail: { tags: ["groups"], summary: "Leave: partitions move at once" },
      },
    )
    .post(
      "/v1/groups/:group/commit",
      ({ params, body }) => coordinator.commit(params.group, body.memberId, body.generation, body.offsets),
      {
        params: GroupParams,
        body: CommitOffsetsRequest,
        response: { 200: CommitOffsetsResponse, ...refusals },
        detail: { tags: ["groups"], summary: "Commit offsets (current generation, owned partitions only)" },
      },
    );
}

export function partitionBounds(context: BrokerContext, topic: string, partition: number): PartitionBounds | undefined {
  const info = context.log.topic(topic);
  if (info === undefined || partition >= info.partitions) return undefined;
  const log = context.log.partition(topic, partition);
  return { logStartOffset: log.logStartOffset, highWatermark: log.highWatermark };
}
