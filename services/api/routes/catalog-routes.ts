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
          return hostListJson.serialize({ items: await readHosts(context) });
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
          return metricListJson.serialize({ items: await readMetrics(context) });
        });
        return jsonResponse(body);
      },
      {
        ...jsonRoute,
        response: { 200: "MetricList", ...serverErrors },
        detail: {
          ...readAccess,
          tags: ["metrics"],
          summary: "The DCGM metric catalog and the metrics stored",
          description:
            "The catalog's metrics (dcgm-exporter's defaults, with unit, kind and description) and every other metric " +
            "any GPU has reported, by name, each saying whether it has data. Any DCGM_FI_* name is a valid `metric` " +
            "filter; the catalog only supplies units and descriptions where it knows them.",
        },
      },
    );
}

/** The catalog in its order, then what else is stored (unit and description unknown), by name. */
export function metricList(withData: ReadonlySet<string>): MetricList["items"] {
  const catalog = metricCatalog.map((metric) => ({ ...metric, in_catalog: true, has_data: withData.has(metric.name) }));
  const known = new Set(metricCatalog.map((metric) => metric.name));
  const others = [...withData]
    .filter((name) => !known.has(name))
    .sort()
    .map((name) => ({ name, unit: "", kind: "unknown" as const, description: "", in_catalog: false, has_data: true }));
  return [...catalog, ...others];
}

export async function readHosts(context: ApiContext): Promise<HostList["items"]> {
  const rows = await context.queries.run(() => listHosts(context.clickhouse));
  return rows.map((row) => ({
    hostname: row.hostname,
    gpu_count: row.gpu_count,
    last_seen: formatRfc3339(row.last_seen_ms),
  }));
}

export async function readMetrics(context: ApiContext): Promise<MetricList["items"]> {
  return metricList(await context.queries.run(() => metricsWithData(context.clickhouse)));
}
