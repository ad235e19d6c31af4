/**
 * The collector process: a member of the `collectors` consumer group that moves
 * telemetry records from the broker into ClickHouse in batches, effectively once
 * (partition-writer.ts explains how), with /health, /ready, /metrics and graceful
 * SIGTERM (finish the batch in flight, commit, leave the group, exit 0).
 */
import type { ClickHouseClient } from "@clickhouse/client";
import { brokerConnectionOf } from "../../src/auth/client-token.ts";
import { openTelemetryStore } from "../../src/clickhouse/connect.ts";
import { logConfig } from "../../src/config/config-log.ts";
import { loadConfigOrExit, tryOrExitOnConfigError } from "../../src/config/env.ts";
import { oversizedRequest, warnIfParserLimitLow } from "../../src/http/request-limits.ts";
import { exitOnUncaught } from "../../src/observability/fatal.ts";
import { createLogger, defaultInstanceId } from "../../src/observability/logger.ts";
import { createMetricsRegistry } from "../../src/observability/metrics.ts";
import { type RetryOptions, retry, startUpAttemptsMax, unlessAborted } from "../../src/runtime/retry.ts";
import { installShutdown } from "../../src/runtime/shutdown.ts";
import { Collector } from "./collector.ts";
import { CollectorConfig } from "./config.ts";
import { createCollectorMetrics } from "./metrics.ts";
import { createCollectorApp } from "./ops-app.ts";

const service = "collector";

const config = loadConfigOrExit(CollectorConfig);
const instanceId = config.INSTANCE_ID || defaultInstanceId();
const logger = createLogger({ service, instanceId, level: config.LOG_LEVEL });
exitOnUncaught(logger);
logConfig(logger, CollectorConfig, config);
const broker = tryOrExitOnConfigError(() =>
  brokerConnectionOf(config, (problem) =>
    logger.error({ problem }, "BROKER_TOKEN_FILE rejected; keeping the last token"),
  ),
);
const registry = createMetricsRegistry({ service, instanceId });
let collector: Collector | undefined;
let clickhouse: ClickHouseClient | undefined;
const metrics = createCollectorMetrics(registry, {
  assignedPartitions: () => collector?.assigned().length ?? 0,
  lagRecords: () => collector?.lagRecords() ?? new Map(),
});

const app = createCollectorApp({
  registry,
  checks: [
    { name: "clickhouse", check: () => collector?.clickHouseReady() ?? false },
    { name: "broker", check: () => collector?.memberId !== undefined },
  ],
});
const server = Bun.serve({
  hostname: config.COLLECTOR_HOST,
  port: config.COLLECTOR_PORT,
  fetch: (request) => oversizedRequest(request) ?? app.handle(request),
});
warnIfParserLimitLow(logger);
logger.info({ port: server.port, host: config.COLLECTOR_HOST }, "listening");

const starting = new AbortController();
const shutdown = installShutdown({
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
/** Start-up waits for ClickHouse and the broker, however late they come, until told to stop. */
const startUp = (step: string): RetryOptions => ({
  attemptsMax: startUpAttemptsMax,
  backoff,
  signal: starting.signal,
  onRetry: ({ error, attempt, delayMs }) =>
    logger.warn({ err: error, step, attempt, delayMs }, "start-up step failed; retrying"),
});
clickhouse = await unlessAborted(
  retry(() => openTelemetryStore({ config, log: logger, clock: Date.now }), startUp("apply ClickHouse migrations")),
);
if (clickhouse !== undefined) {
  const store = clickhouse;
  collector = await unlessAborted(
    retry(
      () =>
        Collector.start({
          config,
          broker,
          instanceId,
          clickhouse: store,
          metrics,
          logger,
          clock: Date.now,
          afterInsert,
          onFenced: (error) => {
            logger.error({ err: error, instanceId }, "another process joined with this INSTANCE_ID: stopping");
            void shutdown.run("fenced by another process with the same INSTANCE_ID", 1);
          },
        }),
      startUp("join the consumer group"),
    ),
  );
}
