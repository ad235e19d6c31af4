import { type Static, Type } from "@sinclair/typebox";
import type { Producer } from "../../src/broker-client/producer.ts";
import type { Logger } from "../../src/observability/logger.ts";
import { isJsonRecord, RecordRejectionReason } from "../../src/telemetry/record-codec.ts";
import type { CollectorMetrics } from "./metrics.ts";

/** Characters of the original value kept in a dead letter. */
export const deadLetterValueLengthMax = 65_536;

/** The dead-letter record's value: why, where it came from, and the original value. */
export const DeadLetter = Type.Object(
  {
    reason: RecordRejectionReason,
    detail: Type.String(),
    topic: Type.String(),
    partition: Type.Integer({ minimum: 0 }),
    offset: Type.Integer({ minimum: 0 }),
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
        },
        "record sent to the dead-letter topic",
      );
    }
  }
}
