/**
 * NATS JetStream as a broker-bench peer: Debian's nats-server with JetStream on a
 * fresh store dir (`-js -sd`), one stream per bench stream with file storage, and
 * the nats.js v3 client (@nats-io/transport-node + @nats-io/jetstream) on Bun.
 *
 * Partitions map to subjects: a record goes to `<stream>.<partition>`, the
 * partition from the same murmur2 partitioner as our producer (12 partitions).
 * The key travels only inside the value (its JSON has the GPU UUID): no header
 * or subject token for it, which spares NATS ~45 bytes a record that ours and
 * Redis carry (a `<stream>.<partition>.<key>` subject measured ~15% slower to
 * consume). Storage is JetStream's file store with its defaults: writes go to
 * the OS page cache and are fsynced in the background (every 2 minutes in
 * nats-server 2.9), no stricter than our `interval` flush.
 *
 * Producing (`publish: "async"`, the default): NatsAsyncPublisher's reply-inbox
 * acks, each message waiting for its PubAck, up to `publishAcksPendingMax` in
 * flight (sendWindowed). `publish: "request"` uses nats.js's `js.publish()`, one
 * request per message, with the same window. Consuming: a fresh pull consumer
 * from the first message (`consume()` pulls in batches), AckAll every
 * `ackEveryRecords` records, as our group consumer commits offsets per batch.
 */
import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  jetstream,
  jetstreamManager,
  StorageType,
} from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { createPartitioner } from "../../../src/broker-protocol/partitioner.ts";
import { NatsAsyncPublisher } from "./nats-async-publisher.ts";
import { pacedSends } from "./paced-sends.ts";
import type { BenchPeer, BenchRecord, PeerProcessStats } from "./peer.ts";
import { sendWindowed } from "./send-window.ts";
import { type ServerProcess, startServer } from "./server-process.ts";

const partitionCount = 12;
/** Publishes awaiting their PubAck at once in produce(); past it the producer waits for the window. */
const publishAcksPendingMax = 2_048;
/** Acks the async publisher may wait for at once: the paced latency run's backlog if the server falls behind. */
const publisherAcksPendingMax = 200_000;
/** Messages one pull asks for. */
const pullMessagesMax = 10_000;
/** The consumer acks (AckAll) every this many messages, and at the end. */
const ackEveryRecords = 1_000;
/** Unacked messages the server lets the consumer hold; must exceed ackEveryRecords plus a pull. */
const ackPendingMax = 50_000;
/** Ceiling on one JetStream API call or publish ack, so a wedged server fails the bench instead of hanging it. */
const requestTimeoutMs = 30_000;

export type NatsPublishMode = "async" | "request";

export function natsPeer(options: { binary: string; publish: NatsPublishMode }): BenchPeer {
  let server: ServerProcess | undefined;
  let connection: NatsConnection | undefined;
  let client: JetStreamClient | undefined;
  let publisher: NatsAsyncPublisher | undefined;
  let peakRss = 0;
  const sampleRss = async () => {
    if (server !== undefined) peakRss = Math.max(peakRss, await server.samplePeakRss());
  };
  const streams = new Map<string, Promise<void>>();
  const partitionOf = createPartitioner(partitionCount);
  const subjectOf = (stream: string, record: BenchRecord) => `${stream}.${partitionOf(record.key)}`;

  const nats = () => {
    if (connection === undefined || client === undefined || publisher === undefined)
      throw new Error("nats peer used before start()");
    return { connection, client, publisher };
  };
  const publishOne = (stream: string, record: BenchRecord): Promise<unknown> => {
    const { client: js, publisher: asyncPublisher } = nats();
    const subject = subjectOf(stream, record);
    return options.publish === "async"
      ? asyncPublisher.publish(subject, record.value)
      : js.publish(subject, record.value);
  };
  const ensureStream = (stream: string): Promise<void> => {
    let created = streams.get(stream);
    if (created === undefined) {
      created = jetstreamManager(nats().connection, { timeout: requestTimeoutMs }).then(async (manager) => {
        await manager.streams.add({ name: stream, subjects: [`${stream}.>`], storage: StorageType.File });
      });
      streams.set(stream, created);
    }
    return created;
  };

  return {
    name: "nats",
    async start() {
      server = await startServer({
        name: "nats",
        argv: (port, dataDir) => [options.binary, "-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dataDir],
      });
      connection = await connect({ servers: `127.0.0.1:${server.port}`, timeout: requestTimeoutMs });
      client = jetstream(connection, { timeout: requestTimeoutMs });
      publisher = new NatsAsyncPublisher(connection, {
        acksPendingMax: publisherAcksPendingMax,
        ackTimeoutMs: requestTimeoutMs,
      });
    },
    async produce(stream, records, count) {
      await ensureStream(stream);
      await sendWindowed(count, publishAcksPendingMax, (index) => publishOne(stream, records(index)));
      await sampleRss();
    },
    async consume(stream, count) {
      await ensureStream(stream);
      await consumeFromStart(nats(), stream, count);
      await sampleRss();
    },
    async produceAtRate(stream, records, ratePerSecond, seconds) {
      await ensureStream(stream);
      const latencies = await pacedSends(ratePerSecond, seconds, (index) => publishOne(stream, records(index)));
      await sampleRss();
      return latencies;
    },
    stats(): PeerProcessStats {
      return { peakRssBytes: peakRss };
    },
    async stop() {
      await sampleRss();
      publisher?.close();
      await connection?.close();
      await server?.stop();
    },
  };
}

async function consumeFromStart(
  nats: { connection: NatsConnection; client: JetStreamClient },
  stream: string,
  count: number,
): Promise<void> {
  const manager = await jetstreamManager(nats.connection, { timeout: requestTimeoutMs });
  const name = `bench-${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
  await manager.consumers.add(stream, {
    durable_name: name,
    ack_policy: AckPolicy.All,
    deliver_policy: DeliverPolicy.All,
    max_ack_pending: ackPendingMax,
  });
  const consumer = await nats.client.consumers.get(stream, name);
  const messages = await consumer.consume({ max_messages: pullMessagesMax });
  let seen = 0;
  let bytes = 0;
  let lastMessageMs = performance.now();
  // Ends the loop below when no message came for requestTimeoutMs, which the count check then reports.
  const watchdog = setInterval(() => {
    if (performance.now() - lastMessageMs > requestTimeoutMs) messages.stop();
  }, 1_000);
  try {
    for await (const message of messages) {
      lastMessageMs = performance.now();
      bytes += message.data.length;
      seen += 1;
      if (seen % ackEveryRecords === 0 || seen >= count) message.ack();
      if (seen >= count) break;
    }
  } finally {
    clearInterval(watchdog);
  }
  if (seen < count)
    throw new Error(
      `nats consumer ${name} on ${stream}: ${seen} of ${count} messages, none for ${requestTimeoutMs} ms`,
    );
  if (bytes <= 0) throw new Error(`nats consumer ${name} on ${stream} saw ${seen} messages with no bytes`);
  await manager.consumers.delete(stream, name);
}
