import type { ClickHouseClient } from "@clickhouse/client";
import { Elysia } from "elysia";
import { ping } from "../../src/clickhouse/ping.ts";
import type { RowsClient } from "../../src/clickhouse/typed-query.ts";
import { opsRoutes } from "../../src/http/ops-routes.ts";
import { refusalRecorder } from "../../src/http/refusal-log.ts";
import { guardApp, type Refusal } from "../../src/http/route-guard.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { Registry } from "../../src/observability/metrics.ts";
import { type ApiAccess, apiScopes } from "./api-access.ts";
import { type ApiContext, type ApiLimits, apiLimitsDefault } from "./api-context.ts";
import { type CorsPolicy, corsPlugin, withCors } from "./cors.ts";
import { randomCursorKey } from "./cursor-codec.ts";
import { dashboardRoutes } from "./dashboard/dashboard-routes.ts";
import { readTokenCookie } from "./dashboard/read-token-cookie.ts";
import { errorHandler } from "./error-handler.ts";
import { graphqlRoutes } from "./graphql/graphql-routes.ts";
import { FleetFeeds } from "./live/fleet-feeds.ts";
import { StreamHub } from "./live/stream-hub.ts";
import type { TailStore } from "./live/tail-store.ts";
import { openApiPlugin } from "./openapi-document.ts";
import { PipelineMonitor } from "./pipeline/pipeline-monitor.ts";
import { QueryGate } from "./query-gate.ts";
import { requestObserver } from "./request-observer.ts";
import { catalogRoutes } from "./routes/catalog-routes.ts";
import { createFleetReader, fleetRoutes } from "./routes/fleet-routes.ts";
import { gpuRoutes } from "./routes/gpu-routes.ts";
import { type PipelineRoutesOptions, pipelineRoutes } from "./routes/pipeline-routes.ts";
import { streamRoutes } from "./routes/stream-routes.ts";
import { summaryRoutes } from "./routes/summary-routes.ts";
import { telemetryRoutes } from "./routes/telemetry-routes.ts";

export interface ApiAppOptions {
  /** A client whose default database holds the telemetry tables. */
  clickhouse: ClickHouseClient;
  /** Same server and database, for the hot reads (src/clickhouse/fetch-reader.ts); default: `clickhouse`. */
  reader?: RowsClient;
  logger: Logger;
  registry: Registry;
  /** Epoch milliseconds; defaults to Date.now. */
  clock?: () => number;
  limits?: Partial<ApiLimits>;
  /** Recent datapoints in memory, fed by the live tail (main.ts); without it every window is ClickHouse's. */
  live?: TailStore;
  /** Where the live tail publishes datapoints; default: a hub of this app's own (no datapoints then). */
  hub?: StreamHub;
  /** What GET /api/v1/pipeline reports from; default: a monitor that samples nothing. */
  pipeline?: PipelineRoutesOptions;
  /** HMAC key of page cursors; default a random one (cursors then work with this process only). */
  cursorKey?: Uint8Array;
  /** Who may read (api-access.ts); every data route needs scope read unless it is open. */
  access: ApiAccess;
  /** Origins allowed to call the API from a browser on another site; default none (API_CORS_ORIGINS). */
  cors?: CorsPolicy | undefined;
}

/**
 * The whole API as one Elysia app, without a socket: main.ts listens with it and
 * tests call `app.handle(new Request(...))`. Order matters: request ids and the error
 * handler are installed before the routes they cover.
 */
export function createApiApp(options: ApiAppOptions) {
  const limits: ApiLimits = { ...apiLimitsDefault, ...options.limits };
  const queries = new QueryGate({
    inFlightMax: limits.clickhouseInFlightMax,
    queueLengthMax: limits.clickhouseQueueLengthMax,
    waitMsMax: limits.clickhouseWaitMsMax,
    registry: options.registry,
  });
  const context: ApiContext = {
    clickhouse: options.clickhouse,
    reader: options.reader ?? options.clickhouse,
    clock: options.clock ?? Date.now,
    limits,
    queries,
    registry: options.registry,
    live: options.live,
    cursorKey: options.cursorKey ?? randomCursorKey(),
  };
  const hub =
    options.hub ??
    new StreamHub({
      streamsMax: limits.streamsMax,
      bufferBytesMax: limits.streamBufferBytesMax,
      heartbeatMs: limits.streamHeartbeatMs,
      registry: options.registry,
      logger: options.logger,
    });
  const readFleet = createFleetReader(context);
  const feeds = new FleetFeeds({ hub, read: readFleet, logger: options.logger });
  const observer = requestObserver({ logger: options.logger, registry: options.registry });
  const readiness = {
    name: "clickhouse",
    check: () => withTimeout(ping(options.clickhouse), limits.readyTimeoutMs),
  };
  const app = new Elysia({ name: "api" })
    // First, so its headers cover every route; its preflight route (OPTIONS /*) is declared open to the guard.
    .use(corsPlugin(options.cors))
    .use(observer.plugin)
    .use(errorHandler({ logger: options.logger, requestId: observer.requestId, retryAfterS: limits.retryAfterS }))
    .use(openApiPlugin())
    .use(opsRoutes({ registry: options.registry, checks: [readiness] }))
    .use(dashboardRoutes())
    .use(gpuRoutes(context))
    .use(telemetryRoutes(context))
    .use(summaryRoutes(context))
    .use(catalogRoutes(context))
    .use(fleetRoutes(context, readFleet))
    .use(streamRoutes(context, { hub, feeds, datapointsAvailable: options.live !== undefined }))
    .use(pipelineRoutes(context, options.pipeline ?? idlePipeline(options.logger)))
    .use(graphqlRoutes(context, { readFleet, logger: options.logger, requestId: observer.requestId }));
  guardApp(app, {
    realm: "api",
    tokens: options.access.tokens,
    openScopes: options.access.readOpen ? apiScopes : [],
    tokenCookie: readTokenCookie,
    // A refusal leaves before the hooks that add CORS headers: it gets them here, so a page can read it.
    refuse: (refusal, request) =>
      withCors(options.cors, request, refusalResponse(refusal, request, observer.requestId(request))),
    onRefused: refusalRecorder(options.registry, options.logger),
  });
  return app;
}

/** A refusal in the API's error shape. */
function refusalResponse(refusal: Refusal, request: Request, requestId: string): Response {
  const message =
    refusal.code === "not_found"
      ? `No route ${request.method} ${new URL(request.url, "http://api").pathname}; the API is described at /swagger`
      : refusal.message;
  const body = { error: refusal.code, message, details: [], request_id: requestId };
  return Response.json(body, { status: refusal.status, headers: { "x-request-id": requestId } });
}

export type ApiApp = ReturnType<typeof createApiApp>;

/** A pipeline page with nothing to sample: no broker, no peers (tests, the OpenAPI writer). */
function idlePipeline(logger: ApiAppOptions["logger"]): PipelineRoutesOptions {
  const monitor = new PipelineMonitor({
    http: undefined,
    topic: "telemetry",
    group: "collectors",
    deadLetterTopic: "telemetry.dlq",
    peers: [],
    sampleMs: 1_000,
    probeEveryMs: 5_000,
    historyMax: 2,
    probeTimeoutMs: 1_000,
    clock: Date.now,
    logger,
  });
  return { monitor, tail: undefined };
}

function withTimeout(check: Promise<boolean>, timeoutMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  return Promise.race([check, expired]).finally(() => clearTimeout(timer));
}
