import type { PartitionClient } from "../../src/broker-client/partition-client.ts";
import type { DecodedRecord } from "../../src/broker-protocol/record-batch.ts";

export interface PartitionTailOptions {
  io: PartitionClient;
  topic: string;
  partition: number;
  /** A record's place in the schedule, or undefined when it is not one of the schedule's rows. */
  locate: (record: DecodedRecord) => number | undefined;
  /** Records looked at, newest first, before giving up (uploads and other producers share the partition). */
  recordsMax: number;
  /** Records read per step back. */
  windowRecords: number;
  fetchBytesMax: number;
}

export interface PartitionTail {
  /** The schedule place of the newest scheduled record, when one was found. */
  place: number | undefined;
  /** Records looked at. */
  scanned: number;
}

/**
 * The newest record of a partition that belongs to the schedule, read back from the
 * partition's end. Nothing else can tell a new owner where the old one stopped after
 * a `kill -9`: the log is the truth of what was sent (acknowledged or not), and a
 * producer's retries keep a partition's records in order, so everything the old
 * owner sent before that record is there too. The old owner no longer sends: the
 * group hands a partition over only after its owner let go or its session ended.
 */
export async function readPartitionTail(options: PartitionTailOptions): Promise<PartitionTail> {
  const { io, topic, partition } = options;
  const info = await io.describeTopic(topic);
  const bounds = info.partitions.find((entry) => entry.partition === partition);
  if (bounds === undefined) throw new Error(`topic ${topic} has no partition ${partition}`);
  let end = bounds.highWatermark;
  let scanned = 0;
  while (end > bounds.logStartOffset && scanned < options.recordsMax) {
    const start = Math.max(bounds.logStartOffset, end - options.windowRecords);
    const read = await io.readRange({
      topic,
      partition,
      fromOffset: start,
      throughOffset: end - 1,
      fetchBytesMax: options.fetchBytesMax,
    });
    for (let index = read.records.length - 1; index >= 0; index -= 1) {
      scanned += 1;
      const place = options.locate(read.records[index] as DecodedRecord);
      if (place !== undefined) return { place, scanned };
    }
    end = start;
  }
  return { place: undefined, scanned };
}
