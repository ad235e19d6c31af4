import { RowBinaryWriter, writeInt64 } from "../telemetry/row-binary.ts";

/**
 * The datapoints columns that say where a row came from (schema 0006): the broker
 * topic, its incarnation, the partition and the offset of the record. A collector
 * writes them after each record's row (the record itself stays as the streamer wrote
 * it), so they follow `recordColumns` in the insert's column list.
 */
export const sourceColumns = ["src_topic", "src_topic_id", "src_partition", "src_offset"] as const;

/** A topic, as the broker knows it: a name is reused when a topic is recreated, the id is not. */
export interface SourceTopic {
  name: string;
  /** The broker's creation time of the topic, in ms: a recreated topic (or a fresh broker disk) gets a new one. */
  id: number;
}

/** Bytes of (partition UInt16, offset UInt64) after the topic's fixed part. */
const partitionOffsetBytes = 10;
const partitionMax = 0xffff;
const topicBytesMax = 1024;

/**
 * Writes the source columns of one topic's rows: the topic name and id are the same
 * for every row, so they are encoded once; each row adds its partition and offset.
 */
export class SourceSuffix {
  /** src_topic (String) and src_topic_id (UInt64) as RowBinary. */
  private readonly topicBytes: Uint8Array;
  readonly bytesPerRow: number;

  constructor(readonly topic: SourceTopic) {
    if (!Number.isSafeInteger(topic.id) || topic.id < 0) throw new RangeError(`topic id ${topic.id} of ${topic.name}`);
    const writer = new RowBinaryWriter(topicBytesMax);
    writer.string(topic.name);
    writer.int64(topic.id);
    this.topicBytes = writer.take();
    this.bytesPerRow = this.topicBytes.byteLength + partitionOffsetBytes;
  }

  /** Writes the suffix of the row of `partition`/`offset` at `position` of `body`; returns the position after it. */
  write(body: Uint8Array, view: DataView, position: number, partition: number, offset: number): number {
    if (!Number.isInteger(partition) || partition < 0 || partition > partitionMax)
      throw new RangeError(`partition ${partition} outside 0..${partitionMax}`);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`offset ${offset} is not a safe integer`);
    body.set(this.topicBytes, position);
    let at = position + this.topicBytes.byteLength;
    view.setUint16(at, partition, true);
    at += 2;
    writeInt64(view, at, offset);
    return at + 8;
  }
}
