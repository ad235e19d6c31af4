import { type Static, Type } from "@sinclair/typebox";
import { TelemetryStoreConfig } from "../../src/clickhouse/config.ts";
import { brokerClientConfig, CommonConfig } from "../../src/config/common.ts";
import { Setting } from "../../src/config/settings.ts";
import { tokenListFormat, tokensReloadSetting } from "../../src/config/token-settings.ts";

/** Its own token at the broker: consume in the collectors' group (committed offsets, fetches). */
const brokerTokenSettings = brokerClientConfig(
  "scope consume in group API_LIVE_GROUP (its committed offsets and fetches, for the live tail and the pipeline page)",
).properties;

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
    API_CURSOR_KEY: Setting.secret({
      description:
        "HMAC-SHA256 key of page cursors, base64 of at least 32 bytes (a secret: the chart keeps it in a Secret, the dev stack in .data/secrets); empty: a random key per process, so a cursor works only on the replica that issued it",
    }),
    API_READ_OPEN: Setting.boolean({
      default: false,
      description:
        "true leaves scope read open: the data routes answer without a token (the dev stack sets it, on 127.0.0.1; said at start-up); false needs a token of API_READ_TOKENS or API_TOKENS_DIR",
    }),
    API_READ_TOKENS: Setting.secret({ description: `tokens with scope read (every data route): ${tokenListFormat}` }),
    API_TOKENS_DIR: Setting.string({
      default: "",
      description:
        "directory with a file `read` listing tokens as API_READ_TOKENS does, merged with it and re-read when it changes (a mounted Secret); empty: none",
    }),
    API_TOKENS_RELOAD_MS: tokensReloadSetting,
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
    API_GPU_HEALTH_METRICS: Setting.boolean({
      default: true,
      description:
        "serve GPU alert signals on /metrics (telemetry_gpu_temperature_celsius, telemetry_xid_error_gpus, telemetry_throttled_gpus, telemetry_data_freshness_seconds), read from ClickHouse when scraped",
    }),
    API_GPU_HEALTH_STALE_S: Setting.integer({
      default: 300,
      minimum: 10,
      maximum: 86_400,
      description: "a GPU whose values are older than this leaves the GPU alert signals (its series end)",
    }),
    API_GPU_HEALTH_CACHE_MS: Setting.integer({
      default: 10_000,
      minimum: 0,
      maximum: 600_000,
      description: "how long one read of the GPU alert signals serves scrapes",
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
    API_FLEET_GPUS_MAX: Setting.integer({
      default: 20_000,
      minimum: 1,
      maximum: 50_000,
      description: "GPUs in one /api/v1/fleet answer at most (ordered by host and index; `truncated` says when cut)",
    }),
    API_FLEET_STALE_AFTER_S: Setting.integer({
      default: 60,
      minimum: 1,
      maximum: 86_400,
      description: "a GPU whose latest datapoint is older than this is marked stale (fleet answers, dashboard)",
    }),
    API_EXPORT_ROWS_MAX: Setting.integer({
      default: 1_000_000,
      minimum: 10_000,
      maximum: 100_000_000,
      description:
        "datapoints one NDJSON or CSV export of a telemetry window streams at most (a larger window without `limit` is a 400)",
    }),
    API_CORS_ORIGINS: Setting.string({
      default: "",
      description:
        "browser origins allowed to call the API from another site, comma-separated (e.g. https://grafana.example.com), or * for any; empty: none (no CORS headers)",
    }),
    BROKER_URL: Type.String({
      default: "http://127.0.0.1:9092",
      pattern: "^(https?://[^\\s/]+(/.*)?)?$",
      description:
        "broker HTTP endpoint: the live tail (datapoint streams, live windows from memory) and the pipeline figures; empty turns both off",
    }),
    BROKER_TOKEN: brokerTokenSettings.BROKER_TOKEN,
    BROKER_TOKEN_FILE: brokerTokenSettings.BROKER_TOKEN_FILE,
    API_LIVE_TOPIC: Setting.string({ default: "telemetry", minLength: 1, description: "topic the collectors read" }),
    API_LIVE_GROUP: Setting.string({
      default: "collectors",
      minLength: 1,
      description: "the collectors' consumer group: a datapoint enters the live tail once this group committed it",
    }),
    API_DEAD_LETTER_TOPIC: Setting.string({
      default: "telemetry.dlq",
      minLength: 1,
      description: "the collectors' dead-letter topic, counted on the pipeline page",
    }),
    API_LIVE_TAIL_SPAN_S: Setting.integer({
      default: 300,
      minimum: 1,
      maximum: 86_400,
      description:
        "how far back the live tail keeps datapoints in memory (windows reaching further back read ClickHouse for the older part)",
    }),
    API_LIVE_TAIL_ROWS_MAX: Setting.integer({
      default: 2_000_000,
      minimum: 1_000,
      maximum: 100_000_000,
      description: "datapoints the live tail holds at most (30 bytes each); past it the tail keeps a shorter span",
    }),
    API_LIVE_COMMIT_POLL_MS: Setting.integer({
      default: 100,
      minimum: 10,
      maximum: 10_000,
      description:
        "how often the live tail reads the collectors' committed offsets (datapoints become visible at this pace)",
    }),
    API_STREAMS_MAX: Setting.integer({
      default: 1_000,
      minimum: 1,
      maximum: 100_000,
      description: "server-sent event streams open at once (datapoints and fleet); one more gets a 503",
    }),
    API_STREAM_BUFFER_BYTES_MAX: Setting.integer({
      default: 8 * 1024 * 1024,
      minimum: 65_536,
      maximum: 1_073_741_824,
      description:
        "bytes queued for one stream client; a client that falls this far behind is disconnected (a fleet snapshot must fit)",
    }),
    API_PEER_URLS: Setting.string({
      default: "",
      description:
        "processes the pipeline page probes for /ready: comma-separated name=url (e.g. broker=http://broker:9092,collector-1=http://c1:9600)",
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
