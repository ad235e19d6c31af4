import type { TopicInfo } from "../../../src/broker-protocol/api-schemas.ts";
import { FetchHeader } from "../../../src/broker-protocol/headers.ts";
import { forEachRecord } from "../../../src/broker-protocol/record-batch.ts";
import { brokerFetch } from "../../support/test-tokens.ts";

export interface ReadRecord {
  partition: number;
  offset: number;
  key: string;
  value: string;
}

const decoder = new TextDecoder();

/** Every record of a topic, partition by partition, read over HTTP (a test's ground truth). */
export async function readAll(brokerUrl: string, topic: string): Promise<ReadRecord[]> {
  const info = (await (await brokerFetch(`${brokerUrl}/v1/topics/${topic}`)).json()) as TopicInfo;
  const records: ReadRecord[] = [];
  for (const partitionInfo of info.partitions) {
    let offset = partitionInfo.logStartOffset;
    while (offset < partitionInfo.highWatermark) {
      const response = await brokerFetch(
        `${brokerUrl}/v1/topics/${topic}/partitions/${partitionInfo.partition}/fetch?offset=${offset}`,
      );
      if (response.status !== 200)
        throw new Error(`fetch ${topic}/${partitionInfo.partition}@${offset}: ${response.status}`);
      const from = offset;
      forEachRecord(new Uint8Array(await response.arrayBuffer()), (record) => {
        if (record.offset < from) return;
        records.push({
          partition: partitionInfo.partition,
          offset: record.offset,
          key: decoder.decode(record.key),
          value: decoder.decode(record.value),
        });
      });
      offset = Number(response.headers.get(FetchHeader.nextOffset));
    }
  }
  return records;
}
