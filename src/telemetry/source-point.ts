import { type Static, Type } from "@sinclair/typebox";
import { TelemetryPoint, textLengthMax } from "../domain/telemetry.ts";
import type { Labels } from "./labels.ts";

/**
 * A datapoint as a source (CSV row, exporter sample) yields it: everything but the
 * processing time, which the streamer stamps when it produces the record.
 */
export const SourcePoint = Type.Omit(TelemetryPoint, ["ts"], { $id: "SourcePoint" });
export type SourcePoint = Static<typeof SourcePoint>;

/** Why a source row did not become a datapoint; counted by reason in /metrics. */
export const RowRejectionReason = Type.Union(
  [
    Type.Literal("missing_uuid"),
    Type.Literal("missing_metric"),
    Type.Literal("non_numeric_value"),
    Type.Literal("bad_timestamp"),
    Type.Literal("wrong_column_count"),
    Type.Literal("bad_labels"),
    Type.Literal("bad_gpu_index"),
    Type.Literal("field_too_long"),
    Type.Literal("bad_quoting"),
    Type.Literal("control_character"),
  ],
  { $id: "RowRejectionReason" },
);
export type RowRejectionReason = Static<typeof RowRejectionReason>;
export const rowRejectionReasons: readonly RowRejectionReason[] = RowRejectionReason.anyOf.map(
  (literal) => literal.const,
);

/** One rejected row: 1-based line (the header is line 1), reason and a short detail. */
export interface RowRejection {
  line: number;
  reason: RowRejectionReason;
  detail: string;
}

export type SourcePointResult =
  | { ok: true; point: SourcePoint }
  | { ok: false; reason: RowRejectionReason; detail: string };

/** Field values a source has already pulled out of its format. */
export interface SourceFields {
  sourceTsMs: number;
  uuid: string;
  hostname: string;
  gpuIndexText: string;
  device: string;
  model: string;
  metric: string;
  value: number;
  container: string;
  pod: string;
  namespace: string;
  labels: Labels;
}

export const gpuIndexMax = 1023;
/** Details quote at most this much of the offending text, so a hostile row cannot flood the logs. */
export const detailLengthMax = 80;

/** Checks what TelemetryPoint requires and builds the point; the one validator every source uses. */
export function buildSourcePoint(fields: SourceFields): SourcePointResult {
  if (fields.uuid.length === 0) return { ok: false, reason: "missing_uuid", detail: "empty uuid" };
  if (fields.metric.length === 0) return { ok: false, reason: "missing_metric", detail: "empty metric name" };
  if (!Number.isFinite(fields.value)) return { ok: false, reason: "non_numeric_value", detail: String(fields.value) };
  if (!Number.isSafeInteger(fields.sourceTsMs) || fields.sourceTsMs < 0) {
    return { ok: false, reason: "bad_timestamp", detail: String(fields.sourceTsMs) };
  }
  const gpuIndex = parseGpuIndex(fields.gpuIndexText);
  if (gpuIndex === undefined) return { ok: false, reason: "bad_gpu_index", detail: clip(fields.gpuIndexText) };
  const tooLong = longField(fields);
  if (tooLong !== undefined) return { ok: false, reason: "field_too_long", detail: tooLong };
  const point: SourcePoint = {
    source_ts: fields.sourceTsMs,
    uuid: fields.uuid,
    hostname: fields.hostname,
    gpu_index: gpuIndex,
    device: fields.device,
    model: fields.model,
    metric: fields.metric,
    value: fields.value,
    container: fields.container,
    pod: fields.pod,
    namespace: fields.namespace,
    labels: fields.labels,
  };
  return { ok: true, point };
}

function longField(fields: SourceFields): string | undefined {
  const named: [string, string][] = [
    ["uuid", fields.uuid],
    ["hostname", fields.hostname],
    ["device", fields.device],
    ["model", fields.model],
    ["metric", fields.metric],
    ["container", fields.container],
    ["pod", fields.pod],
    ["namespace", fields.namespace],
  ];
  for (const [name, text] of named) {
    if (text.length > textLengthMax) return `${name} has ${text.length} characters, max ${textLengthMax}`;
  }
  return undefined;
}

const gpuIndexPattern = /^\d{1,4}$/;

/** A GPU index on its host: decimal digits, 0..gpuIndexMax. */
export function parseGpuIndex(text: string): number | undefined {
  if (!gpuIndexPattern.test(text)) return undefined;
  const index = Number(text);
  return index <= gpuIndexMax ? index : undefined;
}

const decimalPattern = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * A finite decimal number. Stricter than Number(): "" , " 1", "0x10" and "Infinity"
 * are not sample values.
 */
export function parseDecimal(text: string): number | undefined {
  if (!decimalPattern.test(text)) return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

const timestampPattern = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * RFC 3339 time (offset required, so no local-time guessing) to UTC epoch ms.
 * Date.parse alone would accept 2025-02-30 and many non-ISO shapes.
 */
export function parseTimestampMs(text: string): number | undefined {
  const match = timestampPattern.exec(text);
  if (match === null) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  // Digits, not float arithmetic: 0.035 * 1000 is not exactly 35.
  const millisecond = match[7] === undefined ? 0 : Number(`${match[7]}00`.slice(0, 3));
  const offsetMinutes = parseOffsetMinutes(match[8] as string);
  if (offsetMinutes === undefined) return undefined;
  const epochMs = Date.UTC(year, month - 1, day, hour, minute, second, millisecond) - offsetMinutes * 60_000;
  return epochMs >= 0 ? epochMs : undefined;
}

function parseOffsetMinutes(offset: string): number | undefined {
  if (offset === "Z" || offset === "z") return 0;
  const hours = Number(offset.slice(1, 3));
  const minutes = Number(offset.slice(4, 6));
  if (hours > 23 || minutes > 59) return undefined;
  const sign = offset.startsWith("-") ? -1 : 1;
  return sign * (hours * 60 + minutes);
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export function clip(text: string): string {
  return text.length <= detailLengthMax ? text : `${text.slice(0, detailLengthMax)}…`;
}
