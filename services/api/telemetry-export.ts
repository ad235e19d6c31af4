import {
  type TelemetryCursor,
  type TelemetryPage,
  type TelemetryPageOptions,
  type TelemetryPointRow,
  telemetryPageLimitMax,
  telemetryRowCount,
} from "../../src/clickhouse/telemetry-page.ts";
import type { ApiContext } from "./api-context.ts";
import { errorResponses, type TelemetryItem } from "./api-models.ts";
import { ApiError } from "./errors.ts";
import type { TimeWindow } from "./time-window.ts";

/**
 * A window of one GPU's datapoints as NDJSON or CSV, streamed: the same pages the JSON
 * route serves (same rows, order, filters, cursors; the live tail where it reaches),
 * read one at a time as the client takes them, so a million rows never sit in memory.
 * An export is bounded (API_EXPORT_ROWS_MAX): without a `limit`, a window that holds more
 * is refused before anything is sent; with one, the export stops there.
 */

export type ExportFormat = "json" | "ndjson" | "csv";

export const exportContentTypes = {
  ndjson: "application/x-ndjson",
  csv: "text/csv; charset=utf-8",
} as const;

const csvColumns = ["gpu", "timestamp", "metric", "value", "unit", "source_timestamp", "namespace", "pod", "container"];

/** `format` when given, else what Accept prefers among the exports, else JSON. */
export function exportFormatOf(format: ExportFormat | undefined, accept: string | null): ExportFormat {
  if (format !== undefined) return format;
  const wanted = (accept ?? "").toLowerCase();
  if (/application\/(x-)?ndjson|application\/jsonl/.test(wanted)) return "ndjson";
  if (wanted.includes("text/csv")) return "csv";
  return "json";
}

export interface ExportSpec {
  format: Exclude<ExportFormat, "json">;
  /** The GPU's or instance's id, the first column of every row. */
  gpu: string;
  window: TimeWindow;
  /** Rows at most; undefined: the whole window, which must then hold at most exportRowsMax. */
  rowsMax: number | undefined;
  /** The page options for `limit` rows after a cursor (undefined: from the request's start). */
  options: (limit: number, after: TelemetryCursor | undefined) => TelemetryPageOptions;
  readPage: (options: TelemetryPageOptions) => Promise<{ page: TelemetryPage }>;
  /** Throws the 404 when the GPU is unknown (called when the first page is empty). */
  assertExists: () => Promise<void>;
  items: (rows: readonly TelemetryPointRow[]) => TelemetryItem[];
}

export async function exportTelemetry(context: ApiContext, spec: ExportSpec): Promise<Response> {
  const limit = spec.rowsMax ?? context.limits.exportRowsMax;
  if (limit > context.limits.exportRowsMax) throw tooMany(`limit ${limit}`, context.limits.exportRowsMax);
  if (spec.rowsMax === undefined) {
    const count = await context.queries.run(() => telemetryRowCount(context.reader, spec.options(1, undefined)));
    if (count > limit) throw tooMany(`the window holds ${count} datapoints`, limit);
  }
  let remaining = limit;
  const read = async (after: TelemetryCursor | undefined) => {
    const rows = Math.min(telemetryPageLimitMax, remaining);
    const { page } = await context.queries.run(() => spec.readPage(spec.options(rows, after)));
    remaining -= page.rows.length;
    return page;
  };
  // The first page before the answer starts: a missing GPU or an unreachable store still gets its status.
  const first = await read(undefined);
  if (first.rows.length === 0) await context.queries.run(spec.assertExists);
  let next = remaining > 0 ? first.next : undefined;
  const encoder = new TextEncoder();
  const head = spec.format === "csv" ? `${csvColumns.join(",")}\n` : "";
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(head + lines(spec, first.rows)));
      if (next === undefined) controller.close();
    },
    async pull(controller) {
      if (next === undefined) return;
      const page = await read(next);
      if (page.rows.length > 0) controller.enqueue(encoder.encode(lines(spec, page.rows)));
      next = remaining > 0 ? page.next : undefined;
      if (next === undefined) controller.close();
    },
  });
  return new Response(body, {
    headers: {
      "content-type": exportContentTypes[spec.format],
      "content-disposition": `attachment; filename="${fileName(spec)}"`,
    },
  });
}

function tooMany(what: string, rowsMax: number): ApiError {
  const problem = `${what}, more than an export holds (${rowsMax}): narrow start_time..end_time, or pass limit`;
  return new ApiError("bad_request", `Export too large: ${problem}`, [{ field: "limit", problem }]);
}

function lines(spec: ExportSpec, rows: readonly TelemetryPointRow[]): string {
  const items = spec.items(rows);
  let text = "";
  if (spec.format === "ndjson") {
    for (const item of items) text += `${JSON.stringify({ gpu: spec.gpu, ...item })}\n`;
    return text;
  }
  const gpu = csvField(spec.gpu);
  for (const item of items) {
    text += `${gpu},${item.timestamp},${csvField(item.metric)},${item.value},${csvField(item.unit)},${item.source_timestamp},`;
    text += `${csvField(item.namespace)},${csvField(item.pod)},${csvField(item.container)}\n`;
  }
  return text;
}

/** RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function fileName(spec: ExportSpec): string {
  const stamp = (epochMs: number) => new Date(epochMs).toISOString().replaceAll(":", "");
  const gpu = spec.gpu.replace(/[^A-Za-z0-9._-]/g, "_");
  return `${gpu}_${stamp(spec.window.startMs)}_${stamp(spec.window.endMs)}.${spec.format}`;
}

const errorDoc = (description: string, model: string) => ({
  description,
  content: { "application/json": { schema: { $ref: `#/components/schemas/${model}` } } },
});

/** The telemetry route's answers: a JSON page, or an export in the format asked for. */
export function exportResponses() {
  return {
    "200": {
      description: "A page of datapoints (JSON), or the window as NDJSON or CSV (format=, or Accept)",
      content: {
        "application/json": { schema: { $ref: "#/components/schemas/TelemetryPage" } },
        "application/x-ndjson": {
          schema: {
            type: "string" as const,
            description:
              "one JSON object a line: gpu, then the fields of TelemetryItem (timestamp, metric, value, unit, " +
              "source_timestamp, namespace, pod, container)",
          },
        },
        "text/csv": {
          schema: {
            type: "string" as const,
            description: `RFC 4180 with a header line: ${csvColumns.join(",")}`,
          },
        },
      },
    },
    "400": errorDoc(
      "The request is malformed, or the export would be too large; details say which",
      errorResponses[400],
    ),
    "401": errorDoc("A bearer token with scope read is needed (when read is not open)", errorResponses[401]),
    "404": errorDoc("No such GPU or MIG instance", errorResponses[404]),
    "500": errorDoc("Unexpected failure; logged with the request id", errorResponses[500]),
    "503": errorDoc("ClickHouse is unreachable or busy; retry later", errorResponses[503]),
  };
}
