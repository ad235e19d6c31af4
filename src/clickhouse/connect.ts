import type { ClickHouseClient } from "@clickhouse/client";
import type { Logger } from "../observability/logger.ts";
import { createClickHouse } from "./client.ts";
import type { TelemetryStoreConfig } from "./config.ts";
import { assertSchemaCurrent, migrate } from "./migrations.ts";
import { retentionDrift } from "./retention.ts";

/** The database every ClickHouse server has; migrations connect to it because ours may not exist yet. */
const bootstrapDatabase = "default";

export interface OpenTelemetryStoreOptions {
  config: TelemetryStoreConfig;
  log?: Logger;
  /** Epoch milliseconds; stamps applied migrations. */
  clock: () => number;
}

/**
 * A process's start-up path to ClickHouse: apply migrations (unless disabled) with a
 * short-lived client on the bootstrap database, then return a client whose default
 * database is the telemetry one, which every query in src/clickhouse relies on.
 *
 * With migrations disabled (the chart: its migrate Job owns the schema) nothing is
 * changed: the schema must already be current (else SchemaNotCurrentError, which the
 * caller retries), and a TTL that differs from TELEMETRY_RETENTION_DAYS is logged, not
 * altered, so one stale setting can never shorten what the others keep.
 */
export async function openTelemetryStore(options: OpenTelemetryStoreOptions): Promise<ClickHouseClient> {
  const { config } = options;
  const connection = {
    url: config.CLICKHOUSE_URL,
    username: config.CLICKHOUSE_USER,
    password: config.CLICKHOUSE_PASSWORD,
    requestTimeoutMs: config.CLICKHOUSE_REQUEST_TIMEOUT_MS,
    ...(options.log === undefined ? {} : { logger: options.log }),
  };
  if (config.CLICKHOUSE_MIGRATE_ON_START) await applyMigrations(options, connection);
  else await checkSchema(options, connection);
  return createClickHouse({ ...connection, database: config.CLICKHOUSE_DATABASE });
}

interface Connection {
  url: string;
  username: string;
  password: string;
  requestTimeoutMs: number;
}

async function applyMigrations(options: OpenTelemetryStoreOptions, connection: Connection): Promise<void> {
  const { config } = options;
  const bootstrap = createClickHouse({ ...connection, database: bootstrapDatabase });
  try {
    await migrate({
      client: bootstrap,
      database: config.CLICKHOUSE_DATABASE,
      retentionDays: config.TELEMETRY_RETENTION_DAYS,
      clock: options.clock,
      ...(options.log === undefined ? {} : { log: options.log }),
    });
  } finally {
    await bootstrap.close();
  }
}

async function checkSchema(options: OpenTelemetryStoreOptions, connection: Connection): Promise<void> {
  const { config } = options;
  const bootstrap = createClickHouse({ ...connection, database: bootstrapDatabase });
  try {
    await assertSchemaCurrent({ client: bootstrap, database: config.CLICKHOUSE_DATABASE });
    const drifted = await retentionDrift({
      client: bootstrap,
      database: config.CLICKHOUSE_DATABASE,
      retentionDays: config.TELEMETRY_RETENTION_DAYS,
    });
    if (drifted.length > 0) {
      options.log?.warn(
        { tables: drifted, configuredDays: config.TELEMETRY_RETENTION_DAYS },
        "the tables' retention differs from TELEMETRY_RETENTION_DAYS; left as is (only the migrate step changes it)",
      );
    }
  } finally {
    await bootstrap.close();
  }
}
