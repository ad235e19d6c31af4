import { type Static, Type } from "@sinclair/typebox";
import { Gpu as DomainGpu } from "../../src/domain/gpu.ts";
import { MetricInfo } from "../../src/domain/metric-catalog.ts";
import { BadRequestError, InternalError, NotFoundError, UnavailableError } from "./errors.ts";
import { componentId, componentName } from "./openapi-ids.ts";

/**
 * Response bodies, registered as named models so the OpenAPI document shows each
 * once under components/schemas and routes refer to them by name.
 */

const Timestamp = (description: string) => Type.String({ format: "date-time", description });
const NextCursor = Type.Union([Type.String(), Type.Null()], {
  description: "pass as `cursor` to get the next page; null on the last page",
});

export const Gpu = Type.Object(DomainGpu.properties, {
  $id: componentId("Gpu"),
  additionalProperties: false,
  description: "A GPU: identity, placement, when it reported and which metrics",
});
export type Gpu = Static<typeof Gpu>;

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

export const GpuDetail = Type.Object(
  { ...DomainGpu.properties, latest: Type.Array(Type.Ref(LatestValue), { description: "one entry per metric" }) },
  { $id: componentId("GpuDetail"), additionalProperties: false, description: "A GPU and its latest value per metric" },
);
export type GpuDetail = Static<typeof GpuDetail>;

export const TelemetryItem = Type.Object(
  {
    timestamp: Timestamp("processing time (the datapoint's time), UTC, milliseconds"),
    metric: Type.String({ description: "DCGM field name" }),
    value: Type.Number(),
    unit: Type.String(),
    source_timestamp: Timestamp("the exporter's own timestamp, kept for provenance"),
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
    gpu: Type.String({ description: "GPU UUID" }),
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
    gpu: Type.String({ description: "GPU UUID" }),
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
    ...MetricInfo.properties,
    has_data: Type.Boolean({ description: "whether any GPU has reported this metric (within retention)" }),
  },
  { $id: componentId("CatalogMetric"), additionalProperties: false },
);
export const MetricList = Type.Object(
  { items: Type.Array(Type.Ref(CatalogMetric)) },
  { $id: componentId("MetricList"), additionalProperties: false, description: "The DCGM metric catalog" },
);
export type MetricList = Static<typeof MetricList>;

export const FleetMetric = Type.Object(
  { name: Type.String({ description: "DCGM field name" }), unit: Type.String() },
  { $id: componentId("FleetMetric"), additionalProperties: false },
);

export const FleetGpu = Type.Object(
  {
    uuid: Type.String({ description: "GPU UUID" }),
    hostname: Type.String(),
    gpu_index: Type.Integer({ minimum: 0 }),
    model: Type.String(),
    namespace: Type.String({ description: "Kubernetes namespace of the pod using the GPU; empty when none" }),
    pod: Type.String({ description: "Kubernetes pod using the GPU at its latest datapoint; empty when none" }),
    container: Type.String({ description: "container in that pod; empty when none" }),
    last_seen: Timestamp("the GPU's latest datapoint of any metric"),
    stale: Type.Boolean({ description: "last_seen is more than stale_after_ms before generated_at" }),
    values: Type.Array(Type.Union([Type.Number(), Type.Null()]), {
      description: "values[i] is the latest value of metrics[i]; null when this GPU has not reported it",
    }),
    timestamps: Type.Array(Type.Union([Timestamp("when values[i] was measured"), Type.Null()]), {
      description: "timestamps[i] is the processing time of values[i]; null with it",
    }),
  },
  {
    $id: componentId("FleetGpu"),
    additionalProperties: false,
    description: "One GPU of the fleet: placement, workload and the latest values of the chosen metrics",
  },
);
export type FleetGpu = Static<typeof FleetGpu>;

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

/** name → schema, for `app.model(...)`; each name equals its $id's last segment (asserted below). */
export const apiModels = {
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
  FleetGpu,
  FleetSnapshot,
  BadRequestError,
  NotFoundError,
  UnavailableError,
  InternalError,
};
for (const [name, schema] of Object.entries(apiModels)) {
  if (componentName(String(schema.$id)) !== name) throw new Error(`model ${name} has $id ${schema.$id}`);
}

/** The error responses every data route can give, keyed by status. */
export const errorResponses = {
  400: "BadRequestError",
  404: "NotFoundError",
  500: "InternalError",
  503: "UnavailableError",
} as const;
