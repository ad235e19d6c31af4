import { type Static, Type } from "@sinclair/typebox";
import { Gpu as DomainGpu } from "../../src/domain/gpu.ts";
import { MetricInfo } from "../../src/domain/metric-catalog.ts";
import { requiresScope } from "../../src/http/route-security.ts";
import {
  BadRequestError,
  ErrorDetail,
  InternalError,
  NotFoundError,
  UnauthorizedError,
  UnavailableError,
} from "./errors.ts";
import { componentId, componentName } from "./openapi-ids.ts";

/**
 * Response bodies, registered as named models so the OpenAPI document shows each
 * once under components/schemas and routes refer to them by name.
 */

const Timestamp = (description: string) => Type.String({ format: "date-time", description });
const NextCursor = Type.Union([Type.String(), Type.Null()], {
  description: "pass as `cursor` to get the next page; null on the last page",
});

const GpuId = (description: string) =>
  Type.String({
    description: `${description}: the GPU's UUID, or UUID:migN for its MIG instance with GPU_I_ID N (use it as {id})`,
  });

export const MigInstance = Type.Object(
  {
    id: GpuId("the instance's id"),
    gpu_instance_id: Type.String({ description: "dcgm-exporter's GPU_I_ID label" }),
    profile: Type.String({ description: "GPU_I_PROFILE, e.g. 1g.10gb; empty when the exporter did not say" }),
    namespace: Type.String({ description: "Kubernetes namespace of the pod using the instance; empty when none" }),
    pod: Type.String({ description: "Kubernetes pod using the instance at its latest datapoint; empty when none" }),
    container: Type.String({ description: "container in that pod; empty when none" }),
    first_seen: Timestamp("first datapoint of the instance"),
    last_seen: Timestamp("latest datapoint of the instance"),
    metrics: Type.Array(Type.String(), { description: "DCGM fields the instance has reported" }),
  },
  {
    $id: componentId("MigInstance"),
    additionalProperties: false,
    description: "A MIG instance of a GPU (its UUID plus GPU_I_ID): a GPU of its own for every route that takes {id}",
  },
);

export const Gpu = Type.Object(
  {
    id: GpuId("how to address it"),
    ...DomainGpu.properties,
    gpu_instance_id: Type.Union([Type.String(), Type.Null()], {
      description: "the MIG instance's GPU_I_ID when this is one; null for a whole GPU",
    }),
    gpu_instance_profile: Type.Union([Type.String(), Type.Null()], {
      description: "the MIG instance's GPU_I_PROFILE when this is one; null for a whole GPU",
    }),
    mig_instances: Type.Array(Type.Ref(MigInstance), {
      description: "the GPU's MIG instances (empty without MIG, and for an instance itself)",
    }),
  },
  {
    $id: componentId("Gpu"),
    additionalProperties: false,
    description:
      "A GPU or a MIG instance: identity, placement, workload, when it reported and which metrics. " +
      "A MIG instance has its GPU's uuid, placement and model, and its own workload, times and metrics.",
  },
);
export type Gpu = Static<typeof Gpu>;
export type MigInstance = Static<typeof MigInstance>;

export const GpuPage = Type.Object(
  { items: Type.Array(Type.Ref(Gpu)), next_cursor: NextCursor },
  { $id: componentId("GpuPage"), additionalProperties: false, description: "A page of GPUs ordered by UUID" },
);
export type GpuPage = Static<typeof GpuPage>;

export const LatestValue = Type.Object(
  {
    metric: Type.String(),
    value: Type.Number(),
    unit: Type.String({ description: "from the metric catalog; empty for a metric it does not describe" }),
    timestamp: Timestamp("processing time of the latest datapoint"),
  },
  { $id: componentId("LatestValue"), additionalProperties: false },
);
export type LatestValue = Static<typeof LatestValue>;

export const GpuDetail = Type.Object(
  { ...Gpu.properties, latest: Type.Array(Type.Ref(LatestValue), { description: "one entry per metric" }) },
  { $id: componentId("GpuDetail"), additionalProperties: false, description: "A GPU and its latest value per metric" },
);
export type GpuDetail = Static<typeof GpuDetail>;

function WorkloadProperties(what: string) {
  return {
    namespace: Type.String({ description: `Kubernetes namespace of the pod ${what}; empty when none` }),
    pod: Type.String({ description: `Kubernetes pod ${what}; empty when none` }),
    container: Type.String({ description: "container in that pod; empty when none" }),
  };
}

export const TelemetryItem = Type.Object(
  {
    timestamp: Timestamp("processing time (the datapoint's time), UTC, milliseconds"),
    metric: Type.String({ description: "DCGM field name" }),
    value: Type.Number(),
    unit: Type.String(),
    source_timestamp: Timestamp("the exporter's own timestamp, kept for provenance"),
    ...WorkloadProperties("the datapoint was measured for"),
  },
  { $id: componentId("TelemetryItem"), additionalProperties: false },
);
export type TelemetryItem = Static<typeof TelemetryItem>;

const ResolvedWindow = {
  start_time: Timestamp("the window's inclusive start after defaults were applied"),
  end_time: Timestamp("the window's inclusive end after defaults were applied"),
};

export const TelemetryPage = Type.Object(
  {
    gpu: GpuId("the GPU or MIG instance"),
    ...ResolvedWindow,
    items: Type.Array(Type.Ref(TelemetryItem)),
    next_cursor: NextCursor,
  },
  {
    $id: componentId("TelemetryPage"),
    additionalProperties: false,
    description: "Datapoints ordered by (timestamp, metric), ascending unless order=desc",
  },
);
export type TelemetryPage = Static<typeof TelemetryPage>;

export const SummaryPoint = Type.Object(
  {
    timestamp: Timestamp("bucket start, UTC"),
    value: Type.Number({ description: "the aggregate over the bucket" }),
    samples: Type.Integer({ minimum: 1, description: "datapoints in the bucket" }),
  },
  { $id: componentId("SummaryPoint"), additionalProperties: false },
);

export const SummarySeries = Type.Object(
  { metric: Type.String(), unit: Type.String(), points: Type.Array(Type.Ref(SummaryPoint)) },
  { $id: componentId("SummarySeries"), additionalProperties: false },
);

export const TelemetrySummary = Type.Object(
  {
    gpu: GpuId("the GPU or MIG instance"),
    step: Type.String({ description: "bucket width" }),
    agg: Type.String({ description: "aggregate per bucket" }),
    source: Type.Union([Type.Literal("raw"), Type.Literal("rollup")], {
      description: "rollup when served from the per-minute rollup (steps of whole minutes), raw otherwise",
    }),
    ...ResolvedWindow,
    series: Type.Array(Type.Ref(SummarySeries), { description: "one series per metric, buckets without data omitted" }),
  },
  { $id: componentId("TelemetrySummary"), additionalProperties: false, description: "Downsampled series for charts" },
);
export type TelemetrySummary = Static<typeof TelemetrySummary>;

export const Host = Type.Object(
  {
    hostname: Type.String(),
    gpu_count: Type.Integer({ minimum: 0 }),
    last_seen: Timestamp("latest datapoint of any GPU on the host"),
  },
  { $id: componentId("Host"), additionalProperties: false },
);
export const HostList = Type.Object(
  { items: Type.Array(Type.Ref(Host)) },
  { $id: componentId("HostList"), additionalProperties: false, description: "Hosts with GPUs, by hostname" },
);
export type HostList = Static<typeof HostList>;

export const CatalogMetric = Type.Object(
  {
    name: MetricInfo.properties.name,
    unit: Type.String({ description: "unit of the value; empty for a metric the catalog does not describe" }),
    kind: Type.Union([Type.Literal("gauge"), Type.Literal("counter"), Type.Literal("unknown")], {
      description: "unknown for a metric the catalog does not describe",
    }),
    description: Type.String({ description: "empty for a metric the catalog does not describe" }),
    in_catalog: Type.Boolean({ description: "whether the DCGM metric catalog describes it (units, kind)" }),
    has_data: Type.Boolean({ description: "whether any GPU has reported this metric (within retention)" }),
  },
  { $id: componentId("CatalogMetric"), additionalProperties: false },
);
export const MetricList = Type.Object(
  { items: Type.Array(Type.Ref(CatalogMetric)) },
  {
    $id: componentId("MetricList"),
    additionalProperties: false,
    description: "The DCGM metric catalog and every other metric stored, by name",
  },
);
export type MetricList = Static<typeof MetricList>;

export const FleetMetric = Type.Object(
  { name: Type.String({ description: "DCGM field name" }), unit: Type.String() },
  { $id: componentId("FleetMetric"), additionalProperties: false },
);

const FleetValues = {
  values: Type.Array(Type.Union([Type.Number(), Type.Null()]), {
    description: "values[i] is the latest value of metrics[i]; null when it has not reported it",
  }),
  timestamps: Type.Array(Type.Union([Timestamp("when values[i] was measured"), Type.Null()]), {
    description: "timestamps[i] is the processing time of values[i]; null with it",
  }),
};

export const FleetMigInstance = Type.Object(
  {
    id: GpuId("the instance's id"),
    gpu_instance_id: Type.String({ description: "GPU_I_ID" }),
    profile: Type.String({ description: "GPU_I_PROFILE, e.g. 1g.10gb" }),
    ...WorkloadProperties("using the instance at its latest datapoint"),
    last_seen: Timestamp("the instance's latest datapoint of any metric"),
    stale: Type.Boolean({ description: "last_seen is more than stale_after_ms before generated_at" }),
    ...FleetValues,
  },
  {
    $id: componentId("FleetMigInstance"),
    additionalProperties: false,
    description: "A MIG instance of a fleet GPU: its workload and the latest values of the chosen metrics",
  },
);

export const FleetGpu = Type.Object(
  {
    uuid: Type.String({ description: "GPU UUID" }),
    hostname: Type.String(),
    gpu_index: Type.Integer({ minimum: 0 }),
    model: Type.String(),
    ...WorkloadProperties("using the GPU itself at its latest datapoint"),
    last_seen: Timestamp("the GPU's latest datapoint of any metric (its own or an instance's)"),
    stale: Type.Boolean({ description: "last_seen is more than stale_after_ms before generated_at" }),
    ...FleetValues,
    mig_instances: Type.Array(Type.Ref(FleetMigInstance), {
      description: "its MIG instances, by GPU_I_ID; the GPU's own values are those of datapoints without one",
    }),
  },
  {
    $id: componentId("FleetGpu"),
    additionalProperties: false,
    description: "One GPU of the fleet: placement, workload and the latest values of the chosen metrics",
  },
);
export type FleetGpu = Static<typeof FleetGpu>;
export type FleetMigInstance = Static<typeof FleetMigInstance>;

export const FleetSnapshot = Type.Object(
  {
    generated_at: Timestamp("when the answer was read"),
    stale_after_ms: Type.Integer({ minimum: 1, description: "a GPU silent for longer than this is stale" }),
    metrics: Type.Array(Type.Ref(FleetMetric), {
      description: "the metrics of values and timestamps, in that order: the ones asked for, or every one reported",
    }),
    truncated: Type.Boolean({ description: "true when more GPUs match than one answer holds (fleet_gpus_max)" }),
    items: Type.Array(Type.Ref(FleetGpu), { description: "ordered by hostname, gpu_index, uuid" }),
  },
  {
    $id: componentId("FleetSnapshot"),
    additionalProperties: false,
    description: "The latest values of every GPU that matches the filter, in one answer",
  },
);
export type FleetSnapshot = Static<typeof FleetSnapshot>;

export const FleetChanges = Type.Object(
  {
    generated_at: Timestamp("when the answer these changes come from was read"),
    stale_after_ms: Type.Integer({ minimum: 1 }),
    metrics: Type.Array(Type.Ref(FleetMetric), { description: "as in the snapshot" }),
    truncated: Type.Boolean(),
    items: Type.Array(Type.Ref(FleetGpu), { description: "GPUs that are new or changed since the previous event" }),
    removed: Type.Array(Type.String(), { description: "UUIDs that no longer match (left the filter or the registry)" }),
  },
  {
    $id: componentId("FleetChanges"),
    additionalProperties: false,
    description: "Event `changes` of the fleet stream: what differs from the snapshot and the changes before",
  },
);
export type FleetChanges = Static<typeof FleetChanges>;

export const StreamDatapoint = Type.Object(
  {
    gpu: GpuId("the GPU or MIG instance"),
    timestamp: Timestamp("processing time (the datapoint's time), UTC, milliseconds"),
    metric: Type.String(),
    value: Type.Number(),
    unit: Type.String(),
    source_timestamp: Timestamp("the exporter's own timestamp"),
    ...WorkloadProperties("the datapoint was measured for"),
  },
  { $id: componentId("StreamDatapoint"), additionalProperties: false },
);
export type StreamDatapoint = Static<typeof StreamDatapoint>;

export const DatapointBatch = Type.Object(
  { items: Type.Array(Type.Ref(StreamDatapoint)) },
  {
    $id: componentId("DatapointBatch"),
    additionalProperties: false,
    description:
      "Event `datapoints`: datapoints that reached the broker since the previous event, in arrival order per GPU",
  },
);

export const StreamEnd = Type.Object(
  { reason: Type.String({ description: "shutdown: the API is stopping; reconnect to another instance or later" }) },
  { $id: componentId("StreamEnd"), additionalProperties: false, description: "Event `end`: the last event" },
);

const NullableNumber = (description: string) => Type.Union([Type.Number(), Type.Null()], { description });
const NullableInteger = (description: string) => Type.Union([Type.Integer(), Type.Null()], { description });

export const PipelineStatus = Type.Object(
  {
    generated_at: Timestamp("when this answer was put together"),
    broker_reachable: Type.Boolean({ description: "whether the latest sample reached the broker" }),
    rates: Type.Object(
      {
        produced_per_s: NullableNumber("datapoints produced to the telemetry topic per second (last 5 s)"),
        inserted_per_s: NullableNumber("datapoints inserted into ClickHouse per second: the collectors' commits"),
        dead_letters_per_s: NullableNumber("records sent to the dead-letter topic per second"),
      },
      { additionalProperties: false },
    ),
    totals: Type.Object(
      {
        produced: NullableInteger("records in the telemetry topic ever (sum of high watermarks)"),
        inserted: NullableInteger("records the collectors committed (sum of committed offsets)"),
        dead_letters: NullableInteger("records in the dead-letter topic"),
      },
      { additionalProperties: false },
    ),
    history: Type.Array(
      Type.Object(
        {
          timestamp: Timestamp("sample time"),
          produced_per_s: NullableNumber("since the previous sample"),
          inserted_per_s: NullableNumber("since the previous sample"),
          lag: NullableInteger("records produced and not yet committed"),
        },
        { additionalProperties: false },
      ),
      { description: "one entry per sample (about a second apart), oldest first" },
    ),
    lag: Type.Object(
      {
        total: NullableInteger("records produced and not yet committed, over all partitions"),
        partitions: Type.Array(
          Type.Object(
            {
              partition: Type.Integer({ minimum: 0 }),
              committed: NullableInteger("the collectors' committed offset; null before their first commit"),
              high_watermark: Type.Integer({ minimum: 0 }),
              lag: Type.Integer({ minimum: 0 }),
              owner: Type.Union([Type.String(), Type.Null()], {
                description: "member id of the collector that owns it; null when none does",
              }),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false, description: "consumer lag of the collectors' group per partition" },
    ),
    groups: Type.Array(
      Type.Object(
        { group: Type.String(), state: Type.String(), members: Type.Integer({ minimum: 0 }) },
        { additionalProperties: false },
      ),
      { description: "consumer groups on the broker (collectors, streamers, ...)" },
    ),
    freshness: Type.Object(
      {
        window_s: Type.Integer({ minimum: 1 }),
        p50_ms: NullableNumber("median time from a datapoint's timestamp until it could be queried"),
        p99_ms: NullableNumber("99th percentile of the same"),
        samples: Type.Integer({ minimum: 0 }),
      },
      { additionalProperties: false, description: "measured by the live tail when datapoints become visible" },
    ),
    live_tail: Type.Object(
      {
        state: Type.String({ description: "off, syncing, live or catching_up" }),
        horizon: Type.Union([Timestamp("windows ending at or after this are served from memory"), Type.Null()]),
        rows: Type.Integer({ minimum: 0 }),
        gpus: Type.Integer({ minimum: 0 }),
      },
      { additionalProperties: false },
    ),
    processes: Type.Array(
      Type.Object(
        {
          name: Type.String(),
          status: Type.String({ description: "ready, not_ready, unreachable or unknown (not probed yet)" }),
          checked_at: Type.Union([Timestamp("last probe"), Type.Null()]),
          latency_ms: NullableInteger("how long the probe took"),
        },
        { additionalProperties: false },
      ),
      { description: "this API and the configured peers (API_PEER_URLS), probed about once a second" },
    ),
  },
  {
    $id: componentId("PipelineStatus"),
    additionalProperties: false,
    description: "Throughput, lag, dead letters, freshness and process health of the whole pipeline",
  },
);
export type PipelineStatus = Static<typeof PipelineStatus>;

export const GraphqlRequest = Type.Object(
  {
    query: Type.String({ minLength: 1, maxLength: 16_384, description: "the GraphQL query" }),
    variables: Type.Optional(
      Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], { description: "values of its variables" }),
    ),
    operationName: Type.Optional(
      Type.Union([Type.String({ maxLength: 256 }), Type.Null()], { description: "which operation to run" }),
    ),
  },
  { $id: componentId("GraphqlRequest"), description: "A GraphQL request (GraphQL over HTTP)" },
);

export const GraphqlError = Type.Object(
  {
    message: Type.String(),
    locations: Type.Optional(Type.Array(Type.Object({ line: Type.Integer(), column: Type.Integer() }))),
    path: Type.Optional(Type.Array(Type.Union([Type.String(), Type.Integer()]))),
    extensions: Type.Object(
      {
        code: Type.String({ description: "bad_request, unavailable or internal, as the REST errors' `error`" }),
        details: Type.Optional(Type.Array(ErrorDetail)),
      },
      { additionalProperties: true },
    ),
  },
  { $id: componentId("GraphqlError") },
);

export const GraphqlResponse = Type.Object(
  {
    data: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()])),
    errors: Type.Optional(Type.Array(Type.Ref(GraphqlError))),
  },
  { $id: componentId("GraphqlResponse"), description: "A GraphQL result: data, and the errors when any" },
);

/** name → schema, for `app.model(...)`; each name equals its $id's last segment (asserted below). */
export const apiModels = {
  MigInstance,
  Gpu,
  GpuPage,
  LatestValue,
  GpuDetail,
  TelemetryItem,
  TelemetryPage,
  SummaryPoint,
  SummarySeries,
  TelemetrySummary,
  Host,
  HostList,
  CatalogMetric,
  MetricList,
  FleetMetric,
  FleetMigInstance,
  FleetGpu,
  FleetSnapshot,
  FleetChanges,
  StreamDatapoint,
  DatapointBatch,
  StreamEnd,
  PipelineStatus,
  GraphqlRequest,
  GraphqlError,
  GraphqlResponse,
  BadRequestError,
  UnauthorizedError,
  NotFoundError,
  UnavailableError,
  InternalError,
};
for (const [name, schema] of Object.entries(apiModels)) {
  if (componentName(String(schema.$id)) !== name) throw new Error(`model ${name} has $id ${schema.$id}`);
}

/** What every data route declares: scope read (open to anyone when API_READ_OPEN is true). */
export const readAccess = requiresScope("read");

/** The error responses every data route can give, keyed by status. */
export const errorResponses = {
  400: "BadRequestError",
  401: "UnauthorizedError",
  404: "NotFoundError",
  500: "InternalError",
  503: "UnavailableError",
} as const;
