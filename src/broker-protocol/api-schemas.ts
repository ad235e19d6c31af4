import { type Static, Type } from "@sinclair/typebox";
import { namePattern } from "./names.ts";

/**
 * JSON shapes of the broker's HTTP API (topics, produce, fetch, producer ids). The
 * broker validates and documents with them (Swagger) and the clients type their
 * responses with them. Consumer-group shapes live in group-protocol.ts.
 */

/** Every error the broker answers, with the HTTP status it travels with. */
export const ErrorCodeStatus = {
  bad_request: 400,
  unknown_topic: 404,
  unknown_partition: 404,
  unknown_group: 404,
  unknown_member: 410,
  fenced_instance: 410,
  not_assigned: 409,
  partition_owned: 409,
  group_limit: 429,
  topic_exists: 409,
  topic_in_use: 409,
  topic_protected: 409,
  stale_generation: 409,
  rebalance_in_progress: 409,
  out_of_order_sequence: 409,
  request_too_large: 413,
  batch_too_large: 413,
  offset_out_of_range: 416,
  slow_down: 429,
  disk_full: 503,
  shutting_down: 503,
  corrupt_batch: 400,
  unknown_producer_id: 400,
  missing_token: 401,
  invalid_token: 401,
  insufficient_scope: 403,
  not_found: 404,
  internal: 500,
} as const;
export type ErrorCode = keyof typeof ErrorCodeStatus;

export const ErrorBody = Type.Object(
  {
    error: Type.String({ description: "machine-readable code, e.g. slow_down, offset_out_of_range" }),
    message: Type.String({ description: "what went wrong, for a person" }),
    retryable: Type.Boolean({ description: "true when the same request may succeed later" }),
    logStartOffset: Type.Optional(Type.Integer({ description: "offset_out_of_range: first valid offset" })),
    highWatermark: Type.Optional(Type.Integer({ description: "offset_out_of_range: one past the last offset" })),
    retryAfterMs: Type.Optional(Type.Integer({ description: "slow_down: wait at least this long" })),
  },
  { $id: "BrokerError" },
);
export type ErrorBody = Static<typeof ErrorBody>;

export const Name = Type.String({ pattern: namePattern, description: "letters, digits, '.', '_' or '-'" });

export const ProduceResult = Type.Object({
  partition: Type.Integer({ minimum: 0 }),
  baseOffset: Type.Optional(Type.Integer({ minimum: 0 })),
  lastOffset: Type.Optional(Type.Integer({ minimum: 0 })),
  duplicate: Type.Optional(Type.Boolean({ description: "true when this batch was appended before (retry)" })),
  error: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
  retryable: Type.Optional(Type.Boolean()),
});
export type ProduceResult = Static<typeof ProduceResult>;

export const ProduceResponse = Type.Object(
  { results: Type.Array(ProduceResult, { description: "one entry per frame, in request order" }) },
  { $id: "ProduceResponse" },
);
export type ProduceResponse = Static<typeof ProduceResponse>;

/**
 * Query strings arrive as text: the broker converts these integers before checking
 * them (brokers/server/route-schemas.ts), the clients write them with routeRequest.
 */
export const FetchQuery = Type.Object({
  offset: Type.Integer({ minimum: 0, description: "first offset wanted" }),
  max_bytes: Type.Optional(Type.Integer({ minimum: 1, description: "bound on the response (at least one batch)" })),
  wait_ms: Type.Optional(Type.Integer({ minimum: 0, description: "long-poll this long when nothing is there" })),
});
export type FetchQuery = Static<typeof FetchQuery>;

export const CreateTopicBody = Type.Object({
  name: Name,
  partitions: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_024 })),
});
export type CreateTopicBody = Static<typeof CreateTopicBody>;

export const PartitionInfo = Type.Object({
  partition: Type.Integer({ minimum: 0 }),
  logStartOffset: Type.Integer({ minimum: 0 }),
  highWatermark: Type.Integer({ minimum: 0 }),
  sizeBytes: Type.Integer({ minimum: 0 }),
});
export type PartitionInfo = Static<typeof PartitionInfo>;

export const TopicInfo = Type.Object(
  {
    name: Type.String(),
    createdAtMs: Type.Integer({
      minimum: 0,
      description: "when the broker created the topic: a topic recreated under the same name gets a new one",
    }),
    partitions: Type.Array(PartitionInfo),
  },
  { $id: "TopicInfo" },
);
export type TopicInfo = Static<typeof TopicInfo>;

export const TopicList = Type.Object(
  { topics: Type.Array(Type.Object({ name: Type.String(), partitions: Type.Integer({ minimum: 1 }) })) },
  { $id: "TopicList" },
);
export type TopicList = Static<typeof TopicList>;

export const DeleteTopicQuery = Type.Object({
  force: Type.Optional(
    Type.Boolean({ description: "delete a protected topic too (BROKER_PROTECTED_TOPICS, e.g. the dead-letter topic)" }),
  ),
});
export type DeleteTopicQuery = Static<typeof DeleteTopicQuery>;

export const DeleteTopicResponse = Type.Object(
  {
    name: Type.String(),
    partitions: Type.Integer({ minimum: 1, description: "partitions deleted" }),
    groupsWithOffsetsRemoved: Type.Array(Type.String(), {
      description: "consumer groups whose committed offsets of the topic were removed",
    }),
  },
  { $id: "DeleteTopicResponse" },
);
export type DeleteTopicResponse = Static<typeof DeleteTopicResponse>;

export const ProducerIdResponse = Type.Object(
  { producerId: Type.Integer({ minimum: 1, description: "unique per broker data dir; never reused" }) },
  { $id: "ProducerId" },
);
export type ProducerIdResponse = Static<typeof ProducerIdResponse>;
