import {
  finishTelemetryPage,
  type TelemetryPage,
  type TelemetryPageOptions,
  telemetryPage,
  telemetryRows,
} from "../../../src/clickhouse/telemetry-page.ts";
import type { RowsClient } from "../../../src/clickhouse/typed-query.ts";
import type { TailStore } from "./tail-store.ts";

export type PageSource = "clickhouse" | "tail" | "both";

/**
 * A telemetry page cut from two sources that hold disjoint time ranges of the same
 * rows: the tail holds every row from its horizon on, ClickHouse the older ones. In
 * page order all of one range precede all of the other, so a page is the first
 * source's rows after the cursor, then the second's from the horizon, cut by
 * finishTelemetryPage exactly as a ClickHouse page is. The tail's rows are read
 * before ClickHouse is asked, at one instant with the horizon they belong to (the
 * horizon may move on while the query runs).
 */
export async function liveTelemetryPage(
  reader: RowsClient,
  tail: TailStore,
  options: TelemetryPageOptions,
): Promise<{ page: TelemetryPage; source: PageSource }> {
  const horizonMs = tail.horizonMs;
  if (horizonMs === undefined || options.endMs < horizonMs) {
    return { page: await telemetryPage(reader, options), source: "clickhouse" };
  }
  const wanted = options.limit + 1;
  if (options.startMs >= horizonMs) return { page: fromTail(tail, options), source: "tail" };
  const older = { ...options, endMs: horizonMs - 1 };
  if (options.order === "asc") {
    if (options.after !== undefined && options.after.tsMs >= horizonMs) {
      return { page: fromTail(tail, { ...options, startMs: horizonMs }), source: "tail" };
    }
    const newer = tail.select({ ...options, startMs: horizonMs, after: undefined, count: wanted });
    const rows = await telemetryRows(reader, older);
    const combined = rows.length >= wanted ? rows : rows.concat(newer.slice(0, wanted - rows.length));
    return { page: finishTelemetryPage(combined, options.limit, options.after), source: "both" };
  }
  if (options.after !== undefined && options.after.tsMs < horizonMs) {
    return { page: await telemetryPage(reader, older), source: "clickhouse" };
  }
  const newer = tail.select({ ...options, startMs: horizonMs, count: wanted });
  if (newer.length >= wanted) return { page: finishTelemetryPage(newer, options.limit, options.after), source: "tail" };
  const missing = wanted - newer.length;
  // telemetryRows reads limit + 1 rows and its limit is at least 1.
  const rows = await telemetryRows(reader, { ...older, after: undefined, limit: Math.max(1, missing - 1) });
  const combined = newer.concat(rows.slice(0, missing));
  return { page: finishTelemetryPage(combined, options.limit, options.after), source: "both" };
}

function fromTail(tail: TailStore, options: TelemetryPageOptions): TelemetryPage {
  const rows = tail.select({ ...options, count: options.limit + 1 });
  return finishTelemetryPage(rows, options.limit, options.after);
}
