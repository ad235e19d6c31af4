import { type Static, Type } from "@sinclair/typebox";
import { TelemetryStoreConfig } from "../../src/clickhouse/config.ts";
import { CommonConfig } from "../../src/config/common.ts";
import { Setting } from "../../src/config/settings.ts";

/** Environment of the API gateway. */
export const ApiConfig = Type.Composite([
  CommonConfig,
  TelemetryStoreConfig,
  Type.Object({
    API_HOST: Setting.string({
      default: "127.0.0.1",
      minLength: 1,
      description: "interface the API binds to (0.0.0.0 for every interface; the Helm chart sets it)",
    }),
    API_PORT: Setting.integer({
      default: 8080,
      minimum: 0,
      maximum: 65_535,
      description: "HTTP port of the API (0 picks a free one; the `listening` log line reports it)",
    }),
    API_CURSOR_KEY: Setting.string({
      default: "",
      description:
        "HMAC-SHA256 key of page cursors, base64 of at least 32 bytes (a secret: the chart keeps it in a Secret, the dev stack in .data/secrets); empty: a random key per process, so a cursor works only on the replica that issued it",
    }),
    API_TELEMETRY_WINDOW_HOURS_MAX: Setting.integer({
      default: 168,
      minimum: 1,
      maximum: 24 * 366,
      description: "longest start_time..end_time window of one telemetry page query",
    }),
    API_SUMMARY_WINDOW_DAYS_MAX: Setting.integer({
      default: 31,
      minimum: 1,
      maximum: 3_660,
      description: "longest window of one summary query",
    }),
    API_SUMMARY_BUCKETS_MAX: Setting.integer({
      default: 2_000,
      minimum: 10,
      maximum: 10_000,
      description: "buckets per series one summary may return",
    }),
    API_LIST_CACHE_TTL_MS: Setting.integer({
      default: 1_000,
      minimum: 0,
      maximum: 60_000,
      description: "how long GPU/host/metric listings are reused (0 disables the cache)",
    }),
    API_TELEMETRY_CACHE_CHARS_MAX: Setting.integer({
      default: 64_000_000,
      minimum: 0,
      maximum: 4_000_000_000,
      description:
        "characters of telemetry pages kept; a page is served again only while the datapoints parts of its window are unchanged (0 disables)",
    }),
    API_RETRY_AFTER_S: Setting.integer({
      default: 5,
      minimum: 1,
      maximum: 3_600,
      description: "Retry-After sent with a 503 when ClickHouse is unreachable",
    }),
    API_CLICKHOUSE_IN_FLIGHT_MAX: Setting.integer({
      default: 16,
      minimum: 1,
      maximum: 1_024,
      description: "ClickHouse queries one API process runs at once",
    }),
    API_CLICKHOUSE_QUEUE_LENGTH_MAX: Setting.integer({
      default: 256,
      minimum: 1,
      maximum: 100_000,
      description: "requests waiting for a ClickHouse slot; one more gets a 503 at once",
    }),
    API_CLICKHOUSE_WAIT_MS_MAX: Setting.integer({
      default: 2_000,
      minimum: 1,
      maximum: 600_000,
      description: "longest a request waits for a ClickHouse slot before a 503",
    }),
    API_SHUTDOWN_TIMEOUT_MS: Setting.integer({
      default: 15_000,
      minimum: 100,
      maximum: 600_000,
      description: "how long SIGTERM waits for in-flight requests before exiting",
    }),
  }),
]);
export type ApiConfig = Static<typeof ApiConfig>;
