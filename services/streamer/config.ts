import { type Static, Type } from "@sinclair/typebox";
import { brokerClientConfig, CommonConfig } from "../../src/config/common.ts";
import { Setting } from "../../src/config/settings.ts";
import { tokenListFormat, tokensReloadSetting } from "../../src/config/token-settings.ts";

const MiB = 1024 * 1024;
/** Relative to the working directory, like the other data paths (the repo root, or /app in the image). */
const sampleCsvPath = "data/dcgm_metrics_20250718_134233.csv";

/** Every setting of the streamer process, read from STREAMER_* (and BROKER_URL) environment variables. */
export const StreamerConfig = Type.Composite([
  CommonConfig,
  brokerClientConfig("scopes produce and consume (its group STREAMER_GROUP)"),
  Type.Object({
    STREAMER_HOST: Setting.string({
      default: "127.0.0.1",
      minLength: 1,
      description: "address the HTTP server listens on (0.0.0.0 for every interface; the Helm chart sets it)",
    }),
    STREAMER_PORT: Setting.integer({
      default: 9500,
      minimum: 0,
      maximum: 65_535,
      description:
        "port of /health, /ready, /metrics, /swagger and the upload (0 picks one; the `listening` log line reports it)",
    }),
    STREAMER_SOURCE: Setting.choice(["csv", "dcgm-exporter"] as const, {
      default: "csv",
      description: "replay a CSV file, or scrape live dcgm-exporter endpoints",
    }),
    STREAMER_CSV_PATH: Setting.string({
      default: sampleCsvPath,
      minLength: 1,
      description: "CSV file replayed (re-read when it changes)",
    }),
    STREAMER_MODE: Setting.choice(["loop", "once"] as const, {
      default: "loop",
      description: "replay the CSV forever, or once and exit (once: meant for a single streamer)",
    }),
    STREAMER_RATE_ROWS_PER_S: Setting.integer({
      default: 0,
      minimum: 0,
      maximum: 10_000_000,
      description:
        "rows per second of the whole stream, shared by all streamers (loop: the schedule every streamer follows; once: this pass; dcgm-exporter: a cap on this streamer); 0 = as fast as the broker accepts, without a schedule",
    }),
    STREAMER_CATCH_UP_MS_MAX: Setting.integer({
      default: 60_000,
      minimum: 0,
      maximum: 3_600_000,
      description:
        "rows due while nobody could send them (a hand-over, a broker outage) are sent late, stamped with their due time, at most this far back; older ones are skipped and counted",
    }),
    STREAMER_BATCH_ROWS: Setting.integer({
      default: 1_000,
      minimum: 1,
      maximum: 100_000,
      description: "rows the source hands the produce loop at a time",
    }),
    STREAMER_LINGER_MS: Setting.integer({
      default: 5,
      minimum: 0,
      maximum: 10_000,
      description: "how long the producer waits to fill a record batch",
    }),
    STREAMER_BATCH_BYTES_MAX: Setting.integer({
      default: 512 * 1024,
      minimum: 1024,
      maximum: 4 * MiB,
      description:
        "a record batch to the broker seals at this size (must not exceed the broker's BROKER_BATCH_BYTES_MAX)",
    }),
    STREAMER_BUFFER_BYTES_MAX: Setting.integer({
      default: 32 * MiB,
      minimum: 64 * 1024,
      maximum: 1_024 * MiB,
      description: "records buffered and not yet acknowledged; reading waits above it (backpressure)",
    }),
    STREAMER_DELIVERY_TIMEOUT_MS: Setting.integer({
      default: 86_400_000,
      minimum: 1_000,
      maximum: 7 * 86_400_000,
      description:
        "a record the broker has not acknowledged after this long is given up (and counted); until then it is retried and the source waits",
    }),
    STREAMER_TOPIC: Setting.string({
      default: "telemetry",
      minLength: 1,
      description: "topic records are produced to",
    }),
    STREAMER_GROUP: Setting.string({
      default: "streamers",
      minLength: 1,
      description: "group the streamers split the GPUs in",
    }),
    STREAMER_HEARTBEAT_MS: Setting.integer({
      default: 600,
      minimum: 50,
      maximum: 60_000,
      description: "group heartbeat period (faster while a rebalance is under way)",
    }),
    STREAMER_SESSION_TIMEOUT_MS: Setting.integer({
      default: 2_500,
      minimum: 1_000,
      maximum: 300_000,
      description:
        "a streamer silent this long (killed, cut off) loses its GPUs to the others; a restart with the same INSTANCE_ID takes them back at once",
    }),
    STREAMER_EXPORTER_URLS: Setting.string({
      default: "http://127.0.0.1:9400/metrics",
      description: "comma-separated dcgm-exporter /metrics URLs (STREAMER_SOURCE=dcgm-exporter)",
    }),
    STREAMER_SCRAPE_INTERVAL_MS: Setting.integer({
      default: 1_000,
      minimum: 100,
      maximum: 3_600_000,
      description: "dcgm-exporter scrape period",
    }),
    STREAMER_SCRAPE_TIMEOUT_MS: Setting.integer({
      default: 5_000,
      minimum: 100,
      maximum: 600_000,
      description: "deadline of one scrape of one target",
    }),
    STREAMER_UPLOAD_BYTES_MAX: Setting.integer({
      default: 256 * MiB,
      minimum: 1_024,
      maximum: 4_096 * MiB,
      description: "largest CSV accepted by POST /api/v1/upload (413 above)",
    }),
    STREAMER_UPLOAD_SPOOL_DIR: Setting.string({
      default: "",
      description:
        "directory an upload is written to before any row is produced (all or nothing); empty: <system temp dir>/streamer-uploads",
    }),
    STREAMER_IDEMPOTENCY_KEYS_MAX: Setting.integer({
      default: 10_000,
      minimum: 1,
      maximum: 1_000_000,
      description: "upload Idempotency-Keys remembered (the oldest is forgotten first); in memory, per streamer",
    }),
    STREAMER_IDEMPOTENCY_TTL_MS: Setting.integer({
      default: 86_400_000,
      minimum: 1_000,
      maximum: 30 * 86_400_000,
      description: "how long an upload's answer is kept for a retry with the same Idempotency-Key",
    }),
    STREAMER_SHUTDOWN_TIMEOUT_MS: Setting.integer({
      default: 15_000,
      minimum: 100,
      maximum: 600_000,
      description: "graceful shutdown deadline (flush, leave the group)",
    }),
    STREAMER_UPLOAD_TOKENS: Setting.secret({
      description: `tokens with scope upload (POST /api/v1/upload): ${tokenListFormat}; with none, every upload is refused (401)`,
    }),
    STREAMER_TOKENS_DIR: Setting.string({
      default: "",
      description:
        "directory with a file `upload` listing tokens as STREAMER_UPLOAD_TOKENS does, merged with it and re-read when it changes (a mounted Secret); empty: none",
    }),
    STREAMER_TOKENS_RELOAD_MS: tokensReloadSetting,
  }),
]);
export type StreamerConfig = Static<typeof StreamerConfig>;

/** STREAMER_EXPORTER_URLS as a list, blanks dropped. */
export function exporterTargets(config: StreamerConfig): string[] {
  return config.STREAMER_EXPORTER_URLS.split(",")
    .map((url) => url.trim())
    .filter((url) => url.length > 0);
}
