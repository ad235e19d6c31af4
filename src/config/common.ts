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
  CLICKHOUSE_PASSWORD: Setting.secret({ description: "ClickHouse password" }),
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

/**
 * Settings of every process that is a client of the broker: where it is and the bearer
 * token presented to it (see src/auth/client-token.ts). `what` says which scopes the
 * token needs for this service, for the README table.
 */
export function brokerClientConfig(what: string) {
  return Type.Object({
    BROKER_URL: Setting.url({ default: "http://127.0.0.1:9092", description: "broker HTTP endpoint" }),
    BROKER_TOKEN: Setting.secret({
      description:
        what === "" ? "bearer token presented to the broker" : `bearer token presented to the broker: ${what}`,
    }),
    BROKER_TOKEN_FILE: Setting.string({
      default: "",
      description:
        "file holding that token instead (a mounted Secret), read again when it changes so a rotated token needs no restart",
    }),
  });
}
