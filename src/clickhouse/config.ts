import { type Static, Type } from "@sinclair/typebox";
import { ClickHouseConfig } from "../config/common.ts";
import { Setting } from "../config/settings.ts";
import { identifierPattern } from "./identifier.ts";

/**
 * Settings of a process that owns or reads the telemetry schema. The database name is
 * put into DDL text (identifiers cannot always be parameters), so it must be a plain
 * identifier.
 */
export const TelemetryStoreConfig = Type.Object({
  ...ClickHouseConfig.properties,
  CLICKHOUSE_DATABASE: Type.String({
    default: "telemetry",
    pattern: identifierPattern,
    description: "database holding the telemetry tables (letters, digits, underscore)",
  }),
  TELEMETRY_RETENTION_DAYS: Setting.integer({
    default: 30,
    minimum: 1,
    maximum: 3_650,
    description:
      "days datapoints, rollups and registry entries are kept (TTL); the process that migrates sets the tables' TTL to it, the others only warn when it differs",
  }),
  CLICKHOUSE_MIGRATE_ON_START: Setting.boolean({
    default: true,
    description:
      "apply pending schema migrations and the retention at start-up (idempotent); false: change nothing and wait until the schema is current (the Helm chart's migrate Job applies it)",
  }),
});
export type TelemetryStoreConfig = Static<typeof TelemetryStoreConfig>;
