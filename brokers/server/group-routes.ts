import { Elysia } from "elysia";
import { ErrorBody } from "../../src/broker-protocol/api-schemas.ts";
import { brokerRoutes } from "../../src/broker-protocol/routes.ts";
import type { GroupCoordinator, PartitionBounds } from "../groups/group-coordinator.ts";
import type { BrokerContext } from "./broker-context.ts";
import { resolveResetTargets } from "./offset-targets.ts";
import { routeDetail, routeSchemas } from "./route-schemas.ts";
import { ensureTopic } from "./topic-lookup.ts";

const refusals = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody, 410: ErrorBody, 429: ErrorBody };
const {
  listGroups,
  describeGroup,
  groupOffsets,
  resetGroupOffsets,
  deleteGroup,
  joinGroup,
  heartbeat,
  leaveGroup,
  commitOffsets,
} = brokerRoutes;

/** The consumer-group API: a thin HTTP skin over the coordinator (which owns every rule). */
export function groupRoutes(context: BrokerContext, coordinator: GroupCoordinator) {
  return new Elysia({ name: "broker-groups" })
    .use(groupViewRoutes(context, coordinator))
    .use(groupAdminRoutes(context, coordinator))
    .use(groupMemberRoutes(context, coordinator));
}

/** What only an admin does to a group as a whole: delete it, move its committed offsets. */
function groupAdminRoutes(context: BrokerContext, coordinator: GroupCoordinator) {
  const boundsOf = (topic: string, partition: number) => partitionBounds(context, topic, partition);
  return new Elysia({ name: "broker-group-admin" })
    .route(
      deleteGroup.method,
      deleteGroup.path,
      async ({ params }) => {
        await coordinator.deleteGroup(params.group);
        context.logger.info({ group: params.group }, "group deleted");
        return { deleted: true };
      },
      {
        ...routeSchemas(deleteGroup),
        response: { 200: deleteGroup.response, 400: ErrorBody, 404: ErrorBody },
        detail: routeDetail(deleteGroup),
      },
    )
    .route(
      resetGroupOffsets.method,
      resetGroupOffsets.path,
      async ({ params, body }) => {
        const result = await coordinator.resetOffsets(params.group, resolveResetTargets(context.log, body), boundsOf);
        if (!result.dryRun) {
          const moved = result.partitions.map((entry) => ({
            partition: entry.partition,
            from: entry.before,
            to: entry.after,
          }));
          context.logger.info({ group: result.group, topic: result.topic, moved }, "group offsets reset");
        }
        return result;
      },
      {
        ...routeSchemas(resetGroupOffsets),
        response: { 200: resetGroupOffsets.response, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
        detail: routeDetail(resetGroupOffsets),
      },
    );
}

/** What a group looks like: listing, description with lag, committed offsets. */
function groupViewRoutes(context: BrokerContext, coordinator: GroupCoordinator) {
  const boundsOf = (topic: string, partition: number) => partitionBounds(context, topic, partition);
  return new Elysia({ name: "broker-group-views" })
    .route(listGroups.method, listGroups.path, () => ({ groups: coordinator.listGroups() }), {
      response: { 200: listGroups.response },
      detail: routeDetail(listGroups),
    })
    .route(
      describeGroup.method,
      describeGroup.path,
      ({ params }) => ({ ...coordinator.describe(params.group), lag: coordinator.lag(params.group, boundsOf) }),
      {
        ...routeSchemas(describeGroup),
        response: { 200: describeGroup.response, 404: ErrorBody },
        detail: routeDetail(describeGroup),
      },
    )
    .route(
      groupOffsets.method,
      groupOffsets.path,
      ({ params, query }) => coordinator.committedOffsets(params.group, query.topic),
      {
        ...routeSchemas(groupOffsets),
        response: { 200: groupOffsets.response, 404: ErrorBody },
        detail: routeDetail(groupOffsets),
      },
    );
}

/** A member's requests: join, heartbeat, leave, commit. */
function groupMemberRoutes(context: BrokerContext, coordinator: GroupCoordinator) {
  return new Elysia({ name: "broker-group-members" })
    .route(
      joinGroup.method,
      joinGroup.path,
      async ({ params, body }) => {
        if (context.topicDefaults.autoCreate) for (const topic of body.topics) await ensureTopic(context, topic);
        return await coordinator.join(params.group, body);
      },
      {
        ...routeSchemas(joinGroup),
        response: { 200: joinGroup.response, ...refusals },
        detail: routeDetail(joinGroup),
      },
    )
    .route(
      heartbeat.method,
      heartbeat.path,
      ({ params, body }) => coordinator.heartbeat(params.group, body.memberId, body.generation, body.owned),
      {
        ...routeSchemas(heartbeat),
        response: { 200: heartbeat.response, ...refusals },
        detail: routeDetail(heartbeat),
      },
    )
    .route(
      leaveGroup.method,
      leaveGroup.path,
      async ({ params, body }) => {
        await coordinator.leave(params.group, body.memberId);
        return { left: true };
      },
      {
        ...routeSchemas(leaveGroup),
        response: { 200: leaveGroup.response, ...refusals },
        detail: routeDetail(leaveGroup),
      },
    )
    .route(
      commitOffsets.method,
      commitOffsets.path,
      ({ params, body }) => coordinator.commit(params.group, body.memberId, body.generation, body.offsets),
      {
        ...routeSchemas(commitOffsets),
        response: { 200: commitOffsets.response, ...refusals },
        detail: routeDetail(commitOffsets),
      },
    );
}

export function partitionBounds(context: BrokerContext, topic: string, partition: number): PartitionBounds | undefined {
  const info = context.log.topic(topic);
  if (info === undefined || partition >= info.partitions) return undefined;
  const log = context.log.partition(topic, partition);
  return { logStartOffset: log.logStartOffset, highWatermark: log.highWatermark };
}
