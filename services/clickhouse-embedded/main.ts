/**
 * The embedded ClickHouse endpoint: one process owns a chdb data directory and
 * answers the part of ClickHouse's HTTP interface `@clickhouse/client` uses, so
 * every other service talks plain ClickHouse over HTTP in dev and tests.
 */
import { hostname } from "node:os";
import { logConfig } from "../../src/config/config-log.ts";
import { loadConfigOrExit } from "../../src/config/env.ts";
import { exitOnUncaught } from "../../src/observability/fatal.ts";
import { createLogger, defaultInstanceId } from "../../src/observability/logger.ts";
import { createMetricsRegistry } from "../../src/observability/metrics.ts";
import { installShutdown } from "../../src/runtime/shutdown.ts";
import { EmbeddedClickHouseConfig } from "./config.ts";
import { ConnectionState } from "./connection-state.ts";
import { Engine } from "./engine.ts";
import { endpointPassword } from "./engine-access.ts";
import { Executor } from "./executor.ts";
import { ExecutorPool } from "./executor-pool.ts";
import { LazyRunner } from "./lazy-runner.ts";
import { createEndpointMetrics } from "./metrics.ts";
import { startEmbeddedServer } from "./server.ts";

const service = "clickhouse-embedded";
const config = loadConfigOrExit(EmbeddedClickHouseConfig);
const instanceId = config.INSTANCE_ID || defaultInstanceId();
const logger = createLogger({ service, instanceId, level: config.LOG_LEVEL });
exitOnUncaught(logger);
logConfig(logger, EmbeddedClickHouseConfig, config);
const registry = createMetricsRegistry({ service, instanceId });

const engine = await openEngineOrExit(
  config.CLICKHOUSE_EMBEDDED_DATA_DIR,
  config.CLICKHOUSE_EMBEDDED_UNCOMPRESSED_CACHE_BYTES,
);
const access = endpointPassword(engine.dataDir, config.CLICKHOUSE_EMBEDDED_PASSWORD);
if (access.generatedAt !== undefined) {
  logger.info(
    { passwordFile: access.generatedAt },
    "no CLICKHOUSE_EMBEDDED_PASSWORD given: using the generated password in this file",
  );
}
// Opened on first use; their engines are closed at shutdown with the others.
const readonlyEngines: Engine[] = [];
const readonlyRunner = (level: 1 | 2) =>
  new LazyRunner(async () => {
    const readonlyEngine = await Engine.open(config.CLICKHOUSE_EMBEDDED_DATA_DIR, {
      uncompressedCacheBytes: config.CLICKHOUSE_EMBEDDED_UNCOMPRESSED_CACHE_BYTES,
      readonly: level,
    });
    readonlyEngines.push(readonlyEngine);
    return executorOn(readonlyEngine);
  });
const readonlyExecutors = { 1: readonlyRunner(1), 2: readonlyRunner(2) } as const;
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
  readonlyExecutors,
  metrics,
  logger,
  auth: { user: config.CLICKHOUSE_EMBEDDED_USER, password: access.password },
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
      run: () =>
        Promise.all([
          executor.drain(),
          insertExecutor?.drain(),
          readonlyExecutors[1].drain(),
          readonlyExecutors[2].drain(),
        ]).then(() => undefined),
    },
    {
      name: "close chdb",
      run: () => {
        for (const insertEngine of insertEngines) insertEngine.close();
        for (const readonlyEngine of readonlyEngines) readonlyEngine.close();
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
