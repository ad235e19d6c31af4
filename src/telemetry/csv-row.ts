import { extraLabels, type Labels, parseLabelList } from "./labels.ts";
import { buildSourcePoint, clip, parseDecimal, parseTimestampMs, type SourcePointResult } from "./source-point.ts";

/**
 * DCGM CSV rows to datapoints, driven by the header: columns are found by name
 * (exactly as dcgm's export spells them), so reordered or extra columns still work.
 */

/** Header name of each field we read. */
export const csvColumnNames = {
  timestamp: "timestamp",
  metric: "metric_name",
  gpuIndex: "gpu_id",
  device: "device",
  uuid: "uuid",
  model: "modelName",
  hostname: "Hostname",
  container: "container",
  pod: "pod",
  namespace: "namespace",
  value: "value",
  labelsRaw: "labels_raw",
} as const;

type ColumnKey = keyof typeof csvColumnNames;

/** Without these a row is not a datapoint; the others default to "" (or no labels). */
const requiredColumns: readonly ColumnKey[] = ["timestamp", "metric", "gpuIndex", "uuid", "hostname", "value"];
export const csvHeaderColumnsMax = 256;

/** Field index of each column in a row, -1 when the header lacks an optional one. */
export type CsvColumns = { readonly [key in ColumnKey]: number } & { readonly headerCount: number };

export type CsvHeaderResult = { ok: true; columns: CsvColumns } | { ok: false; error: string };

export function resolveCsvColumns(header: readonly string[]): CsvHeaderResult {
  if (header.length > csvHeaderColumnsMax) {
    return { ok: false, error: `header has ${header.length} columns, max ${csvHeaderColumnsMax}` };
  }
  const positions = new Map<string, number>();
  for (const [index, rawName] of header.entries()) {
    const name = rawName.trim();
    if (positions.has(name)) return { ok: false, error: `header names column "${clip(name)}" twice` };
    positions.set(name, index);
  }
  const missing = requiredColumns.filter((key) => !positions.has(csvColumnNames[key]));
  if (missing.length > 0) {
    const names = missing.map((key) => csvColumnNames[key]).join(", ");
    return { ok: false, error: `header lacks required column(s) ${names}; header is: ${clip(header.join(","))}` };
  }
  const columns = { headerCount: header.length } as Record<ColumnKey | "headerCount", number>;
  for (const key of Object.keys(csvColumnNames) as ColumnKey[]) {
    columns[key] = positions.get(csvColumnNames[key]) ?? -1;
  }
  return { ok: true, columns };
}

/**
 * Validates CSV rows of one file. Holds the last timestamp seen: exports write
 * one timestamp for many consecutive rows, so most rows skip the date parse.
 */
export class CsvRowValidator {
  private lastTimestampText: string | undefined = undefined;
  private lastTimestampMs = 0;

  constructor(private readonly columns: CsvColumns) {}

  validate(fields: readonly string[]): SourcePointResult {
    const columns = this.columns;
    if (fields.length !== columns.headerCount) {
      return {
        ok: false,
        reason: "wrong_column_count",
        detail: `${fields.length} fields, header has ${columns.headerCount}`,
      };
    }
    const controlProblem = controlCharacterProblem(fields);
    if (controlProblem !== undefined) return { ok: false, reason: "control_character", detail: controlProblem };
    const uuid = field(fields, columns.uuid);
    if (uuid.length === 0) return { ok: false, reason: "missing_uuid", detail: "empty uuid" };
    const metric = field(fields, columns.metric);
    if (metric.length === 0) return { ok: false, reason: "missing_metric", detail: "empty metric_name" };
    const valueText = field(fields, columns.value);
    const value = parseDecimal(valueText);
    if (value === undefined) return { ok: false, reason: "non_numeric_value", detail: clip(valueText) };
    const timestampText = field(fields, columns.timestamp);
    const sourceTsMs = this.timestampMs(timestampText);
    if (sourceTsMs === undefined) return { ok: false, reason: "bad_timestamp", detail: clip(timestampText) };
    const labels = labelsOf(field(fields, columns.labelsRaw));
    if (typeof labels === "string") return { ok: false, reason: "bad_labels", detail: labels };
    return buildSourcePoint({
      source_ts: sourceTsMs,
      uuid,
      hostname: field(fields, columns.hostname),
      gpu_index: field(fields, columns.gpuIndex),
      device: field(fields, columns.device),
      model: field(fields, columns.model),
      metric,
      value,
      container: field(fields, columns.container),
      pod: field(fields, columns.pod),
      namespace: field(fields, columns.namespace),
      labels,
    });
  }

  private timestampMs(text: string): number | undefined {
    if (text === this.lastTimestampText) return this.lastTimestampMs;
    const epochMs = parseTimestampMs(text);
    if (epochMs === undefined) return undefined;
    this.lastTimestampText = text;
    this.lastTimestampMs = epochMs;
    return epochMs;
  }
}

/** C0 controls and DEL except tab: never part of a DCGM value, and NUL breaks what reads them later. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is this pattern's job.
const controlCharacterPattern = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** Which field holds a control character (tab allowed), or undefined when none does. */
function controlCharacterProblem(fields: readonly string[]): string | undefined {
  for (const [index, text] of fields.entries()) {
    const match = controlCharacterPattern.exec(text);
    if (match === null) continue;
    const code = match[0].charCodeAt(0).toString(16).padStart(4, "0");
    return `field ${index + 1} holds control character U+${code.toUpperCase()} at character ${match.index + 1}`;
  }
  return undefined;
}

function field(fields: readonly string[], index: number): string {
  return index < 0 ? "" : (fields[index] ?? "");
}

/** The extra labels, or the parse error as text. */
function labelsOf(labelsRaw: string): Labels | string {
  if (labelsRaw.length === 0) return Object.create(null) as Labels;
  const scan = parseLabelList(labelsRaw);
  if (!scan.ok) return `${scan.error} at character ${scan.index}`;
  return extraLabels(scan.labels);
}
