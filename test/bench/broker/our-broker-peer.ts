import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Admin } from "../../../src/broker-client/admin.ts";
import { Consumer } from "../../../src/broker-client/consumer.ts";
import { Producer } from "../../../src/broker-client/producer.ts";
import { type BrokerProcess, spawnBroker } from "../../e2e/broker-process.ts";
import { testBrokerToken } from "../../support/test-tokens.ts";
import { type BenchPeer, type BenchRecord, type PeerProcessStats, peakRssBytes } from "./peer.ts";
import { killOnExit } from "./server-process.ts";

const partitionCount = 12;
/** Yield to the event loop this often so linger timers and acks run while producing. */
const recordsPerYield = 4_096;

const uncheckedBrokerMain = new URL("./broker-main-unchecked.ts", import.meta.url).pathname;

/**
 * Our broker as a separate process; clients in the bench process. `checkRecords: false`
 * runs the benchmark-only entry without the produce record check, to measure its cost;
 * `tokens: false` runs it with BROKER_AUTH=none and clients that send no token, to
 * measure what checking a bearer token on every request costs.
 */
export function ourBrokerPeer(options: {
  flush: "always" | "interval" | "os";
  checkRecords?: boolean;
  tokens?: boolean;
}): BenchPeer {
  let dataDir = "";
  let broker: BrokerProcess | undefined;
  let exitGuard: { release(): void } | undefined;
  let peakRss = 0;
  const tokens = options.tokens !== false;
  const connection = () => ({ brokerUrl: broker?.url ?? "", token: tokens ? testBrokerToken : undefined });
  const name = options.checkRecords === false ? "ours-unchecked" : tokens ? "ours" : "ours-no-tokens";

  return {
    name,
    async start() {
      dataDir = mkdtempSync(join(tmpdir(), "bench-broker-"));
      const env = { BROKER_DATA_DIR: dataDir, BROKER_FLUSH: options.flush, ...(tokens ? {} : { BROKER_AUTH: "none" }) };
      broker = options.checkRecords === false ? await spawnBroker(env, uncheckedBrokerMain) : await spawnBroker(env);
      exitGuard = killOnExit(broker.proc, dataDir);
    },
    async produce(stream, records, count) {
      await new Admin(connection()).ensureTopic(stream, partitionCount);
      const producer = await Producer.create({ ...connection(), topic: stream, partitionCount, lingerMs: 5 });
      for (let index = 0; index < count; index += 1) {
        const sent = producer.send(records(index));
        if (Bun.peek.status(sent) !== "fulfilled") await sent;
        else if (index % recordsPerYield === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await producer.close();
      await sampleRss();
    },
    async consume(stream, count) {
      let seen = 0;
      const { promise: done, resolve } = Promise.withResolvers<void>();
      const consumer = new Consumer({
        ...connection(),
        group: `bench-${stream}-${Date.now()}`,
        topics: [stream],
        resetPolicy: "earliest",
        fetchBytesMax: 4 * 1024 * 1024,
        fetchWaitMs: 200,
        eachBatch: (batch) => {
          let bytes = 0;
          batch.forEachRecord((record) => {
            bytes += record.value.length;
          });
          seen += batch.recordCount;
          if (bytes < 0) throw new Error("unreachable");
          if (seen >= count) resolve();
        },
      });
      await consumer.start();
      await done;
      await consumer.close();
      await sampleRss();
    },
    async produceAtRate(stream, records, ratePerSecond, seconds) {
      await new Admin(connection()).ensureTopic(stream, partitionCount);
      const producer = await Producer.create({ ...connection(), topic: stream, partitionCount, lingerMs: 1 });
      const total = ratePerSecond * seconds;
      const latencies = new Float64Array(total);
      const startMs = performance.now();
      const acks: Promise<unknown>[] = [];
      for (let index = 0; index < total; ) {
        const due = Math.min(total, Math.floor(((performance.now() - startMs) / 1000) * ratePerSecond));
        for (; index < due; index += 1) {
          const sentMs = performance.now();
          const slot = index;
          acks.push(producer.sendAndWait(records(index)).then(() => (latencies[slot] = performance.now() - sentMs)));
        }
        await Bun.sleep(1);
      }
      await Promise.all(acks);
      await producer.close();
      await sampleRss();
      return latencies;
    },
    stats(): PeerProcessStats {
      return { peakRssBytes: peakRss };
    },
    async stop() {
      await sampleRss();
      broker?.proc.kill("SIGTERM");
      await broker?.proc.exited;
      exitGuard?.release();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };

  async function sampleRss(): Promise<void> {
    if (broker !== undefined) peakRss = Math.max(peakRss, await peakRssBytes(broker.proc.pid));
  }
}

export type { BenchRecord };
