/**
 * The API gateway process: REST API over the telemetry in ClickHouse, with
 * /health, /ready, /metrics, Swagger UI at /swagger and graceful SIGTERM. With a
 * broker (BROKER_URL) it also follows the telemetry topic: a live tail of recent
 * datapoints for event streams and live windows, and the pipeline page's figures.
 */
import { brokerConnectionOf } from "../../src/auth/client-token.ts";
import { BrokerHttp } from "../../src/broker-client/http-client.ts";
import { openTelemetryStore } from "../../src/clickhouse/connect.ts";
import { createFetchReader } from "../../src/clickhouse/fetch-reader.ts";
import { SchemaNotCurrentError } from "../../src/clickhouse/migrations.ts";
import { ping } from "../../src/clickhouse/ping.ts";
import { logConfig } from "../../src/config/config-log.ts";
import { loadConfigOrExit, tryOrExitOnConfigError } from "../../src/config/env.ts";
import { oversizedRequest, warnIfParserLimitLow } from "../../src/http/request-limits.ts";
import { watchEventLoopDelay } from "../../src/observability/event-loop-delay.ts";
import { exitOnUncaught } from "../../src/observability/fatal.ts";
import { createLogger, defaultInstanceId } from "../../src/observability/logger.ts";
import { createMetricsRegistry } from "../../src/observability/metrics.ts";
import { wallMs } from "../../src/runtime/clock.ts";
import { retry } from "../../src/runtime/retry.ts";
import { installShutdown } from "../../src/runtime/shutdown.ts";
import { openApiAccess } from "./api-access.ts";
import { apiLimitsDefault } from "./api-context.ts";
import { createApiApp } from "./app.ts";
import { ApiConfig } from "./config.ts";
import { parseCorsOrigins } from "./cors.ts";
import { cursorKeyFromConfig } from "./cursor-codec.ts";
import { dashboardBundle } from "./dashboard/dashboard-routes.ts";
import { registerGpuHealthMetrics } from "./gpu-health-metrics.ts";
import { LiveTail } from "./live/live-tail.ts";
import { StreamHub } from "./live/stream-hub.ts";
import { TailStore } from "./live/tail-store.ts";
import { parsePeers } from "./pipeline/peer-probes.ts";
import { PipelineMonitor } from "./pipeline/pipeline-monitor.ts";

const service = "api";
const config = loadConfigOrExit(ApiConfig);
const instanceId = config.INSTANCE_ID || defaultInstanceId();
const logger = createLogger({ service, instanceId, level: config.LOG_LEVEL });
exitOnUncaught(logger);
logConfig(logger, ApiConfig, config);
const registry = createMetricsRegistry({ service, instanceId });
const { access, tokens } = tryOrExitOnConfigError(() => openApiAccess(config, logger));
watchEventLoopDelay(registry, "api");
const peers = (() => {
  try {
    return parsePeers(config.API_PEER_URLS);
  } catch (error) {
    logger.fatal({ err: error }, "bad configuration");
    process.exit(1);
  }
})();

/**
 * Without migrating itself the API waits a while for the process that does (the chart's
 * migrate Job), below the time a liveness probe gives a pod that does not answer yet.
 */
const schemaWaitMs = 45_000;
const clickhouse = await retry(() => openTelemetryStore({ config, log: logger, clock: Date.now }), {
  deadlineMs: config.CLICKHOUSE_MIGRATE_ON_START ? 0 : schemaWaitMs,
  backoff: { backoffMsMin: 500, backoffMsMax: 5_000 },
  isRetryable: (error) => error instanceof SchemaNotCurrentError,
  onRetry: ({ error, delayMs }) => logger.warn({ err: error, waitMs: delayMs }, "schema not current yet; waiting"),
}).catch((error: unknown) => {
  // ClickHouse or its schema is not there: exit non-zero so the supervisor (or Kubernetes) retries.
  logger.fatal({ err: error, url: config.CLICKHOUSE_URL }, "cannot open the telemetry store");
  process.exit(1);
});
const reader = createFetchReader({
  url: config.CLICKHOUSE_URL,
  username: config.CLICKHOUSE_USER,
  password: config.CLICKHOUSE_PASSWORD,
  database: config.CLICKHOUSE_DATABASE,
  requestTimeoutMs: config.CLICKHOUSE_REQUEST_TIMEOUT_MS,
});
if (config.API_GPU_HEALTH_METRICS) {
  registerGpuHealthMetrics({
    reader,
    registry,
    logger,
    staleMs: config.API_GPU_HEALTH_STALE_S * 1_000,
    cacheMs: config.API_GPU_HEALTH_CACHE_MS,
    clock: wallMs,
  });
}
const limits = {
  telemetryWindowMsMax: config.API_TELEMETRY_WINDOW_HOURS_MAX * 3_600_000,
  summaryWindowMsMax: config.API_SUMMARY_WINDOW_DAYS_MAX * 86_400_000,
  summaryBucketsMax: config.API_SUMMARY_BUCKETS_MAX,
  listCacheTtlMs: config.API_LIST_CACHE_TTL_MS,
  telemetryCacheCharsMax: config.API_TELEMETRY_CACHE_CHARS_MAX,
  retryAfterS: config.API_RETRY_AFTER_S,
  clickhouseInFlightMax: config.API_CLICKHOUSE_IN_FLIGHT_MAX,
  clickhouseQueueLengthMax: config.API_CLICKHOUSE_QUEUE_LENGTH_MAX,
  clickhouseWaitMsMax: config.API_CLICKHOUSE_WAIT_MS_MAX,
  fleetGpusMax: config.API_FLEET_GPUS_MAX,
  fleetStaleAfterMs: config.API_FLEET_STALE_AFTER_S * 1_000,
  streamsMax: config.API_STREAMS_MAX,
  streamBufferBytesMax: config.API_STREAM_BUFFER_BYTES_MAX,
  exportRowsMax: config.API_EXPORT_ROWS_MAX,
};
const hub = new StreamHub({
  streamsMax: limits.streamsMax,
  bufferBytesMax: limits.streamBufferBytesMax,
  heartbeatMs: apiLimitsDefault.streamHeartbeatMs,
  registry,
  logger,
});
const broker =
  config.BROKER_URL === ""
    ? undefined
    : new BrokerHttp(
        tryOrExitOnConfigError(() =>
          brokerConnectionOf(config, (problem) =>
            logger.error({ problem }, "BROKER_TOKEN_FILE rejected; keeping the last token"),
          ),
        ),
      );
const store = new TailStore({ spanMs: config.API_LIVE_TAIL_SPAN_S * 1_000, rowsMax: config.API_LIVE_TAIL_ROWS_MAX });
const tail =
  broker === undefined
    ? undefined
    : new LiveTail({
        http: broker,
        topic: config.API_LIVE_TOPIC,
        group: config.API_LIVE_GROUP,
        store,
        clickhouse: reader,
        commitPollMs: config.API_LIVE_COMMIT_POLL_MS,
        fetchWaitMs: 500,
        fetchBytesMax: 1024 * 1024,
        pendingRecordsMax: 500_000,
        clock: wallMs,
        logger: logger.child({ component: "live-tail" }),
        registry,
        onArrived: (rows) => hub.publishArrived(rows),
      });
const monitor = new PipelineMonitor({
  http: broker,
  topic: config.API_LIVE_TOPIC,
  group: config.API_LIVE_GROUP,
  deadLetterTopic: config.API_DEAD_LETTER_TOPIC,
  peers,
  self: { name: "api", ready: () => ping(clickhouse) },
  sampleMs: 1_000,
  probeEveryMs: 5_000,
  historyMax: 300,
  probeTimeoutMs: 1_000,
  clock: wallMs,
  logger,
});
const cursorKey = cursorKeyOrExit(config.API_CURSOR_KEY);
const cors = (() => {
  try {
    return parseCorsOrigins(config.API_CORS_ORIGINS);
  } catch (error) {
    logger.fatal({ err: (error as Error).message }, "bad configuration");
    process.exit(1);
  }
})();
const app = createApiApp({
  clickhouse,
  reader,
  logger,
  registry,
  access,
  limits,
  live: tail === undefined ? undefined : store,
  hub,
  pipeline: { monitor, tail },
  cors,
  ...(cursorKey === undefined ? {} : { cursorKey }),
});
function cursorKeyOrExit(text: string): Uint8Array | undefined {
  try {
    const key = cursorKeyFromConfig(text);
    if (key === undefined) logger.warn({}, "API_CURSOR_KEY is empty: cursors are signed with a random per-process key");
    return key;
  } catch (error) {
    logger.fatal({ err: (error as Error).message }, "bad API_CURSOR_KEY");
    process.exit(1);
  }
}

const server = Bun.serve({
  hostname: config.API_HOST,
  port: config.API_PORT,
  fetch: (request) => oversizedRequest(request) ?? app.handle(request),
});
warnIfParserLimitLow(logger);
tail?.start();
monitor.start();
// Bundled now, so the first visitor does not wait for it; a failure is logged and retried on request.
dashboardBundle().catch((error: unknown) => logger.error({ err: error }, "dashboard bundle failed"));

installShutdown({
  logger,
  timeoutMs: config.API_SHUTDOWN_TIMEOUT_MS,
  steps: [
    // Streams never finish on their own: end them first, or stop() would wait for them.
    { name: "end event streams", run: () => hub.closeAll("shutdown") },
    // stop() without force: the listener closes at once, in-flight requests finish.
    { name: "stop intake and finish requests", run: () => server.stop() },
    { name: "stop the live tail and the pipeline monitor", run: () => Promise.all([tail?.stop(), monitor.stop()]) },
    { name: "close clickhouse client", run: () => clickhouse.close() },
    { name: "stop token reloads", run: () => tokens.stop() },
  ],
});

logger.info({ port: server.port, host: config.API_HOST, liveTail: tail !== undefined }, "listening");
