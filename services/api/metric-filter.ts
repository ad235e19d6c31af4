import { metricCatalog } from "../../src/domain/metric-catalog.ts";
import { ApiError } from "./errors.ts";

const catalogNames = new Set(metricCatalog.map((metric) => metric.name));

/** At most every catalog metric once; bounds the IN (...) list sent to ClickHouse. */
export const metricFilterCountMax = metricCatalog.length;

/**
 * The `metric` parameter (repeated or comma-separated) as a sorted, de-duplicated
 * list of catalog names; empty means every metric. Unknown names are a 400 that
 * lists the valid ones, so a typo is fixed in one round trip.
 */
export function parseMetricFilter(values: readonly string[] | undefined): string[] {
  if (values === undefined) return [];
  const names = [...new Set(values.map((value) => value.trim()).filter((value) => value !== ""))].sort();
  const unknown = names.filter((name) => !catalogNames.has(name));
  if (unknown.length > 0) {
    const valid = [...catalogNames].join(", ");
    const shown = unknown.slice(0, 5).map((name) => JSON.stringify(name.slice(0, 64)));
    throw new ApiError("bad_request", `Unknown metric ${shown.join(", ")}. Valid metrics: ${valid}`, [
      { field: "metric", problem: `unknown metric ${shown.join(", ")}; valid: ${valid}` },
    ]);
  }
  if (names.length > metricFilterCountMax) throw new Error(`metric filter: ${names.length} > ${metricFilterCountMax}`);
  return names;
}
