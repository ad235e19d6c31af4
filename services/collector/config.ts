import { type Static, Type } from "@sinclair/typebox";
import { TelemetryStoreConfig } from "../../src/clickhouse/config.ts";
import { brokerClientConfig, CommonConfig } from "../../src/config/common.ts";
import { Setting } from "../../src/config/settings.ts";

const MiB = 1024 * 1024;

/** Every setting of the collector process. */
export const CollectorConfig = Type.Composite([
  CommonConfig,
  TelemetryStoreConfig,
  brokerClientConfig("scopes consume (its group COLLECTOR_GROUP) and produce (dead letters, intents)"),
  Type.Object({
    COLLECTOR_HOST: Setting.string({
      default: "127.0.0.1",
      minLength: 1,
      description:
        "address /health, /ready and /metrics listen on (0.0.0.0 for every interface; the Helm chart sets it)",
    }),
    COLLECTOR_PORT: Setting.integer({
      default: 9600,
      minimum: 0,
      maximum: 65_535,
      description: "port of /health, /ready and /metrics (0 picks a free one; the `listening` log line reports it)",
    }),
    COLLECTOR_GROUP: Setting.string({ default: "collectors", minLength: 1, description: "consumer group" }),
    COLLECTOR_TOPIC: Setting.string({ default: "telemetry", minLength: 1, description: "topic of telemetry records" }),
    COLLECTOR_DEAD_LETTER_TOPIC: Setting.string({
      default: "telemetry.dlq",
      minLength: 1,
      description: "where undecodable or invalid records go, with the reason and source offset",
    }),
    COLLECTOR_BATCH_ROWS_MAX: Setting.integer({
      default: 100_000,
      minimum: 1,
      maximum: 500_000,
      description: "records in one ClickHouse insert at most (ClickHouse wants 1,000-100,000)",
    }),
    COLLECTOR_LINGER_MS: Setting.integer({
      default: 1_000,
      minimum: 0,
      maximum: 60_000,
      description:
        "a caught-up collector inserts at most once per this period (longer when inserts are slow), so inserts stay few and large",
    }),
    COLLECTOR_COMMIT_INTERVAL_MS: Setting.integer({
      default: 100,
      minimum: 0,
      maximum: 60_000,
      description:
        "inserted offsets are committed at least this often (0: after every batch); the API shows a datapoint live once it is committed",
    }),
    COLLECTOR_FETCH_BYTES_MAX: Setting.integer({
      default: 8 * MiB,
      minimum: 64 * 1024,
      maximum: 256 * MiB,
      description: "bytes of one fetch (the broker caps it with BROKER_FETCH_BYTES_MAX)",
    }),
    COLLECTOR_BACKLOG_BYTES_MAX: Setting.integer({
      default: 64 * MiB,
      minimum: 1 * MiB,
      maximum: 4_096 * MiB,
      description: "fetched bytes not yet in ClickHouse, over all partitions; fetching pauses above it",
    }),
    COLLECTOR_INSERTS_IN_FLIGHT_MAX: Setting.integer({
      default: 2,
      minimum: 1,
      maximum: 64,
      description: "ClickHouse inserts running at once (the others wait their turn)",
    }),
    COLLECTOR_RETRY_BACKOFF_MS_MIN: Setting.integer({
      default: 100,
      minimum: 1,
      maximum: 60_000,
      description: "first retry delay of a failed insert (doubles per attempt, with jitter)",
    }),
    COLLECTOR_RETRY_BACKOFF_MS_MAX: Setting.integer({
      default: 10_000,
      minimum: 1,
      maximum: 600_000,
      description: "longest delay between insert retries",
    }),
    COLLECTOR_SESSION_TIMEOUT_MS: Setting.integer({
      default: 2_500,
      minimum: 1_000,
      maximum: 300_000,
      description:
        "group session timeout: a silent collector (killed, cut off) loses its partitions after this; a restart with the same INSTANCE_ID takes them back at once",
    }),
    COLLECTOR_SHUTDOWN_TIMEOUT_MS: Setting.integer({
      default: 20_000,
      minimum: 100,
      maximum: 600_000,
      description: "SIGTERM finishes the batch in flight, commits and leaves the group within this",
    }),
    COLLECTOR_FAULT_EXIT_AFTER_INSERTS: Setting.integer({
      default: 0,
      minimum: 0,
      maximum: 1_000_000,
      description:
        "FAULT INJECTION for tests, keep 0: SIGKILL this process right after this many inserts succeeded, before their offsets are committed",
    }),
  }),
]);
export type CollectorConfig = Static<typeof CollectorConfig>;
