import { Elysia } from "elysia";
import { listHosts } from "../../../src/clickhouse/gpu-queries.ts";
import { metricCatalog } from "../../../src/domain/metric-catalog.ts";
import { type ApiContext, apiModelsPlugin, jsonRoute } from "../api-context.ts";
import { CatalogMetric, errorResponses, Host, HostList, MetricList, readAccess } from "../api-models.ts";
import { metricsWithData } from "../metrics-with-data.ts";
import { ResponseCache } from "../response-cache.ts";
import { jsonResponse, jsonSerializer, type SerializedJson } from "../serialized-json.ts";
import { formatRfc3339 } from "../time-parsing.ts";

const serverErrors = { 401: errorResponses[401], 500: errorResponses[500], 503: errorResponses[503] };

/** GET /api/v1/hosts and GET /api/v1/metrics: what exists, for pickers and dashboards. */
export function catalogRoutes(context: ApiContext) {
  const cacheOptions = { ttlMs: context.limits.listCacheTtlMs, entriesMax: 1, clock: context.clock };
  const hostsCache = new ResponseCache<SerializedJson>(cacheOptions);
  const metricsCache = new ResponseCache<SerializedJson>(cacheOptions);
  const hostListJson = jsonSerializer(HostList, [Host]);
  const metricListJson = jsonSerializer(MetricList, [CatalogMetric]);
  return new Elysia({ name: "catalog-routes" })
    .use(apiModelsPlugin)
    .get(
      "/api/v1/hosts",
      async () => {
        const body = await hostsCache.get("hosts", async () => {
          const rows = await context.queries.run(() => listHosts(context.clickhouse));
          const items = rows.map((row) => ({
            hostname: row.hostname,
            gpu_count: row.gpu_count,
            last_seen: formatRfc3339(row.last_seen_ms),
          }));
          return hostListJson.serialize({ items });
        });
        return jsonResponse(body);
      },
      {
        ...jsonRoute,
        response: { 200: "HostList", ...serverErrors },
        detail: {
          ...readAccess,
          tags: ["hosts"],
          summary: "Hosts with GPUs, their GPU count and when they last reported",
        },
      },
    )
    .get(
      "/api/v1/metrics",
      async () => {
        const body = await metricsCache.get("metrics", async () => {
          const withData = await context.queries.run(() => metricsWithData(context.clickhouse));
          const items = metricCatalog.map((metric) => ({ ...metric, has_data: withData.has(metric.name) }));
          return metricListJson.serialize({ items });
        });
        return jsonResponse(body);
      },
      {
        ...jsonRoute,
        response: { 200: "MetricList", ...serverErrors },
        detail: {
          ...readAccess,
          tags: ["metrics"],
          summary: "The DCGM metric catalog",
          description:
            "Every metric the API knows (valid `metric` values), with unit, kind, description and whether any GPU has data.",
        },
      },
    );
}
