/**
 * A bounded fuzz of the produce path against a real broker process, with a fixed seed:
 * valid batches, bit flips, truncations, field edits with the CRC recomputed (so they
 * reach the record check), and random frames. The broker must answer every request
 * below 500 and stay up; whatever it stored must decode; and after a restart that
 * re-verifies every segment from the start, nothing is truncated and the same batches
 * read back CRC-clean.
 */
import { afterAll, expect, test } from "bun:test";
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { TopicInfo } from "../../src/broker-protocol/api-schemas.ts";
import { FetchHeader } from "../../src/broker-protocol/headers.ts";
import { encodeProduceFrames } from "../../src/broker-protocol/produce-frames.ts";
import {
  dataViewOf,
  encodeBatch,
  iterateBatches,
  verifyBatch,
  writeInt64,
} from "../../src/broker-protocol/record-batch.ts";
import { validateBatchesAndRecords } from "../../src/broker-protocol/record-validator.ts";
import { batchField, recordStart, reseal } from "../support/batch-surgery.ts";
import { type BrokerProcess, startBroker } from "../support/broker-process.ts";
import { SeededRandom } from "../support/seeded-random.ts";
import { brokerFetch } from "../support/test-tokens.ts";

const seed = 0x5eed_1301;
const requestCount = 20_000;
const concurrency = 8;
const topic = "fuzzed";
const partitionCount = 4;

const random = new SeededRandom(seed);
const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

function validBatch(): Uint8Array {
  const count = random.int(1, 12);
  const baseMs = 1_700_000_000_000 + random.int(0, 1_000_000);
  const records = Array.from({ length: count }, (_, index) => ({
    key: `GPU-${random.int(0, 300)}`,
    value: random.bytes(random.int(0, 80)),
    timestampMs: baseMs + random.int(-500, 500) + index,
  }));
  return encodeBatch({ records, producerId: -1, baseSequence: -1, nowMs: baseMs });
}

type Mutation = (batch: Uint8Array) => Uint8Array;

/** Applies `edit` to the batch's bytes and recomputes the CRC (and the length) over the result. */
function resealAfter(batch: Uint8Array, edit: (view: DataView) => void): Uint8Array {
  edit(dataViewOf(batch));
  return reseal(batch);
}

/** Edits a field behind the CRC, then recomputes it: only the record check can refuse these. */
const resealed: Mutation[] = [
  (b) => resealAfter(b, (v) => v.setUint32(recordStart(b, 0), random.int(0, 0xffff_ffff), true)),
  (b) => resealAfter(b, (v) => v.setUint16(recordStart(b, 0) + 8, random.int(0, 0xffff), true)),
  (b) => resealAfter(b, (v) => v.setInt32(recordStart(b, 0) + 4, random.int(-(2 ** 31), 2 ** 31 - 1), true)),
  (b) =>
    resealAfter(b, (v) => {
      const count = random.int(0, 40);
      v.setUint32(batchField.recordCount, count, true);
      v.setUint32(19, Math.max(0, count - 1), true);
    }),
  (b) => resealAfter(b, (v) => writeInt64(v, batchField.maxTimestampMs, random.int(0, 2 ** 45))),
  (b) => resealAfter(b, (v) => writeInt64(v, batchField.firstTimestampMs, random.int(-(2 ** 40), 2 ** 50))),
  (b) => resealAfter(b, (v) => writeInt64(v, batchField.producerId, random.int(0, 2 ** 40))),
  (b) => reseal(new Uint8Array([...b, ...random.bytes(random.int(1, 30))])),
  (b) => reseal(b.slice(0, random.int(55, b.byteLength - 1))),
  (b) =>
    resealAfter(b, () => {
      b[random.int(55, b.byteLength - 1)] = random.int(0, 255);
    }),
];

/** Edits the CRC does not cover or that break it: the header and CRC checks refuse these. */
const raw: Mutation[] = [
  (b) => {
    const at = random.int(0, b.byteLength - 1);
    b[at] = (b[at] ?? 0) ^ (1 << random.int(0, 7));
    return b;
  },
  (b) => b.slice(0, random.int(0, b.byteLength - 1)),
  (b) => {
    dataViewOf(b).setUint32(batchField.batchLength, random.int(0, 0xffff_ffff), true);
    return b;
  },
  () => random.bytes(random.int(1, 200)),
];

function frames(): Uint8Array {
  const kind = random.next();
  if (kind < 0.05) return random.bytes(random.int(0, 300));
  const count = random.int(1, 3);
  const list = Array.from({ length: count }, () => {
    const roll = random.next();
    let batch = validBatch();
    if (roll < 0.5) batch = random.pick(resealed)(batch);
    else if (roll < 0.85) batch = random.pick(raw)(batch);
    const partition = random.next() < 0.05 ? random.int(0, 70_000) : random.int(0, partitionCount - 1);
    return { partition: Math.min(partition, 65_535), batch: batch.byteLength === 0 ? validBatch() : batch };
  });
  const body = encodeProduceFrames(list);
  if (random.next() < 0.05) return body.slice(0, random.int(0, body.byteLength));
  if (random.next() < 0.03) dataViewOf(body).setUint32(4, random.int(0, 0xffff_ffff));
  return body;
}

async function readAll(
  url: string,
): Promise<{ batches: number; records: number; crcClean: boolean; watermarks: number[] }> {
  const info = (await (await brokerFetch(`${url}/v1/topics/${topic}`)).json()) as TopicInfo;
  let batches = 0;
  let records = 0;
  let crcClean = true;
  for (const partition of info.partitions) {
    let offset = partition.logStartOffset;
    while (offset < partition.highWatermark) {
      const response = await brokerFetch(
        `${url}/v1/topics/${topic}/partitions/${partition.partition}/fetch?offset=${offset}`,
      );
      const bytes = new Uint8Array(await response.arrayBuffer());
      for (const batch of validateBatchesAndRecords(bytes, { batchBytesMax: 64 * 1024 * 1024, batchesMax: 100_000 })) {
        batches += 1;
        records += batch.header.recordCount;
        if (!verifyBatch(bytes, batch.position, batch.sizeBytes)) crcClean = false;
      }
      for (const batch of iterateBatches(bytes)) offset = batch.header.baseOffset + batch.header.lastOffsetDelta + 1;
      offset = Math.max(offset, Number(response.headers.get(FetchHeader.nextOffset)));
    }
  }
  return { batches, records, crcClean, watermarks: info.partitions.map((partition) => partition.highWatermark) };
}

test(`${requestCount} fuzzed produce requests (seed ${seed}): no 5xx, no crash, stored batches decode, CRC-clean after a full re-verify`, async () => {
  let broker: BrokerProcess = await startBroker({ keepDataDir: true, env: { BROKER_AUTO_CREATE_TOPICS: "false" } });
  const dataDir = broker.dataDir;
  cleanup.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  const created = await brokerFetch(`${broker.url}/v1/topics`, {
    method: "POST",
    body: JSON.stringify({ name: topic, partitions: partitionCount }),
    headers: { "content-type": "application/json" },
  });
  expect(created.status).toBe(201);
  const bodies = Array.from({ length: requestCount }, frames);
  const statuses = new Map<number, number>();
  const serverErrors: string[] = [];
  /** Refusals only the record check could make (the CRC was right). */
  let recordRefusals = 0;
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < bodies.length; index = next++) {
      const response = await brokerFetch(`${broker.url}/v1/topics/${topic}/produce`, {
        method: "POST",
        body: bodies[index],
      });
      const text = await response.text();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      if (response.status >= 500) serverErrors.push(`request ${index}: ${response.status} ${text.slice(0, 200)}`);
      if (response.status === 400 && /: record \d+:|bytes left after|largest record timestamp|Timestamp/.test(text)) {
        recordRefusals += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  expect(serverErrors).toEqual([]);
  expect(statuses.get(200) ?? 0).toBeGreaterThan(requestCount / 20);
  expect(statuses.get(400) ?? 0).toBeGreaterThan(requestCount / 2);
  expect(recordRefusals).toBeGreaterThan(requestCount / 10);
  expect((await fetch(`${broker.url}/health`)).status).toBe(200);
  const before = await readAll(broker.url);
  expect(before.crcClean).toBe(true);
  expect(before.batches).toBeGreaterThan(0);

  expect(await broker.stop()).toBe(0);
  // Without the recovery points the loader re-verifies every batch of every segment.
  for (const partition of readdirSync(join(dataDir, "log")).filter((name) => name.startsWith(`${topic}-`))) {
    rmSync(join(dataDir, "log", partition, "recovery-point"), { force: true });
  }
  broker = await startBroker({ dataDir, env: { BROKER_AUTO_CREATE_TOPICS: "false" } });
  cleanup.push(() => broker.stop());
  const after = await readAll(broker.url);
  expect(after).toEqual(before);
  expect(broker.logs().some((line) => line.includes("recovery truncated the log tail"))).toBe(false);
  process.stdout.write(
    `broker produce fuzz: ${requestCount} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))} (${recordRefusals} refused by the record check), ${before.batches} batches stored\n`,
  );
}, 120_000);
