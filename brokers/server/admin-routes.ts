import { Elysia } from "elysia";
import {
  type DeleteTopicResponse,
  ErrorBody,
  type TopicInfo,
  type TopicList,
} from "../../src/broker-protocol/api-schemas.ts";
import { brokerRoutes } from "../../src/broker-protocol/routes.ts";
import type { GroupCoordinator } from "../groups/group-coordinator.ts";
import type { BrokerContext } from "./broker-context.ts";
import { BrokerHttpError } from "./http-error.ts";
import { routeDetail, routeSchemas } from "./route-schemas.ts";

/** Topic administration and producer ids: low-rate JSON routes. */
export function adminRoutes(context: BrokerContext, coordinator: GroupCoordinator) {
  const { listTopics: list, createTopic, describeTopic: describe, deleteTopic, allocateProducerId } = brokerRoutes;
  return new Elysia({ name: "broker-admin" })
    .route(list.method, list.path, () => listTopics(context), {
      response: { 200: list.response },
      detail: routeDetail(list),
    })
    .route(
      createTopic.method,
      createTopic.path,
      async ({ body, set }) => {
        const partitions = body.partitions ?? context.topicDefaults.partitions;
        await context.log.createTopic(body.name, partitions);
        context.logger.info({ topic: body.name, partitions }, "topic created");
        set.status = createTopic.status;
        return describeTopic(context, body.name);
      },
      {
        ...routeSchemas(createTopic),
        response: { [createTopic.status]: createTopic.response, 400: ErrorBody, 409: ErrorBody },
        detail: routeDetail(createTopic),
      },
    )
    .route(describe.method, describe.path, ({ params }) => describeTopic(context, params.topic), {
      ...routeSchemas(describe),
      response: { 200: describe.response, 404: ErrorBody },
      detail: routeDetail(describe),
    })
    .route(
      deleteTopic.method,
      deleteTopic.path,
      ({ params, query }) => deleteTopicNow(context, coordinator, params.topic, query.force ?? false),
      {
        ...routeSchemas(deleteTopic),
        response: { 200: deleteTopic.response, 404: ErrorBody, 409: ErrorBody },
        detail: routeDetail(deleteTopic),
      },
    )
    .route(allocateProducerId.method, allocateProducerId.path, () => ({ producerId: context.producerIds.allocate() }), {
      response: { 200: allocateProducerId.response },
      detail: routeDetail(allocateProducerId),
    });
}

export function listTopics(context: BrokerContext): TopicList {
  const topics = context.log.listTopics().map((info) => ({ name: info.name, partitions: info.partitions }));
  topics.sort((a, b) => a.name.localeCompare(b.name));
  return { topics };
}

export function describeTopic(context: BrokerContext, topic: string): TopicInfo {
  const info = context.log.topic(topic);
  if (info === undefined) throw new BrokerHttpError("unknown_topic", `unknown topic "${topic}"`);
  const partitions = [];
  for (let partition = 0; partition < info.partitions; partition += 1) {
    const log = context.log.partition(topic, partition);
    partitions.push({
      partition,
      logStartOffset: log.logStartOffset,
      highWatermark: log.highWatermark,
      sizeBytes: log.sizeBytes,
    });
  }
  return { name: topic, createdAtMs: info.createdAtMs, partitions };
}

/**
 * Deletes a topic unless it is protected (without force) or a group member subscribes
 * to it: its consumers would fail, or auto-create it again empty under them. The
 * groups' committed offsets of it go too, so a topic created again starts afresh.
 */
async function deleteTopicNow(
  context: BrokerContext,
  coordinator: GroupCoordinator,
  topic: string,
  force: boolean,
): Promise<DeleteTopicResponse> {
  if (context.log.topic(topic) === undefined) throw new BrokerHttpError("unknown_topic", `unknown topic "${topic}"`);
  if (context.protectedTopics.has(topic) && !force) {
    const message = `topic "${topic}" is protected (BROKER_PROTECTED_TOPICS); delete it with force=true if its records are no longer needed`;
    throw new BrokerHttpError("topic_protected", message);
  }
  const groups = coordinator.groupsSubscribedTo(topic);
  if (groups.length > 0) {
    const message = `topic "${topic}" is consumed by group ${groups.join(", ")}: stop the group's members first`;
    throw new BrokerHttpError("topic_in_use", message);
  }
  const info = await context.log.deleteTopic(topic);
  const groupsWithOffsetsRemoved = await coordinator.forgetTopic(topic);
  context.logger.info({ topic, partitions: info.partitions, force, groupsWithOffsetsRemoved }, "topic deleted");
  return { name: topic, partitions: info.partitions, groupsWithOffsetsRemoved };
}
