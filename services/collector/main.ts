/**
 * The collector process: a member of the `collectors` consumer group that moves
 * telemetry records from the broker into ClickHouse in batches, effectively once
 * (partition-writer.ts explains how), with /health, /ready, /metrics and graceful
 * SIGTERM (finish the batch in flight, commit, leave the group, exit 0).
 */
import type { ClickHouseClient } from "@clickhouse/client";
import { Elysia } from "elysia";
import { openTelemetryStore } from "../../src/clickhouse/connect.ts";
import { loadConfigOrExit } from "../../src/config/env.ts";
import { opsRoutes } from "../../src/http/ops-routes.ts";
import { oversizedRequest, warnIfParserLimitLow } from "../../src/http/request-limits.ts";
import { createLogger, defaultInstanceId } from "../../src/observability/logger.ts";
import { createMetricsRegistry } from "../../src/observability/metrics.ts";
import { installShutdown } from "../../src/runtime/shutdown.ts";
import { Collector } from "./collector.ts";
import { CollectorConfig } from "./config.ts";
import { createCollectorMetrics } from "./metrics.ts";
import { startWithRetry } from "./start-with-retry.ts";

const service = "collector";

const config = loadConfigOrExit(CollectorConfig);
const instanceId = config.INSTANCE_ID || defaultInstanceId();
const logger = createLogger({ service, instanceId, level: config.LOG_LEVEL });
const registry = createMetricsRegistry({ service, instanceId });
let collector: Collector | undefined;
let clickhouse: ClickHouseClient | undefined;
const metrics = createCollectorMetrics(registry, {
  assignedPartitions: () => collector?.assigned().length ?? 0,
  lagRecords: () => collector?.lagRecords() ?? new Map(),
});

const app = new Elysia().use(
  opsRoutes({
    registry,
    checks: [
      { name: "clickhouse", check: () => collector?.clickHouseReady() ?? false },
      { name: "broker", check: () => collector?.memberId !== undefined },
    ],
  }),
);
const server = Bun.serve({
  hostname: config.COLLECTOR_HOST,
  port: config.COLLECTOR_PORT,
  fetch: (request) => oversizedRequest(request) ?? app.handle(request),
});
warnIfParserLimitLow(logger);
logger.info({ port: server.port, host: config.COLLECTOR_HOST }, "listening");

const starting = new AbortController();
installShutdown({
  logger,
  timeoutMs: config.COLLECTOR_SHUTDOWN_TIMEOUT_MS,
  steps: [
    { name: "stop start-up", run: () => starting.abort() },
    { name: "finish the batch in flight, commit, leave the group", run: () => collector?.stop() },
    { name: "close clickhouse client", run: () => clickhouse?.close() },
    { name: "stop ops server", run: () => server.stop() },
  ],
});

let insertsDone = 0;
const afterInsert =
  config.COLLECTOR_FAULT_EXIT_AFTER_INSERTS === 0
    ? undefined
    : () => {
        insertsDone += 1;
        if (insertsDone < config.COLLECTOR_FAULT_EXIT_AFTER_INSERTS) return;
        // SIGKILL, not exit(): no shutdown step, no commit, no leave; exactly a crash.
        logger.warn({ insertsDone }, "fault injection: killing this process between insert and commit");
        process.kill(process.pid, "SIGKILL");
      };

const backoff = {
  backoffMsMin: config.COLLECTOR_RETRY_BACKOFF_MS_MIN,
  backoffMsMax: config.COLLECTOR_RETRY_BACKOFF_MS_MAX,
};
clickhouse = await startWithRetry({
  name: "apply ClickHouse migrations",
  step: () => openTelemetryStore({ config, log: logger, clock: Date.now }),
  backoff,
  logger,
  signal: starting.signal,
});
if (clickhouse !== undefined) {
  const store = clickhouse;
  collector = await startWithRetry({
    name: "join the consumer group",
    step: () =>
      Collector.start({ config, instanceId, clickhouse: store, metrics, logger, clock: Date.now, afterInsert }),
    backoff,
    logger,
    signal: starting.signal,
  });
}
