import { Elysia, t } from "elysia";
import {
  CreateTopicBody,
  ErrorBody,
  ProducerIdResponse,
  type TopicInfo,
  TopicInfo as TopicInfoSchema,
  type TopicList,
  TopicList as TopicListSchema,
} from "../../src/broker-protocol/api-schemas.ts";
import type { BrokerContext } from "./broker-context.ts";
import { BrokerHttpError } from "./http-error.ts";

/** Topic administration and producer ids: low-rate JSON routes. */
export function adminRoutes(context: BrokerContext) {
  return new Elysia({ name: "broker-admin" })
    .get("/v1/topics", () => listTopics(context), {
      response: { 200: TopicListSchema },
      detail: { tags: ["topics"], summary: "List topics" },
    })
    .post(
      "/v1/topics",
      async ({ body, set }) => {
        const partitions = body.partitions ?? context.topicDefaults.partitions;
        await context.log.createTopic(body.name, partitions);
        context.logger.info({ topic: body.name, partitions }, "topic created");
        set.status = 201;
        return describeTopic(context, body.name);
      },
      {
        body: CreateTopicBody,
        response: { 201: TopicInfoSchema, 400: ErrorBody, 409: ErrorBody },
        detail: { tags: ["topics"], summary: "Create a topic (409 topic_exists when it does)" },
      },
    )
    .get("/v1/topics/:topic", ({ params }) => describeTopic(context, params.topic), {
      params: t.Object({ topic: t.String() }),
      response: { 200: TopicInfoSchema, 404: ErrorBody },
      detail: { tags: ["topics"], summary: "Describe a topic: per partition start, high watermark, size" },
    })
    .post("/v1/producers", () => ({ producerId: context.producerIds.allocate() }), {
      response: { 200: ProducerIdResponse },
      detail: { tags: ["produce"], summary: "Allocate an idempotent producer id (never reused)" },
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
  return { name: topic, partitions };
}
