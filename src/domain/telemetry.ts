import { type Static, Type } from "@sinclair/typebox";

/** Longest GPU UUID, hostname or label value we accept; bounds memory per record. */
export const textLengthMax = 256;
export const labelCountMax = 64;

const Text = (description: string) => Type.String({ maxLength: textLengthMax, description });

/**
 * One DCGM datapoint: one (GPU, metric, sample). `ts` is the processing time the
 * streamer stamped (the record's time everywhere downstream); `source_ts` keeps the
 * exporter's own timestamp for provenance. Both are UTC epoch milliseconds.
 */
export const TelemetryPoint = Type.Object(
  {
    ts: Type.Integer({ minimum: 0, description: "processing time, UTC epoch milliseconds" }),
    source_ts: Type.Integer({ minimum: 0, description: "timestamp from the source, UTC epoch milliseconds" }),
    uuid: Type.String({ minLength: 1, maxLength: textLengthMax, description: "GPU UUID, e.g. GPU-5fd4f087-…" }),
    hostname: Text("host the GPU is in"),
    gpu_index: Type.Integer({ minimum: 0, maximum: 1023, description: "GPU index on its host (DCGM gpu_id)" }),
    device: Text("device name, e.g. nvidia0"),
    model: Text("GPU model name"),
    metric: Type.String({ minLength: 1, maxLength: textLengthMax, description: "DCGM field name" }),
    value: Type.Number({ description: "sample value in the metric's unit" }),
    container: Text("Kubernetes container using the GPU, empty when none"),
    pod: Text("Kubernetes pod using the GPU, empty when none"),
    namespace: Text("Kubernetes namespace of the pod, empty when none"),
    labels: Type.Record(Type.String({ maxLength: textLengthMax }), Type.String({ maxLength: textLengthMax }), {
      maxProperties: labelCountMax,
      description: "remaining exporter labels (labels_raw), e.g. DCGM_FI_DRIVER_VERSION",
    }),
  },
  { $id: "TelemetryPoint", additionalProperties: false },
);
export type TelemetryPoint = Static<typeof TelemetryPoint>;
