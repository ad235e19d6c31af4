import { type Static, Type } from "@sinclair/typebox";
import { isValidName } from "../../src/broker-protocol/names.ts";
import { CommonConfig } from "../../src/config/common.ts";
import { Setting } from "../../src/config/settings.ts";
import { tokenListFormat, tokensReloadSetting } from "../../src/config/token-settings.ts";

const MiB = 1024 * 1024;

/** Every setting of the broker process, read from BROKER_* environment variables. */
export const BrokerConfig = Type.Composite([
  CommonConfig,
  Type.Object({
    BROKER_HOST: Setting.string({
      default: "127.0.0.1",
      minLength: 1,
      description: "address the broker listens on (0.0.0.0 for every interface; the Helm chart sets it)",
    }),
    BROKER_PORT: Setting.integer({ default: 9092, minimum: 0, maximum: 65_535, description: "HTTP port; 0 picks one" }),
    BROKER_DATA_DIR: Setting.string({
      default: ".data/broker",
      minLength: 1,
      description: "log and offsets directory",
    }),
    BROKER_FLUSH: Setting.choice(["always", "interval", "os"] as const, {
      default: "interval",
      description: "fsync per append (always), every BROKER_FLUSH_INTERVAL_MS (interval), or never (os)",
    }),
    BROKER_FLUSH_INTERVAL_MS: Setting.integer({
      default: 1_000,
      minimum: 1,
      maximum: 600_000,
      description: "fsync period when BROKER_FLUSH=interval",
    }),
    BROKER_SEGMENT_BYTES_MAX: Setting.integer({
      default: 256 * MiB,
      minimum: 64 * 1024,
      maximum: 1024 * MiB,
      description: "roll a segment at this size",
    }),
    BROKER_SEGMENT_AGE_MS_MAX: Setting.integer({
      default: 3_600_000,
      minimum: 1_000,
      maximum: 30 * 86_400_000,
      description: "roll a segment at this age",
    }),
    BROKER_RETENTION_MS_MAX: Setting.integer({
      default: 7 * 86_400_000,
      minimum: 1_000,
      maximum: 3_650 * 86_400_000,
      description: "delete sealed segments older than this",
    }),
    BROKER_RETENTION_BYTES_MAX: Setting.integer({
      default: 0,
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description: "per-partition size cap for retention; 0 means unlimited",
    }),
    BROKER_RETENTION_CHECK_MS: Setting.integer({
      default: 60_000,
      minimum: 100,
      maximum: 3_600_000,
      description: "how often retention runs",
    }),
    BROKER_DEFAULT_PARTITIONS: Setting.integer({
      default: 12,
      minimum: 1,
      maximum: 1_024,
      description: "partitions of an auto-created topic or a create without a count",
    }),
    BROKER_AUTO_CREATE_TOPICS: Setting.boolean({ default: true, description: "create a topic on first produce" }),
    BROKER_PROTECTED_TOPICS: Setting.string({
      default: "telemetry.dlq",
      description:
        "comma-separated topics a delete refuses without force (409 topic_protected): the collectors' dead-letter topic holds the only copy of records that could not be stored",
    }),
    BROKER_FILE_DELETE_DELAY_MS: Setting.integer({
      default: 60_000,
      minimum: 0,
      maximum: 3_600_000,
      description:
        "deleted files (segments past retention, a deleted topic's directories) are renamed at once and removed this much later",
    }),
    BROKER_REQUEST_BYTES_MAX: Setting.integer({
      default: 16 * MiB,
      minimum: 1024,
      maximum: 256 * MiB,
      description: "largest produce request body (413 above)",
    }),
    BROKER_BATCH_BYTES_MAX: Setting.integer({
      default: 4 * MiB,
      minimum: 256,
      maximum: 64 * MiB,
      description: "largest record batch (413 above)",
    }),
    BROKER_IN_FLIGHT_BYTES_MAX: Setting.integer({
      default: 64 * MiB,
      minimum: 1024,
      maximum: 8 * 1024 * MiB,
      description: "memory watermark: produce bytes being appended; 429 slow_down above",
    }),
    BROKER_DISK_FREE_BYTES_MIN: Setting.integer({
      default: 256 * MiB,
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description: "disk watermark: refuse produce (503) when less is free",
    }),
    BROKER_FETCH_BYTES_MAX: Setting.integer({
      default: 8 * MiB,
      minimum: 1024,
      maximum: 1024 * MiB,
      description: "largest fetch response (a single larger batch is still returned whole)",
    }),
    BROKER_WAIT_MS_MAX: Setting.integer({
      default: 30_000,
      minimum: 0,
      maximum: 300_000,
      description: "longest fetch long-poll",
    }),
    BROKER_RETRY_AFTER_MS: Setting.integer({
      default: 100,
      minimum: 1,
      maximum: 60_000,
      description: "retry-after hint sent with slow_down",
    }),
    BROKER_GROUP_SESSION_TIMEOUT_MS: Setting.integer({
      default: 10_000,
      minimum: 1_000,
      maximum: 300_000,
      description: "evict a member silent this long (when its join names no session timeout)",
    }),
    BROKER_GROUP_EVICTION_CHECK_MS: Setting.integer({
      default: 250,
      minimum: 50,
      maximum: 60_000,
      description:
        "how often silent group members are looked for (a dead member loses its partitions within its session plus this)",
    }),
    BROKER_SHUTDOWN_TIMEOUT_MS: Setting.integer({
      default: 20_000,
      minimum: 100,
      maximum: 600_000,
      description: "graceful shutdown deadline",
    }),
    BROKER_AUTH: Setting.choice(["tokens", "none"] as const, {
      default: "tokens",
      description:
        "tokens: every route but /health, /ready, /metrics and /swagger needs a bearer token with the route's scope (at least one token must be configured); none: no check at all, warned at start-up (benchmarks, a trusted single host)",
    }),
    BROKER_TOKENS_PRODUCE: Setting.secret({
      description: `tokens with scope produce (produce, producer ids, topic metadata): ${tokenListFormat}`,
    }),
    BROKER_TOKENS_CONSUME: Setting.secret({
      description: `tokens with scope consume (group membership, fetch, commits, topic metadata): ${tokenListFormat}; an entry followed by groups=a,b works for those groups only`,
    }),
    BROKER_TOKENS_ADMIN: Setting.secret({
      description: `tokens with scope admin (create and delete topics, delete groups, offset resets, topic and group metadata): ${tokenListFormat}`,
    }),
    BROKER_TOKENS_DIR: Setting.string({
      default: "",
      description:
        "directory with a file per scope (produce, consume, admin) listing tokens as the variables do, merged with them and re-read when a file changes (a mounted Secret); empty: none",
    }),
    BROKER_TOKENS_RELOAD_MS: tokensReloadSetting,
  }),
]);
export type BrokerConfig = Static<typeof BrokerConfig>;

/** The HTTP layer's limits, named as in the issue; derived from the config. */
export interface ServerLimits {
  requestBytesMax: number;
  batchBytesMax: number;
  inFlightBytesMax: number;
  fetchBytesMax: number;
  waitMsMax: number;
  retryAfterMs: number;
  diskFreeBytesMin: number;
}

export function serverLimits(config: BrokerConfig): ServerLimits {
  return {
    requestBytesMax: config.BROKER_REQUEST_BYTES_MAX,
    batchBytesMax: config.BROKER_BATCH_BYTES_MAX,
    inFlightBytesMax: config.BROKER_IN_FLIGHT_BYTES_MAX,
    fetchBytesMax: config.BROKER_FETCH_BYTES_MAX,
    waitMsMax: config.BROKER_WAIT_MS_MAX,
    retryAfterMs: config.BROKER_RETRY_AFTER_MS,
    diskFreeBytesMin: config.BROKER_DISK_FREE_BYTES_MIN,
  };
}

/** BROKER_PROTECTED_TOPICS as names; a name no topic could have is a configuration error. */
export function protectedTopicsOf(config: BrokerConfig): ReadonlySet<string> {
  const names = config.BROKER_PROTECTED_TOPICS.split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  const invalid = names.filter((name) => !isValidName(name));
  if (invalid.length > 0) throw new Error(`BROKER_PROTECTED_TOPICS: ${invalid.join(", ")} is not a topic name`);
  return new Set(names);
}
