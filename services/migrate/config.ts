import { type Static, Type } from "@sinclair/typebox";
import { TelemetryStoreConfig } from "../../src/clickhouse/config.ts";
import { CommonConfig } from "../../src/config/common.ts";
import { Setting } from "../../src/config/settings.ts";

/** The migrate command: where ClickHouse is, the database, the retention, and how long to wait for the server. */
export const MigrateConfig = Type.Composite([
  CommonConfig,
  Type.Omit(TelemetryStoreConfig, ["CLICKHOUSE_MIGRATE_ON_START"]),
  Type.Object({
    MIGRATE_WAIT_MS: Setting.integer({
      default: 600_000,
      minimum: 0,
      maximum: 86_400_000,
      description:
        "how long to keep trying while ClickHouse is not reachable yet (a fresh install starts it at the same time), with backoff; then exit 1",
    }),
  }),
]);
export type MigrateConfig = Static<typeof MigrateConfig>;
