import { metricsFilterCountMax } from "../../src/clickhouse/telemetry-page.ts";
import { metricCatalog } from "../../src/domain/metric-catalog.ts";
import { ApiError } from "./errors.ts";

const catalogNames = new Set(metricCatalog.map((metric) => metric.name));

/** Names in one filter at most; bounds the list sent to ClickHouse. */
export const metricFilterCountMax = metricsFilterCountMax;

/**
 * Any DCGM field: dcgm-exporter publishes whatever fields it is configured with, and the
 * streamers ingest every `DCGM_FI_*` sample, so the catalog's 26 are only the defaults.
 */
const dcgmFieldPattern = /^DCGM_FI_[A-Z0-9_]{1,119}$/;

export function isAcceptedMetricName(name: string): boolean {
  return catalogNames.has(name) || dcgmFieldPattern.test(name);
}

/**
 * The `metric` parameter (repeated or comma-separated) as a sorted, de-duplicated
 * list; empty means every metric. A name must be a DCGM field (`DCGM_FI_` and capitals,
 * digits, underscores) or in the catalog: anything else is a 400 that says so, so a
 * typo such as a lower-case name is fixed in one round trip. A valid name nothing
 * reported simply matches nothing (GET /api/v1/metrics lists what is stored).
 */
export function parseMetricFilter(values: readonly string[] | undefined): string[] {
  if (values === undefined) return [];
  const split = values.flatMap((value) => value.split(",")).map((value) => value.trim());
  const names = [...new Set(split.filter((value) => value !== ""))].sort();
  const unknown = names.filter((name) => !isAcceptedMetricName(name));
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 5).map((name) => JSON.stringify(name.slice(0, 64)));
    const problem = `not a DCGM field name: ${shown.join(", ")}; expected DCGM_FI_ followed by capitals, digits and underscores (e.g. DCGM_FI_DEV_GPU_UTIL); GET /api/v1/metrics lists the known ones`;
    throw new ApiError("bad_request", `Unknown metric ${shown.join(", ")}: ${problem}`, [{ field: "metric", problem }]);
  }
  if (names.length > metricFilterCountMax) {
    const problem = `${names.length} metrics, at most ${metricFilterCountMax} per request`;
    throw new ApiError("bad_request", `Too many metrics: ${problem}`, [{ field: "metric", problem }]);
  }
  return names;
}
