import { type Static, Type } from "@sinclair/typebox";
import { CommonConfig } from "../../src/config/common.ts";
import { Setting } from "../../src/config/settings.ts";

/** Environment of the embedded ClickHouse endpoint (one process owns one chdb data directory). */
export const EmbeddedClickHouseConfig = Type.Composite([
  CommonConfig,
  Type.Object({
    CLICKHOUSE_EMBEDDED_HOST: Setting.string({
      default: "127.0.0.1",
      minLength: 1,
      description: "interface the HTTP endpoint binds to",
    }),
    CLICKHOUSE_EMBEDDED_PORT: Setting.integer({
      default: 8123,
      minimum: 0,
      maximum: 65_535,
      description: "HTTP port (0 picks a free one; the `listening` log line reports it)",
    }),
    CLICKHOUSE_EMBEDDED_DATA_DIR: Setting.string({
      default: ".data/clickhouse",
      minLength: 1,
      description: "chdb data directory; only this process may open it",
    }),
    CLICKHOUSE_EMBEDDED_USER: Setting.string({ default: "default", minLength: 1, description: "accepted user name" }),
    CLICKHOUSE_EMBEDDED_PASSWORD: Setting.secret({
      description:
        "password requests must authenticate with (a secret; the dev stack generates one under .data/secrets); empty: one is generated on first start and kept in <data dir>/endpoint-access/password",
    }),
    CLICKHOUSE_EMBEDDED_QUEUE_LENGTH_MAX: Setting.integer({
      default: 256,
      minimum: 1,
      maximum: 100_000,
      description: "queries waiting for the engine; one more is refused with TOO_MANY_SIMULTANEOUS_QUERIES",
    }),
    CLICKHOUSE_EMBEDDED_QUEUE_WAIT_MS_MAX: Setting.integer({
      default: 60_000,
      minimum: 10,
      maximum: 3_600_000,
      description: "longest a query may wait in the queue before it is refused with TIMEOUT_EXCEEDED",
    }),
    CLICKHOUSE_EMBEDDED_BODY_BYTES_MAX: Setting.integer({
      default: 512 * 1024 * 1024,
      minimum: 1024,
      maximum: 4 * 1024 * 1024 * 1024,
      description: "largest request body (an insert batch) accepted",
    }),
    CLICKHOUSE_EMBEDDED_UNCOMPRESSED_CACHE_BYTES: Setting.integer({
      default: 512 * 1024 * 1024,
      minimum: 0,
      maximum: 64 * 1024 * 1024 * 1024,
      description:
        "decoded-block cache for queries that set use_uncompressed_cache=1 (the API's hot reads); 0 disables it",
    }),
    CLICKHOUSE_EMBEDDED_INSERT_CONNECTIONS: Setting.integer({
      default: 2,
      minimum: 0,
      maximum: 16,
      description:
        "chdb connections that run inserts, in parallel with each other and with queries (0: inserts queue with queries)",
    }),
    CLICKHOUSE_EMBEDDED_KEEP_ALIVE_TIMEOUT_S: Setting.integer({
      default: 10,
      minimum: 1,
      maximum: 255,
      description: "idle keep-alive socket timeout, advertised in the Keep-Alive header",
    }),
    CLICKHOUSE_EMBEDDED_SHUTDOWN_TIMEOUT_MS: Setting.integer({
      default: 30_000,
      minimum: 100,
      maximum: 600_000,
      description: "how long SIGTERM waits for queued and running queries",
    }),
  }),
]);
export type EmbeddedClickHouseConfig = Static<typeof EmbeddedClickHouseConfig>;
