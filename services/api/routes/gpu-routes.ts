import { Type } from "@sinclair/typebox";
import { Elysia, t } from "elysia";
import { gpusPageLimitMax, latestValues, listGpus } from "../../../src/clickhouse/gpu-queries.ts";
import { findMetric } from "../../../src/domain/metric-catalog.ts";
import { type ApiContext, apiModelsPlugin, jsonRoute } from "../api-context.ts";
import { errorResponses, Gpu, type GpuDetail, GpuPage, readAccess } from "../api-models.ts";
import { createCursorCodec, cursorLengthMax, queryCheck } from "../cursor-codec.ts";
import { gpuIdLengthMax } from "../gpu-id.ts";
import { gpuFromRow, lookupGpu } from "../gpu-lookup.ts";
import { ResponseCache } from "../response-cache.ts";
import { jsonResponse, jsonSerializer, type SerializedJson } from "../serialized-json.ts";
import { formatRfc3339 } from "../time-parsing.ts";

export const gpuPageLimitDefault = 100;
/** The API allows what the store allows. */
export const gpuPageLimitMax = gpusPageLimitMax;
const listCacheEntriesMax = 1_024;

export const GpuListQuery = t.Object({
  hostname: t.Optional(t.String({ minLength: 1, maxLength: 256, description: "only GPUs on this host" })),
  limit: t.Optional(
    t.Integer({ minimum: 1, maximum: gpuPageLimitMax, default: gpuPageLimitDefault, description: "page size" }),
  ),
  cursor: t.Optional(t.String({ maxLength: cursorLengthMax, description: "next_cursor of the previous page" })),
});

export const GpuParams = t.Object({
  id: t.String({
    minLength: 1,
    maxLength: gpuIdLengthMax,
    description: "GPU UUID (e.g. GPU-5fd4f087-86f3-7a43-b711-4771313afc50) or hostname:index (e.g. host-01:3)",
  }),
});

const GpuCursorPosition = Type.Object({ afterUuid: Type.String({ maxLength: 256 }) });

/** GET /api/v1/gpus (a page of the registry) and GET /api/v1/gpus/{id} (one GPU and its latest values). */
export function gpuRoutes(context: ApiContext) {
  const gpuCursor = createCursorCodec("gpus", GpuCursorPosition, context.cursorKey);
  const gpuPageJson = jsonSerializer(GpuPage, [Gpu]);
  const listCache = new ResponseCache<SerializedJson>({
    ttlMs: context.limits.listCacheTtlMs,
    entriesMax: listCacheEntriesMax,
    clock: context.clock,
  });
  return new Elysia({ name: "gpu-routes" })
    .use(apiModelsPlugin)
    .get(
      "/api/v1/gpus",
      async ({ query }) => {
        const hostname = query.hostname;
        const limit = query.limit ?? gpuPageLimitDefault;
        const check = queryCheck(["gpus", hostname ?? ""]);
        const afterUuid = query.cursor === undefined ? undefined : gpuCursor.decode(check, query.cursor).afterUuid;
        const key = JSON.stringify([hostname ?? null, limit, afterUuid ?? null]);
        const body = await listCache.get(key, async () => {
          // One row more than asked tells whether a next page exists (the store caps a page at its own maximum).
          const probe = Math.min(limit + 1, gpusPageLimitMax);
          const rows = await context.queries.run(() =>
            listGpus(context.clickhouse, { hostname, limit: probe, afterUuid }),
          );
          const page = rows.slice(0, limit);
          const last = page[page.length - 1];
          const more = rows.length > limit || (probe === limit && rows.length === limit);
          const next_cursor = more && last !== undefined ? gpuCursor.encode(check, { afterUuid: last.uuid }) : null;
          return gpuPageJson.serialize({ items: page.map(gpuFromRow), next_cursor });
        });
        return jsonResponse(body);
      },
      {
        ...jsonRoute,
        query: GpuListQuery,
        response: {
          200: "GpuPage",
          400: errorResponses[400],
          401: errorResponses[401],
          500: errorResponses[500],
          503: errorResponses[503],
        },
        detail: {
          ...readAccess,
          tags: ["gpus"],
          summary: "List GPUs with telemetry",
          description:
            "Every GPU that has reported, ordered by UUID, optionally only one host's. " +
            "Pages with `limit` and the opaque `cursor` (the previous page's next_cursor). " +
            `Answers are cached briefly: at most ${2 * context.limits.listCacheTtlMs} ms old.`,
        },
      },
    )
    .get(
      "/api/v1/gpus/:id",
      async ({ params }): Promise<GpuDetail> => {
        const { row, latest } = await context.queries.run(async () => {
          const row = await lookupGpu(context.clickhouse, params.id);
          return { row, latest: await latestValues(context.clickhouse, row.uuid) };
        });
        return {
          ...gpuFromRow(row),
          latest: latest.map((value) => ({
            metric: value.metric,
            value: value.value,
            unit: findMetric(value.metric)?.unit ?? "",
            timestamp: formatRfc3339(value.ts_ms),
          })),
        };
      },
      {
        ...jsonRoute,
        params: GpuParams,
        response: { 200: "GpuDetail", ...errorResponses },
        detail: {
          ...readAccess,
          tags: ["gpus"],
          summary: "One GPU with its latest value per metric",
          description: "`{id}` is the GPU UUID, or `hostname:index` for the GPU last seen at that index of that host.",
        },
      },
    );
}
