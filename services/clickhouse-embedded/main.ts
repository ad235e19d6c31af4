/**
 * The embedded ClickHouse endpoint: one process owns a chdb data directory and
 * answers the part of ClickHouse's HTTP interface `@clickhouse/client` uses, so
 * every other service talks plain ClickHouse over HTTP in dev and tests.
 */
import { hostname } from "node:os";
import { loadConfigOrExit } from "../../src/config/env.ts";
import { createLogger, defaultInstanceId } from "../../src/observability/logger.ts";
import { createMetricsRegistry } from "../../src/observability/metrics.ts";
import { installShutdown } from "../../src/runtime/shutdown.ts";
import { EmbeddedClickHouseConfig } from "./config.ts";
import { ConnectionState } from "./connection-state.ts";
import { Engine } from "./engine.ts";
import { Executor } from "./executor.ts";
import { createEndpointMetrics } from "./metrics.ts";
import { startEmbeddedServer } from "./server.ts";

const service = "clickhouse-embedded";
const config = loadConfigOrExit(EmbeddedClickHouseConfig);
const instanceId = config.INSTANCE_ID || defaultInstanceId();
const logger = createLogger({ service, instanceId, level: config.LOG_LEVEL });
const registry = createMetricsRegistry({ service, instanceId });

const engine = await openEngineOrExit(config.CLICKHOUSE_EMBEDDED_DATA_DIR, config.CLICKHOUSE_EMBEDDED_UNCOMPRESSED_CACHE_BYTES);
const executor = new Executor({
  engine,
  state: new ConnectionState(engine),
  queueLengthMax: config.CLICKHOUSE_EMBEDDED_QUEUE_LENGTH_MAX,
  queueWaitMsMax: config.CLICKHOUSE_EMBEDDED_QUEUE_WAIT_MS_MAX,
});
const metrics = createEndpointMetrics(registry, {
  queueLength: () => executor.queueLength,
  busy: () => executor.busy,
});
const server = startEmbeddedServer({
  host: config.CLICKHOUSE_EMBEDDED_HOST,
  port: config.CLICKHOUSE_EMBEDDED_PORT,
  registry,
  engine,
  executor,
  metrics,
  logger,
  auth: { user: config.CLICKHOUSE_EMBEDDED_USER, password: config.CLICKHOUSE_EMBEDDED_PASSWORD },
  bodyBytesMax: config.CLICKHOUSE_EMBEDDED_BODY_BYTES_MAX,
  keepAliveTimeoutS: config.CLICKHOUSE_EMBEDDED_KEEP_ALIVE_TIMEOUT_S,
  displayName: hostname(),
});

installShutdown({
  logger,
  timeoutMs: config.CLICKHOUSE_EMBEDDED_SHUTDOWN_TIMEOUT_MS,
  steps: [
    // In-flight requests finish (their queries are queued or running); new ones are refused.
    { name: "stop intake and finish requests", run: () => server.stop() },
    { name: "drain query queue", run: () => executor.drain() },
    { name: "close chdb", run: () => engine.close() },
  ],
});

logger.info(
  {
    port: server.port,
    host: config.CLICKHOUSE_EMBEDDED_HOST,
    dataDir: engine.dataDir,
    engineVersion: engine.version,
    timezone: engine.timezone,
  },
  "listening",
);

/** Another process owning the directory is the usual cause; say so in one line and exit 1. */
async function openEngineOrExit(dataDir: string, uncompressedCacheBytes: number): Promise<Engine> {
  try {
    return await Engine.open(dataDir, { uncompressedCacheBytes });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : undefined;
    logger.fatal({ dataDir, err: error, cause }, "cannot open the chdb data directory");
    process.exit(1);
  }
}
