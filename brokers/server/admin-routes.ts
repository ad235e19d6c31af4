import { Elysia } from "elysia";
import { ErrorBody, type TopicInfo, type TopicList } from "../../src/broker-protocol/api-schemas.ts";
import { brokerRoutes } from "../../src/broker-protocol/routes.ts";
import type { BrokerContext } from "./broker-context.ts";
import { BrokerHttpError } from "./http-error.ts";
import { routeDetail, routeSchemas } from "./route-schemas.ts";

/** Topic administration and producer ids: low-rate JSON routes. */
export function adminRoutes(context: BrokerContext) {
  const { listTopics: list, createTopic, describeTopic: describe, allocateProducerId } = brokerRoutes;
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
