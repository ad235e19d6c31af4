import { type Static, Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { TelemetryPoint, textLengthMax } from "../domain/telemetry.ts";
import type { SourcePoint } from "./source-point.ts";

/**
 * A broker record's value is one JSON object line whose fields are exactly
 * TelemetryPoint's, `ts` first. The collector joins values with "\n" and sends them
 * to ClickHouse as a JSONEachRow body unchanged (integer ms reads into DateTime64(3)).
 *
 * Encoding is split around `ts`: a source encodes everything after it once (the
 * "tail"), and stamping the processing time is one string concatenation.
 */

/** What every encoded record starts with; the processing time follows. */
export const recordHead = '{"ts":';
/** Longest record text decode accepts; a real one is a few hundred bytes. */
export const recordLengthMax = 65_536;

/** Why a record value could not be decoded; the dead-letter topic carries it. */
export const RecordRejectionReason = Type.Union(
  [
    Type.Literal("undecodable"),
    Type.Literal("unknown_shape"),
    Type.Literal("missing_uuid"),
    Type.Literal("missing_metric"),
    Type.Literal("non_numeric_value"),
    Type.Literal("bad_timestamp"),
    Type.Literal("bad_labels"),
    Type.Literal("field_too_long"),
  ],
  { $id: "RecordRejectionReason" },
);
export type RecordRejectionReason = Static<typeof RecordRejectionReason>;

export type RecordDecodeResult =
  | { ok: true; point: TelemetryPoint }
  | { ok: false; reason: RecordRejectionReason; detail: string };

const telemetryPointChecker = TypeCompiler.Compile(TelemetryPoint);
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The record key: one GPU's datapoints share a partition and stay in order. */
export function recordKey(point: SourcePoint): string {
  return point.uuid;
}

/** Stamps an encoded tail with the processing time: the full record line. */
export function stampRecord(tsMs: number, tail: string): string {
  return recordHead + tsMs + tail;
}

export function encodeTelemetryRecord(point: TelemetryPoint): string {
  assertEncodable(point);
  assertEpochMs(point.ts, "ts");
  return JSON.stringify(orderedPoint(point, point.ts));
}

/**
 * Everything after `{"ts":<ms>`, starting with the comma and ending with `}`.
 *
 * JSON.stringify, not a hand-built string: measured on the sample rows it encodes
 * about 3x faster than concatenating ~40 pieces, and it returns a flat string where
 * the concatenation leaves a deep rope that every later stamp-and-encode must walk
 * again (replay to UTF-8 ran ~4x slower with rope tails).
 */
export function encodeRecordTail(point: SourcePoint): string {
  assertEncodable(point);
  const json = JSON.stringify(orderedPoint(point, undefined));
  return `,${json.slice(1)}`;
}

/** A copy with TelemetryPoint's field order (`ts` first when given) and nothing else. */
function orderedPoint(point: SourcePoint, tsMs: number | undefined): Record<string, unknown> {
  const fields = {
    source_ts: point.source_ts,
    uuid: point.uuid,
    hostname: point.hostname,
    gpu_index: point.gpu_index,
    device: point.device,
    model: point.model,
    metric: point.metric,
    value: point.value,
    container: point.container,
    pod: point.pod,
    namespace: point.namespace,
    labels: point.labels,
  };
  return tsMs === undefined ? fields : { ts: tsMs, ...fields };
}

/** JSON has no NaN or Infinity (stringify would write null), and times are integer ms. */
function assertEncodable(point: SourcePoint): void {
  assertEpochMs(point.source_ts, "source_ts");
  if (!Number.isFinite(point.value)) throw new Error(`value ${point.value} of ${point.uuid} ${point.metric} is not finite`);
}

function assertEpochMs(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} ${value} is not a non-negative integer ms`);
}

/** Parses and validates one record value; never throws. */
export function decodeTelemetryRecord(input: string | Uint8Array): RecordDecodeResult {
  const text = typeof input === "string" ? input : decodeUtf8(input);
  if (text === undefined) return { ok: false, reason: "undecodable", detail: "invalid UTF-8" };
  if (text.length > recordLengthMax) {
    return { ok: false, reason: "undecodable", detail: `${text.length} characters, max ${recordLengthMax}` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: "undecodable", detail: (error as Error).message.slice(0, 120) };
  }
  if (telemetryPointChecker.Check(parsed)) return { ok: true, point: parsed };
  return { ok: false, ...classifyInvalid(parsed) };
}

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Names the first problem an operator would care about, most specific first. */
function classifyInvalid(parsed: unknown): { reason: RecordRejectionReason; detail: string } {
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return { reason: "unknown_shape", detail: `not a JSON object` };
  }
  const record = parsed as Record<string, unknown>;
  if (typeof record.uuid !== "string" || record.uuid.length === 0) return { reason: "missing_uuid", detail: "uuid" };
  if (typeof record.metric !== "string" || record.metric.length === 0) {
    return { reason: "missing_metric", detail: "metric" };
  }
  if (typeof record.value !== "number" || !Number.isFinite(record.value)) {
    return { reason: "non_numeric_value", detail: String(record.value).slice(0, 80) };
  }
  for (const name of ["ts", "source_ts"]) {
    const value = record[name];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      return { reason: "bad_timestamp", detail: `${name}: ${String(value).slice(0, 80)}` };
    }
  }
  for (const name of ["uuid", "hostname", "device", "model", "metric", "container", "pod", "namespace"]) {
    const value = record[name];
    if (typeof value === "string" && value.length > textLengthMax) return { reason: "field_too_long", detail: name };
  }
  const firstError = telemetryPointChecker.Errors(parsed).First();
  const path = firstError?.path ?? "";
  const detail = `${path} ${firstError?.message ?? "does not match TelemetryPoint"}`.trim();
  return { reason: path.startsWith("/labels") ? "bad_labels" : "unknown_shape", detail };
}
