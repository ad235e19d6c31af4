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
import { ExecutorPool } from "./executor-pool.ts";
import { createEndpointMetrics } from "./metrics.ts";
import { startEmbeddedServer } from "./server.ts";

const service = "clickhouse-embedded";
const config = loadConfigOrExit(EmbeddedClickHouseConfig);
const instanceId = config.INSTANCE_ID || defaultInstanceId();
const logger = createLogger({ service, instanceId, level: config.LOG_LEVEL });
const registry = createMetricsRegistry({ service, instanceId });

const engine = await openEngineOrExit(
  config.CLICKHOUSE_EMBEDDED_DATA_DIR,
  config.CLICKHOUSE_EMBEDDED_UNCOMPRESSED_CACHE_BYTES,
);
const executor = executorOn(engine);
// More connections on the same directory: chdb runs their (parameter-free) inserts in parallel.
const insertEngines: Engine[] = [];
for (let lane = 0; lane < config.CLICKHOUSE_EMBEDDED_INSERT_CONNECTIONS; lane += 1) {
  insertEngines.push(
    await openEngineOrExit(config.CLICKHOUSE_EMBEDDED_DATA_DIR, config.CLICKHOUSE_EMBEDDED_UNCOMPRESSED_CACHE_BYTES),
  );
}
const insertExecutor = insertEngines.length === 0 ? undefined : new ExecutorPool(insertEngines.map(executorOn));
const metrics = createEndpointMetrics(registry, {
  queueLength: () => executor.queueLength + (insertExecutor?.queueLength ?? 0),
  busy: () => executor.busy || (insertExecutor?.busy ?? false),
});
const server = startEmbeddedServer({
  host: config.CLICKHOUSE_EMBEDDED_HOST,
  port: config.CLICKHOUSE_EMBEDDED_PORT,
  registry,
  engine,
  executor,
  ...(insertExecutor === undefined ? {} : { insertExecutor }),
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
    {
      name: "drain query and insert queues",
      run: () => Promise.all([executor.drain(), insertExecutor?.drain()]).then(() => undefined),
    },
    {
      name: "close chdb",
      run: () => {
        for (const insertEngine of insertEngines) insertEngine.close();
        engine.close();
      },
    },
  ],
});

logger.info(
  {
    port: server.port,
    host: config.CLICKHOUSE_EMBEDDED_HOST,
    dataDir: engine.dataDir,
    engineVersion: engine.version,
    timezone: engine.timezone,
    insertConnections: insertEngines.length,
  },
  "listening",
);

function executorOn(connection: Engine): Executor {
  return new Executor({
    engine: connection,
    state: new ConnectionState(connection),
    queueLengthMax: config.CLICKHOUSE_EMBEDDED_QUEUE_LENGTH_MAX,
    queueWaitMsMax: config.CLICKHOUSE_EMBEDDED_QUEUE_WAIT_MS_MAX,
  });
}

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
