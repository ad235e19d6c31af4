/**
 * Redis Streams as a broker-bench peer: Debian's redis-server on a fresh dir with
 * persistence comparable to our `interval` flush — `appendonly yes` and
 * `appendfsync everysec` (the AOF is written per command and fsynced once a
 * second), RDB snapshots off (`save ""`), AOF rewrite at its defaults. Clients
 * are Bun's built-in RedisClient, which pipelines commands sent without awaiting.
 *
 * Partitions map to streams: a record goes to the stream `<stream>:<partition>`
 * (12 of them, the partition from the same murmur2 partitioner as our producer)
 * as `XADD <stream>:<p> * <key> <value>` (the key as the entry's one field name). Producing keeps at most
 * `addsPendingMax` XADDs in flight. Consuming: a fresh group created at id 0 on
 * all 12 streams, then `XREADGROUP COUNT n [BLOCK ms] STREAMS <12 streams> >` in a
 * loop on its own connection, each batch acknowledged with one pipelined XACK per
 * stream.
 */
import { RedisClient } from "bun";
import { createPartitioner } from "../../../src/broker-protocol/partitioner.ts";
import { pacedSends } from "./paced-sends.ts";
import type { BenchPeer, BenchRecord, PeerProcessStats } from "./peer.ts";
import { sendWindowed } from "./send-window.ts";
import { type ServerProcess, startServer } from "./server-process.ts";

const partitionCount = 12;
/** XADDs sent and not yet answered at once; past it the producer waits for the window. */
const addsPendingMax = 2_048;
/** Entries one XREADGROUP takes from each stream (12 streams a read); 200–1,000 measured alike, 5,000 slower. */
const readEntriesPerStreamMax = 250;
/** How long one XREADGROUP waits for new entries when the streams are drained. */
const readBlockMs = 200;
/** Reads in a row that return nothing before the consumer gives up (readBlockMs each). */
const emptyReadsMax = 150;

/** XREADGROUP's reply under RESP3: stream name → [entry id, [field, value, ...]][]. */
type StreamEntries = Record<string, [string, string[]][]>;

export function redisPeer(options: { binary: string }): BenchPeer {
  let server: ServerProcess | undefined;
  let producerClient: RedisClient | undefined;
  let peakRss = 0;
  const partitionOf = createPartitioner(partitionCount);
  const sampleRss = async () => {
    if (server !== undefined) peakRss = Math.max(peakRss, await server.samplePeakRss());
  };
  const url = () => `redis://127.0.0.1:${server?.port ?? 0}`;
  const add = (client: RedisClient, stream: string, record: BenchRecord): Promise<unknown> =>
    // Bun sends byte arguments as they are; its typings only list strings.
    client.send("XADD", [`${stream}:${partitionOf(record.key)}`, "*", record.key, record.value] as unknown as string[]);
  const producer = () => {
    if (producerClient === undefined) throw new Error("redis peer used before start()");
    return producerClient;
  };

  return {
    name: "redis",
    async start() {
      server = await startServer({
        name: "redis",
        argv: (port, dataDir) => [
          options.binary,
          "--bind",
          "127.0.0.1",
          "--port",
          String(port),
          "--dir",
          dataDir,
          "--appendonly",
          "yes",
          "--appendfsync",
          "everysec",
          "--save",
          "",
          "--daemonize",
          "no",
        ],
      });
      producerClient = new RedisClient(url());
      await producerClient.connect();
    },
    async produce(stream, records, count) {
      const client = producer();
      await sendWindowed(count, addsPendingMax, (index) => add(client, stream, records(index)));
      await sampleRss();
    },
    async consume(stream, count) {
      const client = new RedisClient(url());
      try {
        await client.connect();
        await consumeFromStart(client, stream, count);
      } finally {
        client.close();
      }
      await sampleRss();
    },
    async produceAtRate(stream, records, ratePerSecond, seconds) {
      const client = producer();
      const latencies = await pacedSends(ratePerSecond, seconds, (index) => add(client, stream, records(index)));
      await sampleRss();
      return latencies;
    },
    stats(): PeerProcessStats {
      return { peakRssBytes: peakRss };
    },
    async stop() {
      await sampleRss();
      producerClient?.close();
      await server?.stop();
    },
  };
}

async function consumeFromStart(client: RedisClient, stream: string, count: number): Promise<void> {
  const group = `bench-${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
  const keys = Array.from({ length: partitionCount }, (_, partition) => `${stream}:${partition}`);
  await Promise.all(keys.map((key) => client.send("XGROUP", ["CREATE", key, group, "0", "MKSTREAM"])));
  const readArgs = [
    "GROUP",
    group,
    "bench",
    "COUNT",
    String(readEntriesPerStreamMax),
    "BLOCK",
    String(readBlockMs),
    "STREAMS",
    ...keys,
    ...keys.map(() => ">"),
  ];
  const acks: Promise<unknown>[] = [];
  let seen = 0;
  let emptyReads = 0;
  while (seen < count) {
    const reply = (await client.send("XREADGROUP", readArgs)) as StreamEntries | null;
    const read = reply === null ? 0 : acknowledge(client, group, reply, acks);
    emptyReads = read === 0 ? emptyReads + 1 : 0;
    if (emptyReads > emptyReadsMax) {
      throw new Error(
        `redis group ${group} on ${stream}: no entries for ${emptyReadsMax * readBlockMs} ms after ${seen} of ${count}`,
      );
    }
    seen += read;
    // The XACKs of the last batch ride the pipeline; wait for all but let them overlap reads.
    if (acks.length >= partitionCount * 4) await Promise.all(acks.splice(0));
  }
  await Promise.all(acks);
}

/** Queues one XACK per stream in `reply` (not awaited) and returns the entries read. */
function acknowledge(client: RedisClient, group: string, reply: StreamEntries, acks: Promise<unknown>[]): number {
  let read = 0;
  let bytes = 0;
  for (const [key, entries] of Object.entries(reply)) {
    if (entries.length === 0) continue;
    read += entries.length;
    for (const [, fields] of entries) bytes += fields[1]?.length ?? 0;
    acks.push(client.send("XACK", [key, group, ...entries.map(([id]) => id)]));
  }
  if (read > 0 && bytes === 0) throw new Error(`redis group ${group}: ${read} entries with empty values`);
  return read;
}
