import type { ClickHouseClient } from "@clickhouse/client";
import { Type } from "@sinclair/typebox";
import { queryRows } from "../../src/clickhouse/typed-query.ts";

/** Distinct metric names any GPU reported; bounded like the registry's per-GPU list. */
export const metricsWithDataMax = 1_000;

const MetricNameRow = Type.Object({ metric: Type.String() });

/**
 * Metric names with at least one datapoint within retention, from the latest-values
 * table (one row per GPU and metric), so this never scans datapoints.
 */
export async function metricsWithData(clickhouse: ClickHouseClient): Promise<Set<string>> {
  const rows = await queryRows(clickhouse, {
    name: "metrics with data",
    sql: "SELECT DISTINCT metric FROM gpu_latest ORDER BY metric LIMIT {limit:UInt32}",
    params: { limit: metricsWithDataMax },
    row: MetricNameRow,
    rowsMax: metricsWithDataMax,
  });
  return new Set(rows.map((row) => row.metric));
}
