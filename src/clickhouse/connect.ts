import type { ClickHouseClient } from "@clickhouse/client";
import type { Logger } from "../observability/logger.ts";
import { createClickHouse } from "./client.ts";
import type { TelemetryStoreConfig } from "./config.ts";
import { migrate } from "./migrations.ts";

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
  if (config.CLICKHOUSE_MIGRATE_ON_START) {
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
  return createClickHouse({ ...connection, database: config.CLICKHOUSE_DATABASE });
}
