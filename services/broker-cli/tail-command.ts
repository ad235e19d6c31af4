import { Admin } from "../../src/broker-client/admin.ts";
import { BrokerHttp } from "../../src/broker-client/http-client.ts";
import { type FetchedBytes, fetchPartition } from "../../src/broker-client/partition-fetch.ts";
import { forEachRecord } from "../../src/broker-protocol/record-batch.ts";
import { decodeTelemetryRecord, recordFormatTag } from "../../src/telemetry/record-codec.ts";
import { integerOption, type ParsedArgs } from "./parse-args.ts";

const fetchWaitMs = 1_000;
const fetchBytesMax = 1024 * 1024;
const decoder = new TextDecoder();

/**
 * Prints records as they arrive, one line each: partition, offset, ISO time, key,
 * value. No consumer group: it reads like Kafka's console consumer without one.
 */
export async function runTailCommand(
  brokerUrl: string,
  rest: string[],
  args: ParsedArgs,
  out: (line: string) => void,
): Promise<number> {
  const [topic] = rest;
  if (topic === undefined) throw new Error("tail: which topic?");
  const info = await new Admin({ brokerUrl }).describeTopic(topic);
  const only = integerOption(args, "partition");
  const maxRecords = integerOption(args, "max") ?? Number.POSITIVE_INFINITY;
  const fromBeginning = args.flags.has("from-beginning");
  const partitions = info.partitions.filter((p) => only === undefined || p.partition === only);
  if (partitions.length === 0) throw new Error(`topic ${topic} has no partition ${only}`);
  const http = new BrokerHttp({ brokerUrl });
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
        http,
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
  http: BrokerHttp;
  topic: string;
  partition: number;
  offset: number;
  print: (line: string) => void;
  signal: AbortSignal;
}): Promise<void> {
  let offset = options.offset;
  while (!options.signal.aborted) {
    let fetched: FetchedBytes;
    try {
      fetched = await fetchPartition(options.http, {
        topic: options.topic,
        partition: options.partition,
        offset,
        fetchBytesMax,
        waitMs: fetchWaitMs,
        signal: options.signal,
      });
    } catch (error) {
      if (options.signal.aborted) return;
      throw error;
    }
    const { bytes, nextOffset: next } = fetched;
    const from = offset;
    forEachRecord(bytes, (record) => {
      if (record.offset < from) return;
      const time = new Date(record.timestampMs).toISOString();
      options.print(
        `${options.partition}\t${record.offset}\t${time}\t${decoder.decode(record.key)}\t${renderValue(record.value)}`,
      );
    });
    if (next > offset) offset = next;
  }
}

/** A binary telemetry record prints as its JSON; any other value as UTF-8 text. */
function renderValue(value: Uint8Array): string {
  if (value[0] !== recordFormatTag) return decoder.decode(value);
  const decoded = decodeTelemetryRecord(value);
  return decoded.ok
    ? JSON.stringify(decoded.point)
    : `<${decoded.reason}: ${decoded.detail}> ${Buffer.from(value).toString("base64")}`;
}
