import { Admin } from "../../src/broker-client/admin.ts";
import { PartitionClient, type PartitionRead } from "../../src/broker-client/partition-client.ts";
import { decodeTelemetryRecord, isBinaryRecordTag } from "../../src/telemetry/record-codec.ts";
import { type Command, integerFlag, operand, switchFlag } from "./cli-context.ts";

const fetchWaitMs = 1_000;
const fetchBytesMax = 1024 * 1024;
const decoder = new TextDecoder();

/** One record as tail prints it. */
interface TailedRecord {
  partition: number;
  offset: number;
  timestamp: string;
  key: string;
  /** A telemetry record decoded, else the value as text. */
  value: unknown;
}

/**
 * Prints records as they arrive: partition, offset, ISO time, key, value, tab-separated
 * (with --output json, one JSON object per record and line). No consumer group: it
 * reads like Kafka's console consumer without one.
 */
export const tailCommand: Command = {
  words: ["tail"],
  operands: ["topic"],
  flags: {
    "from-beginning": { kind: "switch", help: "start at the first offset stored (default: at the end, new records)" },
    partition: { kind: "integer", value: "P", help: "only partition P" },
    max: { kind: "integer", value: "N", alias: "max-messages", help: "stop after N records" },
  },
  summary: "print a topic's records as they arrive (--output json: one JSON object per line)",
  async run(context) {
    const topic = operand(context, "topic");
    const info = await new Admin(context.connection).describeTopic(topic);
    const only = integerFlag(context, "partition");
    const maxRecords = integerFlag(context, "max") ?? Number.POSITIVE_INFINITY;
    const fromBeginning = switchFlag(context, "from-beginning");
    const partitions = info.partitions.filter((p) => only === undefined || p.partition === only);
    if (partitions.length === 0) throw new Error(`topic ${topic} has no partition ${only}`);
    const stop = new AbortController();
    let printed = 0;
    const print = (record: TailedRecord) => {
      if (printed >= maxRecords) return;
      context.out(context.json ? JSON.stringify(record) : textLine(record));
      printed += 1;
      if (printed >= maxRecords) stop.abort();
    };
    if (maxRecords === 0) return 0;
    process.once("SIGINT", () => stop.abort());
    const reader = new PartitionClient(context.connection);
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
  },
};

async function tailPartition(options: {
  reader: PartitionClient;
  topic: string;
  partition: number;
  offset: number;
  print: (record: TailedRecord) => void;
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
      options.print({
        partition,
        offset: record.offset,
        timestamp: new Date(record.timestampMs).toISOString(),
        key: decoder.decode(record.key),
        value: decodedValue(record.value),
      });
    }
    offset = read.nextOffset;
  }
}

function textLine(record: TailedRecord): string {
  const value = typeof record.value === "string" ? record.value : JSON.stringify(record.value);
  return `${record.partition}\t${record.offset}\t${record.timestamp}\t${record.key}\t${value}`;
}

/** A binary telemetry record as its JSON object; any other value as UTF-8 text. */
function decodedValue(value: Uint8Array): unknown {
  if (!isBinaryRecordTag(value[0])) return decoder.decode(value);
  const decoded = decodeTelemetryRecord(value);
  return decoded.ok ? decoded.point : `<${decoded.reason}: ${decoded.detail}> ${Buffer.from(value).toString("base64")}`;
}
