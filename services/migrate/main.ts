/**
 * The migrate command (`bun run migrate`, image argument `migrate`): brings the
 * telemetry database to this release's schema and sets every table's TTL to
 * TELEMETRY_RETENTION_DAYS, then exits 0. In the Helm chart it is the one place the
 * schema changes (a Job per release revision); the collectors and the API run with
 * CLICKHOUSE_MIGRATE_ON_START=false and wait until the schema is current.
 *
 * ClickHouse may still be starting: it is retried with backoff for MIGRATE_WAIT_MS.
 * An edited migration (checksum mismatch) is not retried: exit 1 at once. SIGTERM
 * stops the wait and exits 1.
 */
import { createClickHouse } from "../../src/clickhouse/client.ts";
import { MigrationChecksumError, migrate } from "../../src/clickhouse/migrations.ts";
import { logConfig } from "../../src/config/config-log.ts";
import { loadConfigOrExit } from "../../src/config/env.ts";
import { createLogger, defaultInstanceId } from "../../src/observability/logger.ts";
import { RetryAbortedError, retry } from "../../src/runtime/retry.ts";
import { MigrateConfig } from "./config.ts";

const config = loadConfigOrExit(MigrateConfig);
const logger = createLogger({
  service: "migrate",
  instanceId: config.INSTANCE_ID || defaultInstanceId(),
  level: config.LOG_LEVEL,
});
logConfig(logger, MigrateConfig, config);

const stopping = new AbortController();
process.on("SIGTERM", () => stopping.abort());
process.on("SIGINT", () => stopping.abort());

/** The server's own database: ours may not exist yet. */
const bootstrapDatabase = "default";
const client = createClickHouse({
  url: config.CLICKHOUSE_URL,
  username: config.CLICKHOUSE_USER,
  password: config.CLICKHOUSE_PASSWORD,
  database: bootstrapDatabase,
  requestTimeoutMs: config.CLICKHOUSE_REQUEST_TIMEOUT_MS,
});

try {
  const report = await retry(
    () =>
      migrate({
        client,
        database: config.CLICKHOUSE_DATABASE,
        retentionDays: config.TELEMETRY_RETENTION_DAYS,
        clock: Date.now,
        log: logger,
      }),
    {
      deadlineMs: config.MIGRATE_WAIT_MS,
      backoff: { backoffMsMin: 500, backoffMsMax: 10_000 },
      signal: stopping.signal,
      isRetryable: (error) => !(error instanceof MigrationChecksumError || error instanceof RangeError),
      onRetry: ({ error, attempt, delayMs }) =>
        logger.warn(
          { err: error, url: config.CLICKHOUSE_URL, attempt, waitMs: delayMs },
          "ClickHouse not ready; retrying",
        ),
    },
  );
  logger.info(
    { ...report, database: config.CLICKHOUSE_DATABASE, retentionDays: config.TELEMETRY_RETENTION_DAYS },
    "migrated",
  );
  await client.close();
  process.exit(0);
} catch (error) {
  const reason = error instanceof RetryAbortedError ? "stopped before ClickHouse answered" : "migration failed";
  logger.fatal({ err: error, url: config.CLICKHOUSE_URL }, reason);
  await client.close();
  process.exit(1);
}
