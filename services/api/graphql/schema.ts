import { buildSchema, type GraphQLSchema } from "graphql";

/**
 * The GraphQL schema: the REST API's data in one graph, with the same names, filters,
 * bounds and cursors (a cursor from one works with the other). Times in answers are
 * RFC 3339 UTC with milliseconds; time arguments take RFC 3339 or epoch milliseconds.
 */
export const schemaText = `"""
GPU telemetry: the GPU registry, each GPU's (and MIG instance's) datapoints, downsampled
series and latest values, and the whole fleet's latest values. The same data, filters and
limits as the REST API under /api/v1 (see /swagger).
"""
type Query {
  "GPUs with telemetry, ordered by UUID, each with its MIG instances; as GET /api/v1/gpus."
  gpus(
    "only GPUs on this host"
    hostname: String
    "only GPUs of this model"
    model: String
    "only GPUs used by a pod of this namespace, themselves or through a MIG instance; empty: no pod"
    namespace: String
    "only GPUs used by this pod, themselves or through a MIG instance"
    pod: String
    "only GPUs used by this container"
    container: String
    "page size, 1 to 1000 (default 100)"
    limit: Int
    "next_cursor of the previous page"
    cursor: String
  ): GpuPage!
  "A GPU or MIG instance: UUID or hostname:index, with :migN for MIG instance N; null when unknown."
  gpu(id: ID!): Gpu
  "The latest values of every GPU that matches, in one answer; as GET /api/v1/fleet."
  fleet(
    "metrics whose latest values to return, in this order (default: every metric reported)"
    metrics: [String!]
    hostname: String
    model: String
    namespace: String
    pod: String
    container: String
  ): FleetSnapshot!
  "Hosts with GPUs, by hostname."
  hosts: [Host!]!
  "The DCGM metric catalog and every other metric stored."
  metrics: [Metric!]!
}

type GpuPage {
  items: [Gpu!]!
  "pass as cursor to get the next page; null on the last page"
  next_cursor: String
}

"A GPU, or a MIG instance of one (a GPU of its own, with its GPU's identity and placement)."
type Gpu {
  "the UUID, or UUID:migN for a MIG instance"
  id: ID!
  uuid: String!
  hostname: String!
  gpu_index: Int!
  device: String!
  model: String!
  driver_version: String!
  namespace: String!
  pod: String!
  container: String!
  first_seen: String!
  last_seen: String!
  "DCGM fields it has reported"
  metrics: [String!]!
  "GPU_I_ID of a MIG instance; null for a whole GPU"
  gpu_instance_id: String
  "GPU_I_PROFILE of a MIG instance, e.g. 1g.10gb; null for a whole GPU"
  gpu_instance_profile: String
  "its MIG instances (empty without MIG, and for an instance)"
  mig_instances: [Gpu!]!
  "the latest value per metric (only these metrics, when given)"
  latest(metrics: [String!]): [LatestValue!]!
  "datapoints in a window; as GET /api/v1/gpus/{id}/telemetry"
  telemetry(
    "inclusive; RFC 3339 or epoch milliseconds; default: end_time minus an hour"
    start_time: String
    "inclusive; RFC 3339 or epoch milliseconds; default: now"
    end_time: String
    metrics: [String!]
    namespace: String
    pod: String
    container: String
    order: Order
    "page size, 1 to 10000 (default 1000); over a list of GPUs, GPUs times limit is at most 10000"
    limit: Int
    "next_cursor of the previous page (of this GPU)"
    cursor: String
  ): TelemetryPage!
  "downsampled series; as GET /api/v1/gpus/{id}/telemetry/summary"
  summary(
    start_time: String
    end_time: String
    metrics: [String!]
    "bucket width: 10s, 1m (default), 5m or 1h"
    step: String
    agg: Aggregate
  ): TelemetrySummary!
}

enum Order {
  asc
  desc
}

enum Aggregate {
  avg
  min
  max
  last
}

type LatestValue {
  metric: String!
  value: Float!
  unit: String!
  timestamp: String!
}

type TelemetryPage {
  gpu: ID!
  start_time: String!
  end_time: String!
  items: [TelemetryItem!]!
  next_cursor: String
}

type TelemetryItem {
  timestamp: String!
  metric: String!
  value: Float!
  unit: String!
  source_timestamp: String!
  namespace: String!
  pod: String!
  container: String!
}

type TelemetrySummary {
  gpu: ID!
  step: String!
  agg: String!
  "rollup when served from the per-minute rollup, raw otherwise"
  source: String!
  start_time: String!
  end_time: String!
  series: [SummarySeries!]!
}

type SummarySeries {
  metric: String!
  unit: String!
  points: [SummaryPoint!]!
}

type SummaryPoint {
  timestamp: String!
  value: Float!
  samples: Int!
}

type FleetSnapshot {
  generated_at: String!
  stale_after_ms: Int!
  metrics: [FleetMetric!]!
  truncated: Boolean!
  items: [FleetGpu!]!
}

type FleetMetric {
  name: String!
  unit: String!
}

type FleetGpu {
  uuid: String!
  hostname: String!
  gpu_index: Int!
  model: String!
  namespace: String!
  pod: String!
  container: String!
  last_seen: String!
  stale: Boolean!
  "values[i] is the latest value of metrics[i]"
  values: [Float]!
  timestamps: [String]!
  mig_instances: [FleetMigInstance!]!
}

type FleetMigInstance {
  id: ID!
  gpu_instance_id: String!
  profile: String!
  namespace: String!
  pod: String!
  container: String!
  last_seen: String!
  stale: Boolean!
  values: [Float]!
  timestamps: [String]!
}

type Host {
  hostname: String!
  gpu_count: Int!
  last_seen: String!
}

type Metric {
  name: String!
  unit: String!
  "gauge, counter, or unknown for a metric outside the catalog"
  kind: String!
  description: String!
  in_catalog: Boolean!
  has_data: Boolean!
}
`;

export const graphqlSchema: GraphQLSchema = buildSchema(schemaText);
