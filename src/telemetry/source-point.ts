import { type Static, Type } from "@sinclair/typebox";
import {
  type BadIntegerReason,
  badIntegerReasons,
  gpuIndexMax,
  type MissingFieldReason,
  missingFieldReasons,
  type TelemetryField,
  type TelemetryFieldNameOf,
  TelemetryPoint,
  telemetryFields,
} from "../domain/telemetry.ts";

/**
 * A datapoint as a source (CSV row, exporter sample) yields it: everything but the
 * processing time, which the streamer stamps when it produces the record.
 */
export const SourcePoint = Type.Omit(TelemetryPoint, ["ts"], { $id: "SourcePoint" });
export type SourcePoint = Static<typeof SourcePoint>;

/** Why a source row did not become a datapoint; counted by reason in /metrics. */
export const RowRejectionReason = Type.Union(
  [
    ...missingFieldReasons.map((reason) => Type.Literal(reason)),
    Type.Literal("non_numeric_value"),
    Type.Literal("bad_timestamp"),
    Type.Literal("wrong_column_count"),
    Type.Literal("bad_labels"),
    ...badIntegerReasons.map((reason) => Type.Literal(reason)),
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

/**
 * Field values a source has already pulled out of its format: the point's fields, with
 * every integer field (gpu_index) still as the decimal text the source holds, so each
 * source parses it the same way here.
 */
export type SourceFields = {
  [Name in keyof SourcePoint]: Name extends TelemetryFieldNameOf<"UInt16"> ? string : SourcePoint[Name];
};

/** Details quote at most this much of the offending text, so a hostile row cannot flood the logs. */
export const detailLengthMax = 80;

/** The fields a source supplies (all but the processing time), grouped by what is checked. */
const declaredFields: readonly TelemetryField[] = telemetryFields;
const sourceFields = declaredFields.filter((field) => field.name !== "ts");
const requiredFields = sourceFields.flatMap((field) =>
  field.type === "String" && field.required === true
    ? [{ name: field.name, reason: `missing_${field.name}` as MissingFieldReason }]
    : [],
);
const numberFields = sourceFields.flatMap((field) => (field.type === "Float64" ? [field] : []));
const timestampFields = sourceFields.flatMap((field) => (field.type === "DateTime64(3, 'UTC')" ? [field] : []));
const integerFields = sourceFields.flatMap((field) => (field.type === "UInt16" ? [field] : []));
const textFields = sourceFields.flatMap((field) => (field.type === "String" ? [field] : []));

type Rejected = { ok: false; reason: RowRejectionReason; detail: string };

/**
 * Checks what TelemetryPoint requires (telemetryFields) and builds the point; the one
 * validator every source uses. The first problem is reported, most telling first:
 * an empty required field, a non-finite number, a bad timestamp, a bad integer, a
 * text too long.
 */
export function buildSourcePoint(fields: SourceFields): SourcePointResult {
  const values = fields as unknown as Record<string, unknown>;
  for (const field of requiredFields) {
    if ((values[field.name] as string).length === 0)
      return { ok: false, reason: field.reason, detail: `empty ${field.name}` };
  }
  for (const field of numberFields) {
    const value = values[field.name] as number;
    if (!Number.isFinite(value)) return { ok: false, reason: "non_numeric_value", detail: String(value) };
  }
  for (const field of timestampFields) {
    const value = values[field.name] as number;
    if (!Number.isSafeInteger(value) || value < 0) return { ok: false, reason: "bad_timestamp", detail: String(value) };
  }
  const point = { ...values };
  for (const field of integerFields) {
    const text = values[field.name] as string;
    const parsed = parseBoundedInteger(text, field.valueMax);
    const reason = `bad_${field.name}` as BadIntegerReason;
    if (parsed === undefined) return { ok: false, reason, detail: clip(text) };
    point[field.name] = parsed;
  }
  const tooLong = longField(values);
  if (tooLong !== undefined) return tooLong;
  return { ok: true, point: point as SourcePoint };
}

function longField(values: Record<string, unknown>): Rejected | undefined {
  for (const field of textFields) {
    const text = values[field.name] as string;
    if (text.length > field.lengthMax) {
      const detail = `${field.name} has ${text.length} characters, max ${field.lengthMax}`;
      return { ok: false, reason: "field_too_long", detail };
    }
  }
  return undefined;
}

/** A GPU index on its host: decimal digits, 0..gpuIndexMax. */
export function parseGpuIndex(text: string): number | undefined {
  return parseBoundedInteger(text, gpuIndexMax);
}

/** Decimal digits (no sign, no spaces) of an integer 0..valueMax. */
function parseBoundedInteger(text: string, valueMax: number): number | undefined {
  if (text.length === 0 || text.length > String(valueMax).length) return undefined;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code < 0x30 || code > 0x39) return undefined;
  }
  const value = Number(text);
  return value <= valueMax ? value : undefined;
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
