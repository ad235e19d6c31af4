import { Elysia, t } from "elysia";
import { type ApiContext, apiModelsPlugin } from "../api-context.ts";
import { errorResponses, readAccess } from "../api-models.ts";
import { ApiError } from "../errors.ts";
import { gpuIdLengthMax, parseGpuId } from "../gpu-id.ts";
import { lookupGpu } from "../gpu-lookup.ts";
import type { EventStream } from "../live/event-stream.ts";
import type { FleetFeeds } from "../live/fleet-feeds.ts";
import type { StreamHub, StreamKind } from "../live/stream-hub.ts";
import { seriesName } from "../live/tail-dictionary.ts";
import { metricFilterCountMax, parseMetricFilter } from "../metric-filter.ts";
import { FleetQuery, fleetRequest } from "./fleet-routes.ts";

/** GPUs one datapoint stream may follow: a page of charts, a host, a selection. */
export const streamGpusMax = 256;
export const fleetIntervalMsMin = 1_000;
const fleetIntervalMsMax = 60_000;

export interface StreamRoutesOptions {
  hub: StreamHub;
  feeds: FleetFeeds;
  /** Whether datapoints can be streamed (the live tail runs: BROKER_URL is set). */
  datapointsAvailable: boolean;
}

const errorDoc = (description: string, model: string) => ({
  description,
  content: { "application/json": { schema: { $ref: `#/components/schemas/${model}` } } },
});

/**
 * Documented by hand: a `response` schema would make the generator drop the 200, and
 * an event stream is no JSON body to validate. The error models are the API's.
 */
const eventStreamDoc = (description: string) => ({
  "200": {
    description,
    content: {
      "text/event-stream": { schema: { type: "string" as const, description: "server-sent events (see above)" } },
    },
  },
  "400": errorDoc("The request is malformed; details name each bad parameter", errorResponses[400]),
  "401": errorDoc(
    "No bearer token (header, or the dashboard's cookie for EventSource), or one the API does not accept",
    errorResponses[401],
  ),
  "500": errorDoc("Unexpected failure; logged with the request id", errorResponses[500]),
  "503": errorDoc("Too many streams are open, or live data is not available; retry later", errorResponses[503]),
});

/** GET /api/v1/datapoints/stream and GET /api/v1/fleet/stream: server-sent events. */
export function streamRoutes(context: ApiContext, options: StreamRoutesOptions) {
  const { hub, feeds } = options;
  const open = (kind: StreamKind, onClose?: () => void): EventStream => {
    const stream = hub.openStream(kind, onClose);
    if (stream !== undefined) return stream;
    throw new ApiError("unavailable", `${hub.size} event streams are open, the most this API serves; retry later`);
  };
  return new Elysia({ name: "stream-routes" })
    .use(apiModelsPlugin)
    .get(
      "/api/v1/datapoints/stream",
      async ({ query }) => {
        if (!options.datapointsAvailable) {
          throw new ApiError("unavailable", "Live datapoints need the broker: this API runs without BROKER_URL");
        }
        const metrics = parseMetricFilter(query.metric);
        const uuids = await resolveGpus(context, query.gpu);
        const stream = open("datapoints");
        hub.send(stream, "subscribed", JSON.stringify({ gpus: uuids, metrics }));
        hub.subscribeDatapoints(stream, uuids, metrics);
        return stream.response;
      },
      {
        query: t.Object({
          gpu: t.Array(t.String({ minLength: 1, maxLength: gpuIdLengthMax }), {
            minItems: 1,
            maxItems: streamGpusMax,
            description:
              "GPUs to follow: UUIDs or hostname:index, with :migN for a MIG instance; repeat the parameter or separate with commas",
          }),
          metric: t.Optional(
            t.Array(t.String({ maxLength: 128 }), {
              maxItems: metricFilterCountMax,
              description: "only these metrics; default: all",
            }),
          ),
        }),
        detail: {
          ...readAccess,
          tags: ["telemetry"],
          summary: "Live datapoints of some GPUs (server-sent events)",
          description:
            "Each datapoint of the chosen GPUs as soon as it reaches the broker, before a collector inserts it: the " +
            "telemetry endpoint returns it once inserted and committed, normally within a second (see " +
            "GET /api/v1/pipeline, freshness). Invalid records (those the collectors dead-letter) are never sent. " +
            "Events: `subscribed` once ({gpus, metrics}), then `datapoints` " +
            "(DatapointBatch) as they arrive, and `end` (StreamEnd) when the API shuts down; a comment line keeps " +
            "the connection open. A client that reads too slowly (its buffer of " +
            `${context.limits.streamBufferBytesMax} bytes fills) is disconnected; reconnect and reload the window. ` +
            `At most ${context.limits.streamsMax} streams are open at once (503 beyond). Unknown UUIDs get no events.`,
          responses: eventStreamDoc("an event stream of DatapointBatch events"),
        },
      },
    )
    .get(
      "/api/v1/fleet/stream",
      ({ query }) => {
        const request = fleetRequest(query);
        const stream = open("fleet", () => feeds.unsubscribe(stream));
        feeds.subscribe(stream, request, query.interval_ms ?? fleetIntervalMsMin);
        return stream.response;
      },
      {
        query: t.Object({
          ...FleetQuery.properties,
          interval_ms: t.Optional(
            t.Integer({
              minimum: fleetIntervalMsMin,
              maximum: fleetIntervalMsMax,
              default: fleetIntervalMsMin,
              description: "how often changes are sent; at most once a second",
            }),
          ),
        }),
        detail: {
          ...readAccess,
          tags: ["fleet"],
          summary: "The fleet's latest values, live (server-sent events)",
          description:
            "The same answer as GET /api/v1/fleet with the same parameters, kept current: event `snapshot` " +
            "(FleetSnapshot) first, then `changes` (FleetChanges: the GPUs that changed and those removed) at most " +
            "once per interval_ms, `unavailable` when ClickHouse cannot be read (the stream goes on), and `end` " +
            "(StreamEnd) at shutdown. All clients with the same parameters share one read per interval. " +
            `A client whose buffer of ${context.limits.streamBufferBytesMax} bytes fills is disconnected. ` +
            `At most ${context.limits.streamsMax} streams are open at once (503 beyond).`,
          responses: eventStreamDoc("an event stream of FleetSnapshot and FleetChanges events"),
        },
      },
    );
}

/** UUIDs (and UUID:migN) as given; hostname:index looked up in the registry (404 when unknown). */
async function resolveGpus(context: ApiContext, ids: readonly string[]): Promise<string[]> {
  const gpus = new Set<string>();
  for (const id of ids.flatMap((value) => value.split(",")).map((value) => value.trim())) {
    if (id === "") continue;
    const reference = parseGpuId(id);
    if (reference.kind === "uuid") gpus.add(seriesName(reference.uuid, reference.gpuInstance));
    else {
      const gpu = await context.queries.run(() => lookupGpu(context.clickhouse, id));
      gpus.add(seriesName(gpu.uuid, reference.gpuInstance));
    }
  }
  if (gpus.size > streamGpusMax) throw new ApiError("bad_request", `more than ${streamGpusMax} GPUs`);
  return [...gpus];
}
