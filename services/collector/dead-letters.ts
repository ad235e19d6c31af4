import { type Static, Type } from "@sinclair/typebox";
import type { Producer } from "../../src/broker-client/producer.ts";
import type { Logger } from "../../src/observability/logger.ts";
import { isJsonRecord, RecordRejectionReason } from "../../src/telemetry/record-codec.ts";
import type { CollectorMetrics } from "./metrics.ts";

/** Characters of the original value kept in a dead letter. */
export const deadLetterValueLengthMax = 65_536;
/**
 * Bytes of a set-aside batch kept in its dead letter (base64 makes it 4/3 larger; the
 * dead-letter producer's batches must hold it). A larger batch keeps its first bytes.
 */
export const deadLetterBatchBytesMax = 1024 * 1024;

/** A whole stored batch whose records could not be decoded (stored-batches.ts). */
export const undecodableBatchReason = "undecodable_batch";

/** The dead-letter record's value: why, where it came from, and the original value. */
export const DeadLetter = Type.Object(
  {
    reason: Type.Union([RecordRejectionReason, Type.Literal(undecodableBatchReason)]),
    detail: Type.String(),
    topic: Type.String(),
    partition: Type.Integer({ minimum: 0 }),
    offset: Type.Integer({ minimum: 0 }),
    lastOffset: Type.Optional(
      Type.Integer({ minimum: 0, description: "undecodable_batch: the batch's last offset (offset is its first)" }),
    ),
    batchSizeBytes: Type.Optional(
      Type.Integer({ minimum: 0, description: "undecodable_batch: the stored batch's size; value holds it as base64" }),
    ),
    truncated: Type.Optional(
      Type.Boolean({ description: "undecodable_batch: value holds only the first deadLetterBatchBytesMax bytes" }),
    ),
    key: Type.String({ description: "the source record's key (GPU UUID), UTF-8 decoded" }),
    value: Type.String({ description: "the source record's value in valueEncoding, truncated" }),
    valueEncoding: Type.Union([Type.Literal("utf8"), Type.Literal("base64")], {
      description: "utf8 for a JSON record (invalid bytes replaced), base64 for a binary one",
    }),
    deadLetteredAtMs: Type.Integer({ minimum: 0 }),
  },
  { $id: "DeadLetter", additionalProperties: false },
);
export type DeadLetter = Static<typeof DeadLetter>;

const lossyDecoder = new TextDecoder("utf-8", { fatal: false });

export function deadLetterOf(options: {
  reason: RecordRejectionReason;
  detail: string;
  topic: string;
  partition: number;
  offset: number;
  key: Uint8Array;
  value: Uint8Array;
  nowMs: number;
}): DeadLetter {
  return {
    reason: options.reason,
    detail: options.detail,
    topic: options.topic,
    partition: options.partition,
    offset: options.offset,
    key: lossyDecoder.decode(options.key),
    ...readableValue(options.value),
    deadLetteredAtMs: options.nowMs,
  };
}

/** A set-aside batch as one dead letter: its offsets, the reason, and its bytes (base64). */
export function batchDeadLetterOf(options: {
  topic: string;
  partition: number;
  baseOffset: number;
  lastOffset: number;
  problem: string;
  bytes: Uint8Array;
  nowMs: number;
}): DeadLetter {
  const kept = options.bytes.subarray(0, deadLetterBatchBytesMax);
  return {
    reason: undecodableBatchReason,
    detail: `batch of offsets ${options.baseOffset}..${options.lastOffset} cannot be decoded: ${options.problem}`,
    topic: options.topic,
    partition: options.partition,
    offset: options.baseOffset,
    lastOffset: options.lastOffset,
    batchSizeBytes: options.bytes.byteLength,
    truncated: kept.byteLength < options.bytes.byteLength,
    key: "",
    value: Buffer.from(kept.buffer, kept.byteOffset, kept.byteLength).toString("base64"),
    valueEncoding: "base64",
    deadLetteredAtMs: options.nowMs,
  };
}

/** JSON records stay readable text; binary ones (and anything else) are kept exactly, as base64. */
function readableValue(value: Uint8Array): Pick<DeadLetter, "value" | "valueEncoding"> {
  if (isJsonRecord(value))
    return { value: lossyDecoder.decode(value).slice(0, deadLetterValueLengthMax), valueEncoding: "utf8" };
  return { value: Buffer.from(value).toString("base64").slice(0, deadLetterValueLengthMax), valueEncoding: "base64" };
}

/**
 * Sends bad records to the dead-letter topic and waits for the broker's ack, so a
 * batch's offsets are committed only once its bad records are safe there. A replay
 * of an uncommitted batch sends them again: the dead-letter topic is at-least-once.
 */
export class DeadLetterSink {
  constructor(
    private readonly producer: Producer,
    private readonly metrics: CollectorMetrics,
    private readonly logger: Logger,
  ) {}

  async send(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    for (const letter of letters) {
      await this.producer.send({
        key: letter.key === "" ? `${letter.topic}/${letter.partition}` : letter.key,
        value: JSON.stringify(letter),
      });
    }
    await this.producer.flush();
    for (const letter of letters) {
      this.metrics.deadLetters.inc({ reason: letter.reason });
      this.logger.warn(
        {
          reason: letter.reason,
          detail: letter.detail,
          topic: letter.topic,
          partition: letter.partition,
          offset: letter.offset,
          ...(letter.lastOffset === undefined ? {} : { lastOffset: letter.lastOffset }),
        },
        "record sent to the dead-letter topic",
      );
    }
  }
}
