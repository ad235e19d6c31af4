/**
 * The API gateway process: REST API over the telemetry in ClickHouse, with
 * /health, /ready, /metrics, Swagger UI at /swagger and graceful SIGTERM.
 */
import { openTelemetryStore } from "../../src/clickhouse/connect.ts";
import { createFetchReader } from "../../src/clickhouse/fetch-reader.ts";
import { loadConfigOrExit } from "../../src/config/env.ts";
import { oversizedRequest, warnIfParserLimitLow } from "../../src/http/request-limits.ts";
import { createLogger, defaultInstanceId } from "../../src/observability/logger.ts";
import { createMetricsRegistry } from "../../src/observability/metrics.ts";
import { installShutdown } from "../../src/runtime/shutdown.ts";
import { createApiApp } from "./app.ts";
import { ApiConfig } from "./config.ts";
import { cursorKeyFromConfig } from "./cursor-codec.ts";

const service = "api";
const config = loadConfigOrExit(ApiConfig);
const instanceId = config.INSTANCE_ID || defaultInstanceId();
const logger = createLogger({ service, instanceId, level: config.LOG_LEVEL });
const registry = createMetricsRegistry({ service, instanceId });

const clickhouse = await openTelemetryStore({ config, log: logger, clock: Date.now }).catch((error: unknown) => {
  // Migrations need ClickHouse: exit non-zero so the supervisor (or Kubernetes) retries.
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
const cursorKey = cursorKeyOrExit(config.API_CURSOR_KEY);
const app = createApiApp({
  clickhouse,
  reader,
  logger,
  registry,
  ...(cursorKey === undefined ? {} : { cursorKey }),
  limits: {
    telemetryWindowMsMax: config.API_TELEMETRY_WINDOW_HOURS_MAX * 3_600_000,
    summaryWindowMsMax: config.API_SUMMARY_WINDOW_DAYS_MAX * 86_400_000,
    summaryBucketsMax: config.API_SUMMARY_BUCKETS_MAX,
    listCacheTtlMs: config.API_LIST_CACHE_TTL_MS,
    telemetryCacheCharsMax: config.API_TELEMETRY_CACHE_CHARS_MAX,
    retryAfterS: config.API_RETRY_AFTER_S,
    clickhouseInFlightMax: config.API_CLICKHOUSE_IN_FLIGHT_MAX,
    clickhouseQueueLengthMax: config.API_CLICKHOUSE_QUEUE_LENGTH_MAX,
    clickhouseWaitMsMax: config.API_CLICKHOUSE_WAIT_MS_MAX,
  },
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

installShutdown({
  logger,
  timeoutMs: config.API_SHUTDOWN_TIMEOUT_MS,
  steps: [
    // stop() without force: the listener closes at once, in-flight requests finish.
    { name: "stop intake and finish requests", run: () => server.stop() },
    { name: "close clickhouse client", run: () => clickhouse.close() },
  ],
});

logger.info({ port: server.port, host: config.API_HOST }, "listening");
