import {
  type Static,
  type TInteger,
  type TNumber,
  type TObject,
  type TRecord,
  type TString,
  Type,
} from "@sinclair/typebox";

/** Longest GPU UUID, hostname or label value we accept; bounds memory per record. */
export const textLengthMax = 256;
export const labelCountMax = 64;
/** Highest GPU index on a host (DCGM gpu_id) anywhere: sources, records, the API, the schemas. */
export const gpuIndexMax = 1023;

/**
 * A field of the telemetry record, by its RowBinary (ClickHouse) type:
 * - `DateTime64(3, 'UTC')`: Int64 UTC epoch milliseconds, a non-negative safe integer;
 * - `String`: at most `lengthMax` UTF-16 units; `required`: not empty (else rejected as `missing_<field>`);
 * - `UInt16`: an integer 0..`valueMax`;
 * - `Float64`: a finite number;
 * - `Map(String, String)`: at most `entriesMax` entries, names and values of at most `lengthMax` units.
 */
export type TelemetryField =
  | { name: string; type: "DateTime64(3, 'UTC')"; description: string }
  | { name: string; type: "String"; lengthMax: number; required?: true; description: string }
  | { name: string; type: "UInt16"; valueMax: number; description: string }
  | { name: string; type: "Float64"; description: string }
  | { name: string; type: "Map(String, String)"; entriesMax: number; lengthMax: number; description: string };

/**
 * The datapoint record, declared once: field, RowBinary type and limit, in record
 * order (the binary record's byte order and the insert's column order). The codec
 * (src/telemetry/record-codec.ts), the sources' validation
 * (src/telemetry/source-point.ts), TelemetryPoint and its type, and the insert's
 * column list all follow from it, so a new field is declared here and nowhere else
 * (plus the migration adding its column, and where each source finds it).
 */
export const telemetryFields = [
  { name: "ts", type: "DateTime64(3, 'UTC')", description: "processing time, UTC epoch milliseconds" },
  { name: "source_ts", type: "DateTime64(3, 'UTC')", description: "timestamp from the source, UTC epoch milliseconds" },
  {
    name: "uuid",
    type: "String",
    lengthMax: textLengthMax,
    required: true,
    description: "GPU UUID, e.g. GPU-5fd4f087-…",
  },
  { name: "hostname", type: "String", lengthMax: textLengthMax, description: "host the GPU is in" },
  { name: "gpu_index", type: "UInt16", valueMax: gpuIndexMax, description: "GPU index on its host (DCGM gpu_id)" },
  { name: "device", type: "String", lengthMax: textLengthMax, description: "device name, e.g. nvidia0" },
  { name: "model", type: "String", lengthMax: textLengthMax, description: "GPU model name" },
  {
    name: "metric",
    type: "String",
    lengthMax: textLengthMax,
    required: true,
    description: "DCGM field name",
  },
  { name: "value", type: "Float64", description: "sample value in the metric's unit" },
  {
    name: "container",
    type: "String",
    lengthMax: textLengthMax,
    description: "Kubernetes container using the GPU, empty when none",
  },
  {
    name: "pod",
    type: "String",
    lengthMax: textLengthMax,
    description: "Kubernetes pod using the GPU, empty when none",
  },
  {
    name: "namespace",
    type: "String",
    lengthMax: textLengthMax,
    description: "Kubernetes namespace of the pod, empty when none",
  },
  {
    name: "labels",
    type: "Map(String, String)",
    entriesMax: labelCountMax,
    lengthMax: textLengthMax,
    description: "remaining exporter labels (labels_raw), e.g. DCGM_FI_DRIVER_VERSION",
  },
] as const satisfies readonly TelemetryField[];

type DeclaredField = (typeof telemetryFields)[number];
export type TelemetryFieldName = DeclaredField["name"];
/** Names of the fields of one RowBinary type. */
export type TelemetryFieldNameOf<Type extends TelemetryField["type"]> = Extract<DeclaredField, { type: Type }>["name"];

/**
 * Rejection reasons named after fields, so a new field brings its own: an empty
 * required field is `missing_<field>` (the sources and the collector alike), a source
 * value that is no valid integer for an integer field is `bad_<field>`.
 */
export type MissingFieldReason = `missing_${Extract<DeclaredField, { required: true }>["name"]}`;
export type BadIntegerReason = `bad_${TelemetryFieldNameOf<"UInt16">}`;
const declared: readonly TelemetryField[] = telemetryFields;
export const missingFieldReasons = declared.flatMap((field) =>
  field.type === "String" && field.required === true ? [`missing_${field.name}` as MissingFieldReason] : [],
);
export const badIntegerReasons = declared.flatMap((field) =>
  field.type === "UInt16" ? [`bad_${field.name}` as BadIntegerReason] : [],
);

type SchemaOf<Field extends TelemetryField> = Field extends { type: "String" }
  ? TString
  : Field extends { type: "Float64" }
    ? TNumber
    : Field extends { type: "Map(String, String)" }
      ? TRecord<TString, TString>
      : TInteger;
type TelemetryProperties = { [Field in DeclaredField as Field["name"]]: SchemaOf<Field> };

function schemaOf(field: TelemetryField) {
  const { description } = field;
  switch (field.type) {
    case "DateTime64(3, 'UTC')":
      return Type.Integer({ minimum: 0, description });
    case "String":
      return Type.String({
        ...(field.required === true ? { minLength: 1 } : {}),
        maxLength: field.lengthMax,
        description,
      });
    case "UInt16":
      return Type.Integer({ minimum: 0, maximum: field.valueMax, description });
    case "Float64":
      return Type.Number({ description });
    case "Map(String, String)":
      return Type.Record(Type.String({ maxLength: field.lengthMax }), Type.String({ maxLength: field.lengthMax }), {
        maxProperties: field.entriesMax,
        description,
      });
  }
}

function telemetryProperties(): TelemetryProperties {
  const properties: Record<string, ReturnType<typeof schemaOf>> = {};
  for (const field of telemetryFields) properties[field.name] = schemaOf(field);
  return properties as unknown as TelemetryProperties;
}

/**
 * One DCGM datapoint: one (GPU, metric, sample). `ts` is the processing time the
 * streamer stamped (the record's time everywhere downstream); `source_ts` keeps the
 * exporter's own timestamp for provenance. Both are UTC epoch milliseconds.
 */
export const TelemetryPoint: TObject<TelemetryProperties> = Type.Object(telemetryProperties(), {
  $id: "TelemetryPoint",
  additionalProperties: false,
});
export type TelemetryPoint = Static<typeof TelemetryPoint>;
