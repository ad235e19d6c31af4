import type { TopicInfo } from "../../../src/broker-protocol/api-schemas.ts";
import { FetchHeader } from "../../../src/broker-protocol/headers.ts";
import { forEachRecord, iterateBatches } from "../../../src/broker-protocol/record-batch.ts";
import { brokerFetch } from "../../support/test-tokens.ts";

/** One record read back from the broker, with the producer id of the batch that carried it. */
export interface TopicRecord {
  partition: number;
  offset: number;
  key: string;
  value: Uint8Array;
  timestampMs: number;
  producerId: number;
}

/** Fetches bounded in one test read: far above any test's record count. */
const fetchesMax = 100_000;
const decoder = new TextDecoder();

/** Every record of `topic` from offset 0 to the high watermark, partition by partition. */
export async function readTopic(brokerUrl: string, topic: string): Promise<TopicRecord[]> {
  const info = (await (await brokerFetch(`${brokerUrl}/v1/topics/${topic}`)).json()) as TopicInfo;
  const records: TopicRecord[] = [];
  for (const partition of info.partitions) {
    records.push(...(await readPartition(brokerUrl, topic, partition.partition, partition.highWatermark)));
  }
  return records;
}

async function readPartition(
  brokerUrl: string,
  topic: string,
  partition: number,
  endOffset: number,
): Promise<TopicRecord[]> {
  const records: TopicRecord[] = [];
  let offset = 0;
  for (let fetches = 0; offset < endOffset; fetches += 1) {
    if (fetches >= fetchesMax) throw new Error(`${topic}/${partition}: more than ${fetchesMax} fetches`);
    const url = `${brokerUrl}/v1/topics/${topic}/partitions/${partition}/fetch?offset=${offset}&max_bytes=4194304&wait_ms=0`;
    const response = await brokerFetch(url);
    if (!response.ok) throw new Error(`fetch ${url}: ${response.status} ${await response.text()}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    for (const batch of iterateBatches(bytes)) {
      const batchBytes = bytes.subarray(batch.position, batch.position + batch.sizeBytes);
      forEachRecord(batchBytes, (record) => {
        if (record.offset < offset || record.offset >= endOffset) return;
        records.push({
          partition,
          offset: record.offset,
          key: decoder.decode(record.key),
          value: record.value.slice(),
          timestampMs: record.timestampMs,
          producerId: batch.header.producerId,
        });
      });
    }
    const next = Number(response.headers.get(FetchHeader.nextOffset));
    if (!(next > offset)) throw new Error(`${topic}/${partition}: fetch at ${offset} did not advance (next ${next})`);
    offset = next;
  }
  return records;
}
