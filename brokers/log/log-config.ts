import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";

/**
 * Storage limits and policies. A topic may override the per-topic subset
 * (TopicOverrides); the rest is broker-wide.
 *
 * Durability (`flush`), what survives what:
 *
 * | flush      | kill -9 of the broker                  | power loss / kernel crash                        |
 * | ---------- | -------------------------------------- | ------------------------------------------------ |
 * | `always`   | every acknowledged append (and more)   | every acknowledged append                        |
 * | `interval` | every acknowledged append (and more)   | all but the last `flushIntervalMs` of appends    |
 * | `os`       | every acknowledged append (and more)   | whatever the kernel had written back (≈30 s lag) |
 *
 * A kill -9 loses nothing in any mode: an append is acknowledged only after its
 * write() returned, and the page cache belongs to the kernel, not to the process.
 * `always` acknowledges only after fsync; concurrent appends share one fsync (group
 * commit), so its cost is per fsync, not per append. `interval` fsyncs every
 * `flushIntervalMs` in the background. `os` never fsyncs on the append path.
 * In every mode a segment is fsynced (in the background) when it rolls, and all
 * partitions on a clean shutdown, so recovery only has to re-read from the
 * recovery point (the last fsynced offset, checkpointed every checkpointIntervalMs).
 * After any crash, recovery truncates a torn or corrupt tail, so a batch is either
 * whole and CRC-valid or absent; it never serves half a batch.
 *
 * Readers see a batch as soon as its write() returned, before its fsync: under
 * `always`, a consumer may read a record whose producer is still waiting for the
 * ack, and a power loss at that instant can lose it (the producer, never acked,
 * retries it).
 */
export const FlushPolicy = Type.Union([Type.Literal("always"), Type.Literal("interval"), Type.Literal("os")]);
export type FlushPolicy = Static<typeof FlushPolicy>;

const MiB = 1024 * 1024;
const dayMs = 24 * 60 * 60 * 1000;

export const TopicOverrides = Type.Object(
  {
    segmentBytesMax: Type.Optional(Type.Integer({ minimum: 4096, maximum: 1024 * MiB })),
    segmentMsMax: Type.Optional(Type.Integer({ minimum: 1, maximum: 365 * dayMs })),
    /** -1 = keep forever. */
    retentionMs: Type.Optional(Type.Integer({ minimum: -1 })),
    /** -1 = no size bound. Per partition, as in Kafka. */
    retentionBytes: Type.Optional(Type.Integer({ minimum: -1 })),
  },
  { additionalProperties: false },
);
export type TopicOverrides = Static<typeof TopicOverrides>;

export const LogConfig = Type.Object(
  {
    /** A segment rolls before an append would take it past this size. */
    segmentBytesMax: Type.Integer({ minimum: 4096, maximum: 1024 * MiB, default: 256 * MiB }),
    /** A segment rolls once its first batch is older than this. */
    segmentMsMax: Type.Integer({ minimum: 1, maximum: 365 * dayMs, default: 7 * dayMs }),
    /** Preallocated size of each .index / .timeindex file; a full index rolls the segment. */
    indexBytesMax: Type.Integer({ minimum: 4096, maximum: 64 * MiB, default: 10 * MiB }),
    /** One index entry per this many log bytes (sparse index). */
    indexIntervalBytes: Type.Integer({ minimum: 1, maximum: 16 * MiB, default: 4096 }),
    retentionMs: Type.Integer({ minimum: -1, default: 7 * dayMs }),
    retentionBytes: Type.Integer({ minimum: -1, default: -1 }),
    /** Largest batch accepted (header included). */
    batchBytesMax: Type.Integer({ minimum: 1024, maximum: 64 * MiB, default: 8 * MiB }),
    /** Largest single append call (one or more batches); must not exceed segmentBytesMax. */
    appendBytesMax: Type.Integer({ minimum: 1024, maximum: 256 * MiB, default: 16 * MiB }),
    /** Batches in one append call. */
    appendBatchesMax: Type.Integer({ minimum: 1, maximum: 65_536, default: 1024 }),
    /** A read returns at most this many bytes (or one batch, if that is larger): larger requests are clamped. */
    readBytesMax: Type.Integer({ minimum: 1024, maximum: 256 * MiB, default: 16 * MiB }),
    partitionsPerTopicMax: Type.Integer({ minimum: 1, maximum: 65_536, default: 1024 }),
    topicsMax: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000 }),
    flush: Type.Union([Type.Literal("always"), Type.Literal("interval"), Type.Literal("os")], { default: "always" }),
    flushIntervalMs: Type.Integer({ minimum: 1, maximum: 3_600_000, default: 1000 }),
    /** How often the recovery point and producer-state snapshot are checkpointed. */
    checkpointIntervalMs: Type.Integer({ minimum: 10, maximum: 3_600_000, default: 10_000 }),
    /** Deleted segments are renamed to *.deleted and unlinked this much later. */
    fileDeleteDelayMs: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 60_000 }),
    /** Producer ids remembered per partition for idempotence; the least recently used is forgotten. */
    producerIdsMax: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 }),
    /** Long-poll waiters per partition. */
    appendWaitersMax: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 }),
    waitMsMax: Type.Integer({ minimum: 0, maximum: 600_000, default: 30_000 }),
  },
  { additionalProperties: false },
);
export type LogConfig = Static<typeof LogConfig>;

/** The defaults of LogConfig, with `overrides` applied; throws naming the bad field. */
export function makeLogConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  const config = Value.Default(LogConfig, { ...overrides }) as LogConfig;
  // Defaults follow an explicitly small segment size instead of contradicting it.
  if (overrides.appendBytesMax === undefined)
    config.appendBytesMax = Math.min(config.appendBytesMax, config.segmentBytesMax);
  if (overrides.batchBytesMax === undefined)
    config.batchBytesMax = Math.min(config.batchBytesMax, config.appendBytesMax);
  assertValid(LogConfig, config, "log config");
  if (config.appendBytesMax > config.segmentBytesMax) {
    throw new Error(`appendBytesMax ${config.appendBytesMax} exceeds segmentBytesMax ${config.segmentBytesMax}`);
  }
  if (config.batchBytesMax > config.appendBytesMax) {
    throw new Error(`batchBytesMax ${config.batchBytesMax} exceeds appendBytesMax ${config.appendBytesMax}`);
  }
  return config;
}

/** The effective config of one topic: broker-wide settings with the topic's overrides on top. */
export function topicConfig(base: LogConfig, overrides: TopicOverrides): LogConfig {
  const merged = { ...base, ...overrides };
  if (merged.appendBytesMax > merged.segmentBytesMax) merged.appendBytesMax = merged.segmentBytesMax;
  if (merged.batchBytesMax > merged.appendBytesMax) merged.batchBytesMax = merged.appendBytesMax;
  return merged;
}

export function assertValid<T extends Parameters<typeof Value.Check>[0]>(
  schema: T,
  value: unknown,
  what: string,
): void {
  if (Value.Check(schema, value)) return;
  const first = Value.Errors(schema, value).First();
  const where = first === undefined ? "" : `${first.path || "/"}: ${first.message}`;
  throw new Error(`invalid ${what}: ${where}`);
}
