import { Admin } from "../../src/broker-client/admin.ts";
import type { BrokerConnection } from "../../src/broker-client/connection.ts";
import { PartitionClient, type PartitionRead } from "../../src/broker-client/partition-client.ts";
import { decodeTelemetryRecord, isBinaryRecordTag } from "../../src/telemetry/record-codec.ts";
import { integerOption, type ParsedArgs } from "./parse-args.ts";

const fetchWaitMs = 1_000;
const fetchBytesMax = 1024 * 1024;
const decoder = new TextDecoder();

/**
 * Prints records as they arrive, one line each: partition, offset, ISO time, key,
 * value. No consumer group: it reads like Kafka's console consumer without one.
 */
export async function runTailCommand(
  connection: BrokerConnection,
  rest: string[],
  args: ParsedArgs,
  out: (line: string) => void,
): Promise<number> {
  const [topic] = rest;
  if (topic === undefined) throw new Error("tail: which topic?");
  const info = await new Admin(connection).describeTopic(topic);
  const only = integerOption(args, "partition");
  const maxRecords = integerOption(args, "max") ?? Number.POSITIVE_INFINITY;
  const fromBeginning = args.flags.has("from-beginning");
  const partitions = info.partitions.filter((p) => only === undefined || p.partition === only);
  if (partitions.length === 0) throw new Error(`topic ${topic} has no partition ${only}`);
  const reader = new PartitionClient(connection);
  const stop = new AbortController();
  let printed = 0;
  const print = (line: string) => {
    if (printed >= maxRecords) return;
    out(line);
    printed += 1;
    if (printed >= maxRecords) stop.abort();
  };
  process.once("SIGINT", () => stop.abort());
  await Promise.all(
    partitions.map((p) =>
      tailPartition({
        reader,
        topic,
        partition: p.partition,
        offset: fromBeginning ? p.logStartOffset : p.highWatermark,
        print,
        signal: stop.signal,
      }),
    ),
  );
  return 0;
}

async function tailPartition(options: {
  reader: PartitionClient;
  topic: string;
  partition: number;
  offset: number;
  print: (line: string) => void;
  signal: AbortSignal;
}): Promise<void> {
  const { reader, topic, partition, signal } = options;
  let offset = options.offset;
  while (!signal.aborted) {
    let read: PartitionRead;
    try {
      read = await reader.read({ topic, partition, offset, fetchBytesMax, waitMs: fetchWaitMs, signal });
    } catch (error) {
      if (signal.aborted) return;
      throw error;
    }
    for (const record of read.records) {
      const time = new Date(record.timestampMs).toISOString();
      options.print(
        `${partition}\t${record.offset}\t${time}\t${decoder.decode(record.key)}\t${renderValue(record.value)}`,
      );
    }
    offset = read.nextOffset;
  }
}

/** A binary telemetry record prints as its JSON; any other value as UTF-8 text. */
function renderValue(value: Uint8Array): string {
  if (!isBinaryRecordTag(value[0])) return decoder.decode(value);
  const decoded = decodeTelemetryRecord(value);
  return decoded.ok
    ? JSON.stringify(decoded.point)
    : `<${decoded.reason}: ${decoded.detail}> ${Buffer.from(value).toString("base64")}`;
}
