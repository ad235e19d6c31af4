import { Type } from "@sinclair/typebox";
import { Elysia, t } from "elysia";
import { gpusPageLimitMax, latestValues, listGpus } from "../../../src/clickhouse/gpu-queries.ts";
import { migInstancesOf } from "../../../src/clickhouse/mig-queries.ts";
import { findMetric } from "../../../src/domain/metric-catalog.ts";
import { type ApiContext, apiModelsPlugin, jsonRoute } from "../api-context.ts";
import { errorResponses, Gpu, type GpuDetail, GpuPage, MigInstance, readAccess } from "../api-models.ts";
import { type CursorCodec, createCursorCodec, cursorLengthMax, queryCheck } from "../cursor-codec.ts";
import { gpuIdLengthMax } from "../gpu-id.ts";
import { gpuFromRow, instanceAsGpu, instancesByGpu, lookupSeries } from "../gpu-lookup.ts";
import { ResponseCache } from "../response-cache.ts";
import { jsonResponse, jsonSerializer, type SerializedJson } from "../serialized-json.ts";
import { formatRfc3339 } from "../time-parsing.ts";

export const gpuPageLimitDefault = 100;
/** The API allows what the store allows. */
export const gpuPageLimitMax = gpusPageLimitMax;
const listCacheEntriesMax = 1_024;

const filterText = (description: string) =>
  t.Optional(t.String({ maxLength: 256, description: `${description} (exact match)` }));

export const GpuListQuery = t.Object({
  hostname: t.Optional(t.String({ minLength: 1, maxLength: 256, description: "only GPUs on this host" })),
  model: filterText("only GPUs of this model"),
  namespace: filterText(
    "only GPUs used by a pod of this Kubernetes namespace, themselves or through one of their MIG instances; empty: GPUs no pod uses",
  ),
  pod: filterText("only GPUs used by this pod (themselves or through a MIG instance)"),
  container: filterText("only GPUs used by this container of a pod"),
  limit: t.Optional(
    t.Integer({ minimum: 1, maximum: gpuPageLimitMax, default: gpuPageLimitDefault, description: "page size" }),
  ),
  cursor: t.Optional(t.String({ maxLength: cursorLengthMax, description: "next_cursor of the previous page" })),
});
export type GpuListQuery = typeof GpuListQuery.static;

export const GpuParams = t.Object({
  id: t.String({
    minLength: 1,
    maxLength: gpuIdLengthMax,
    description:
      "GPU UUID (e.g. GPU-5fd4f087-86f3-7a43-b711-4771313afc50) or hostname:index (e.g. host-01:3); " +
      "a MIG instance appends :mig and its GPU_I_ID (e.g. GPU-5fd4f087-86f3-7a43-b711-4771313afc50:mig3, host-01:3:mig3)",
  }),
});

const GpuCursorPosition = Type.Object({ afterUuid: Type.String({ maxLength: 256 }) });

export type GpuCursorCodec = CursorCodec<typeof GpuCursorPosition>;

/** The list's cursors, shared by REST and GraphQL (a cursor from one works with the other). */
export function gpuCursorCodec(key: Uint8Array): GpuCursorCodec {
  return createCursorCodec("gpus", GpuCursorPosition, key);
}

/**
 * A page of the registry with each GPU's MIG instances: two queries however long the
 * page. `cursor` is checked against the filters it was minted for.
 */
export async function readGpuPage(
  context: ApiContext,
  codec: GpuCursorCodec,
  query: GpuListQuery,
): Promise<{ items: Gpu[]; next_cursor: string | null }> {
  const limit = query.limit ?? gpuPageLimitDefault;
  const filters = [query.hostname, query.model, query.namespace, query.pod, query.container];
  const check = queryCheck(["gpus", ...filters.map((value) => (value === undefined ? "\u0000" : value))]);
  const afterUuid = query.cursor === undefined ? undefined : codec.decode(check, query.cursor).afterUuid;
  // One row more than asked tells whether a next page exists (the store caps a page at its own maximum).
  const probe = Math.min(limit + 1, gpusPageLimitMax);
  const rows = await context.queries.run(() =>
    listGpus(context.clickhouse, {
      hostname: query.hostname,
      model: query.model,
      namespace: query.namespace,
      pod: query.pod,
      container: query.container,
      limit: probe,
      afterUuid,
    }),
  );
  const page = rows.slice(0, limit);
  const instances = instancesByGpu(
    await context.queries.run(() =>
      migInstancesOf(
        context.reader,
        page.map((row) => row.uuid),
      ),
    ),
  );
  const more = rows.length > limit || (probe === limit && rows.length === limit);
  const last = page[page.length - 1];
  const next_cursor = more && last !== undefined ? codec.encode(check, { afterUuid: last.uuid }) : null;
  return { items: page.map((row) => gpuFromRow(row, instances.get(row.uuid))), next_cursor };
}

/** A GPU or MIG instance with its latest value per metric. */
export async function readGpuDetail(context: ApiContext, id: string): Promise<GpuDetail> {
  const { gpu, instance, latest, instances } = await context.queries.run(async () => {
    const { gpu, instance } = await lookupSeries(context.clickhouse, id);
    const [latest, instances] = await Promise.all([
      latestValues(context.clickhouse, gpu.uuid, instance?.gpu_instance ?? ""),
      instance === undefined ? migInstancesOf(context.reader, [gpu.uuid]) : Promise.resolve([]),
    ]);
    return { gpu, instance, latest, instances };
  });
  return {
    ...(instance === undefined ? gpuFromRow(gpu, instances) : instanceAsGpu(gpu, instance)),
    latest: latest.map((value) => ({
      metric: value.metric,
      value: value.value,
      unit: findMetric(value.metric)?.unit ?? "",
      timestamp: formatRfc3339(value.ts_ms),
    })),
  };
}

/** GET /api/v1/gpus (a page of the registry) and GET /api/v1/gpus/{id} (one GPU and its latest values). */
export function gpuRoutes(context: ApiContext) {
  const gpuCursor = gpuCursorCodec(context.cursorKey);
  const gpuPageJson = jsonSerializer(GpuPage, [Gpu, MigInstance]);
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
        const { hostname, model, namespace, pod, container, limit, cursor } = query;
        const key = JSON.stringify([hostname, model, namespace, pod, container, limit, cursor]);
        const body = await listCache.get(key, async () =>
          gpuPageJson.serialize(await readGpuPage(context, gpuCursor, query)),
        );
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
            "Every GPU that has reported, ordered by UUID, each with its MIG instances; filtered by host, model or " +
            "Kubernetes workload (a GPU matches when it, or one of its MIG instances, is used by that pod). " +
            "Pages with `limit` and the opaque `cursor` (the previous page's next_cursor). " +
            `Answers are cached briefly: at most ${2 * context.limits.listCacheTtlMs} ms old.`,
        },
      },
    )
    .get("/api/v1/gpus/:id", ({ params }): Promise<GpuDetail> => readGpuDetail(context, params.id), {
      ...jsonRoute,
      params: GpuParams,
      response: { 200: "GpuDetail", ...errorResponses },
      detail: {
        ...readAccess,
        tags: ["gpus"],
        summary: "One GPU or MIG instance with its latest value per metric",
        description:
          "`{id}` is the GPU UUID, or `hostname:index` for the GPU last seen at that index of that host; " +
          "`:migN` after either names its MIG instance with GPU_I_ID N, answered like a GPU of its own " +
          "(its GPU's identity and placement, its own workload, metrics and values).",
      },
    });
}
