import { Type } from "@sinclair/typebox";
import { LogLevel, Setting } from "./settings.ts";

/** Settings every process shares: identity, logging and its operations HTTP port. */
export const CommonConfig = Type.Object({
  LOG_LEVEL: LogLevel,
  INSTANCE_ID: Setting.string({
    default: "",
    description: "instance id in logs and metrics; empty means hostname-pid",
  }),
});

/** Settings of every process that talks to ClickHouse. */
export const ClickHouseConfig = Type.Object({
  CLICKHOUSE_URL: Setting.url({
    default: "http://127.0.0.1:8123",
    description: "ClickHouse HTTP endpoint (the embedded one in dev, a server in production)",
  }),
  CLICKHOUSE_USER: Setting.string({ default: "default", description: "ClickHouse user" }),
  CLICKHOUSE_PASSWORD: Setting.string({ default: "", description: "ClickHouse password" }),
  CLICKHOUSE_DATABASE: Setting.string({
    default: "telemetry",
    minLength: 1,
    description: "database holding the telemetry tables",
  }),
  CLICKHOUSE_REQUEST_TIMEOUT_MS: Setting.integer({
    default: 30_000,
    minimum: 100,
    maximum: 600_000,
    description: "timeout of one ClickHouse request",
  }),
});
