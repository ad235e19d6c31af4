import { Elysia, t } from "elysia";
import { type FleetFilter, fleetLatest, fleetMigInstances } from "../../../src/clickhouse/fleet-latest.ts";
import { type ApiContext, apiModelsPlugin, jsonRoute } from "../api-context.ts";
import { errorResponses, type FleetSnapshot, readAccess } from "../api-models.ts";
import { fleetSnapshot } from "../fleet-snapshot.ts";
import { KeyedSharedRead } from "../keyed-shared-read.ts";
import { metricFilterCountMax, parseMetricFilter } from "../metric-filter.ts";
import { ResponseCache } from "../response-cache.ts";
import { jsonResponse, type SerializedJson } from "../serialized-json.ts";

/** Distinct filters whose reads are shared at once. */
const sharedFiltersMax = 256;
const filterTextLengthMax = 256;

const filterText = (description: string) =>
  t.Optional(t.String({ maxLength: filterTextLengthMax, description: `${description} (exact match)` }));

/** The fleet filter and metric choice: shared by the snapshot and its stream. */
export const FleetQuery = t.Object({
  metric: t.Optional(
    t.Array(t.String({ maxLength: 128 }), {
      maxItems: metricFilterCountMax,
      description:
        "Metrics whose latest values to return (any DCGM_FI_* field), in this order; repeat the parameter or separate names with commas. Default: every metric the GPUs reported, by name.",
    }),
  ),
  hostname: filterText("only GPUs on this host"),
  model: filterText("only GPUs of this model"),
  namespace: filterText(
    "only GPUs used by a pod of this Kubernetes namespace, themselves or through a MIG instance; empty: GPUs no pod uses",
  ),
  pod: filterText("only GPUs used by this pod, themselves or through a MIG instance"),
  container: filterText("only GPUs used by this container of a pod"),
});
export type FleetQuery = typeof FleetQuery.static;

export interface FleetRequest {
  filter: FleetFilter;
  metrics: string[];
}

export function fleetRequest(query: FleetQuery): FleetRequest {
  return {
    filter: {
      hostname: query.hostname,
      model: query.model,
      namespace: query.namespace,
      pod: query.pod,
      container: query.container,
    },
    metrics: metricsInAskedOrder(query.metric),
  };
}

/** Checked like every metric filter, but in the order asked: it is the order of `values`. */
function metricsInAskedOrder(values: readonly string[] | undefined): string[] {
  const valid = new Set(parseMetricFilter(values));
  const asked = (values ?? []).flatMap((value) => value.split(",")).map((name) => name.trim());
  return [...new Set(asked.filter((name) => valid.has(name)))];
}

/** A fleet answer, as an object (for the stream's diffs) and as the JSON the route sends. */
export interface FleetAnswer {
  snapshot: FleetSnapshot;
  json: SerializedJson;
  /** The JSON gzipped, made on first use: a fleet of 8,000 GPUs is 3 MB of JSON, about 8% of that gzipped. */
  gzipped?: Uint8Array;
}

export type FleetReader = (request: FleetRequest) => Promise<FleetAnswer>;

/**
 * Reads and serializes one fleet answer, always read after it was asked for; requests
 * and streams with the same parameters that ask while one is read share the next one.
 * The answer is not checked against the schema at run time: its values come from rows
 * queryRows checked, and the check of 8,000 GPUs costs more than the query. Tests
 * check real answers against the schema.
 */
export function createFleetReader(context: ApiContext): FleetReader {
  const reads = new KeyedSharedRead<FleetAnswer>(sharedFiltersMax);
  const read = async (request: FleetRequest): Promise<FleetAnswer> => {
    const limit = context.limits.fleetGpusMax;
    const options = { filter: request.filter, metrics: request.metrics, limit };
    // Two queries at once, one slot: the GPUs that match, and the MIG instances (those of these GPUs are kept).
    const [rows, instances] = await context.queries.run(() =>
      Promise.all([fleetLatest(context.reader, options), fleetMigInstances(context.reader, options)]),
    );
    const uuids = new Set(rows.map((row) => row.uuid));
    const snapshot = fleetSnapshot({
      rows,
      instances: instances.filter((instance) => uuids.has(instance.uuid)),
      metrics: request.metrics,
      limit,
      nowMs: context.clock(),
      staleAfterMs: context.limits.fleetStaleAfterMs,
    });
    return { snapshot, json: { text: JSON.stringify(snapshot) } };
  };
  return (request: FleetRequest) => reads.get(JSON.stringify(request), () => read(request));
}

/** Answers of this many characters and more are sent gzipped to a client that accepts it. */
const gzipCharsMin = 64 * 1024;

/** The answer as JSON, gzipped (once per answer, shared by every request it serves) when it is large and accepted. */
function fleetResponse(answer: FleetAnswer, request: Request): Response {
  const accepts = /\bgzip\b/.test(request.headers.get("accept-encoding") ?? "");
  if (!accepts || answer.json.text.length < gzipCharsMin) return jsonResponse(answer.json);
  answer.gzipped ??= Bun.gzipSync(answer.json.text, { level: 1 });
  return new Response(answer.gzipped, {
    headers: { "content-type": "application/json", "content-encoding": "gzip", vary: "accept-encoding" },
  });
}

/**
 * GET /api/v1/fleet: the latest values of every GPU that matches a filter, in one
 * request. Answers are reused like the GPU listing's (listCacheTtlMs, then refreshed in
 * the background): a fleet view refreshes about once a second, and reading 8,000 GPUs
 * per request would cost more than the request. The fleet stream reads fresh.
 */
export function fleetRoutes(context: ApiContext, readFleet: FleetReader) {
  const answers = new ResponseCache<FleetAnswer>({
    ttlMs: context.limits.listCacheTtlMs,
    entriesMax: sharedFiltersMax,
    clock: context.clock,
  });
  const cachedFleet = (request: FleetRequest) => answers.get(JSON.stringify(request), () => readFleet(request));
  return new Elysia({ name: "fleet-routes" })
    .use(apiModelsPlugin)
    .get(
      "/api/v1/fleet",
      async ({ query, request }) => fleetResponse(await cachedFleet(fleetRequest(query)), request),
      {
        ...jsonRoute,
        query: FleetQuery,
        response: {
          200: "FleetSnapshot",
          400: errorResponses[400],
          401: errorResponses[401],
          500: errorResponses[500],
          503: errorResponses[503],
        },
        detail: {
          ...readAccess,
          tags: ["fleet"],
          summary: "The latest values of every GPU that matches a filter",
          description:
            "One answer for the whole fleet (at most " +
            `${context.limits.fleetGpusMax} GPUs, ordered by host and index; \`truncated\` says when more match): ` +
            "each GPU's placement, workload, last report and the latest value of each chosen metric, and the same for " +
            "each of its MIG instances. A workload filter matches a GPU used by that pod itself or through a MIG instance. " +
            "Read from the GPU registry and the latest values, which materialized views keep: it never scans datapoints. " +
            "Requests with the same parameters that arrive while one is read share the next read, and answers are " +
            `reused briefly: at most ${2 * context.limits.listCacheTtlMs} ms old (GET /api/v1/fleet/stream is fresher).`,
        },
      },
    );
}
