/**
 * Our broker end to end over HTTP: producer and consumer clients in this process,
 * the broker as a separate process (`bun brokers/main.ts`), DCGM-shaped records of
 * about 200 bytes keyed by 247 GPU UUIDs, 12 partitions.
 *
 *   bun run bench:broker               full mode
 *   BENCH_SHORT=1 bun run bench:broker short mode (CI)
 *   BENCH_FLUSH=always|interval|os     the broker's durability setting (default interval)
 *   BENCH_BACKLOG_GIB=N                produce-only writes at least N GiB, so consume-only
 *                                      and the RSS figure come from a backlog that size
 *                                      (default 5 in full mode, 0 in short mode)
 *
 * Figures: produce-only records/s, consume-only from a backlog, produce+consume
 * records/s, p50/p99 produce-ack latency at a fixed 50k records/s, broker peak RSS.
 *
 * Peers, measured in the same run on the same record stream, each server started
 * here on a free port with a fresh temp dir and killed at the end (see each adapter
 * for its durability settings):
 *   nats   NATS JetStream, file storage (Debian nats-server, nats.js v3 client)
 *   redis  Redis Streams, AOF everysec (Debian redis-server, Bun's RedisClient)
 * A peer whose server binary is missing is skipped with the reason printed.
 * Peers produce at most `peerProduceCountMax` records (2M full, 300k short): Redis
 * holds its streams in memory and JetStream publishes ~100k records/s here, so the
 * 5 GiB backlog is ours alone and the peers' consume-only reads a smaller one.
 *   BENCH_PEERS=nats,redis             which peers to run (default both; "" for none)
 *   BENCH_NATS_PUBLISH=async|request   JetStream publishing: async (reply-inbox acks,
 *                                      like Go's PublishAsync; default) or nats.js's
 *                                      js.publish() request per message
 *
 * Record check: produce-only against our broker with and without the record check of
 * produced batches (the benchmark-only entry broker/broker-main-unchecked.ts), in
 * alternating rounds on two fresh brokers so drift on the machine hits both alike;
 * `record_check_ratio` is checked/unchecked records/s of the medians (target ≥ 0.9).
 * Tokens: the same with bearer tokens checked on every request (the default) and with
 * BROKER_AUTH=none and clients sending none; `token_ratio` is with/without (target ≥ 0.95).
 *   BENCH_CHECK_ROUNDS=N               rounds of each comparison (default 3 full, 2 short)
 *
 * Ends with one JSON line: every figure, our/peer ratios (`vs_<peer>_*_ratio`,
 * ours divided by the peer's; above 1 means ours is higher) and the targets met.
 */
import { loadavg } from "node:os";
import { type NatsPublishMode, natsPeer } from "./broker/nats-peer.ts";
import { ourBrokerPeer } from "./broker/our-broker-peer.ts";
import type { BenchPeer, BenchRecord } from "./broker/peer.ts";
import { redisPeer } from "./broker/redis-peer.ts";
import { findBinary } from "./broker/server-process.ts";

const short = process.env.BENCH_SHORT === "1";
const flush = (process.env.BENCH_FLUSH ?? "interval") as "always" | "interval" | "os";
const backlogGiB = Number(process.env.BENCH_BACKLOG_GIB ?? (short ? 0 : 5));
/** Bytes a record takes in the log: record header, key, value, plus its share of the batch header. */
const storedBytesPerRecordEstimate = 255;
const produceCount = Math.max(
  short ? 300_000 : 3_000_000,
  Math.ceil((backlogGiB * 2 ** 30) / storedBytesPerRecordEstimate),
);
const bothCount = short ? 200_000 : 2_000_000;
const peerProduceCountMax = short ? 300_000 : 2_000_000;
const natsPublish = (process.env.BENCH_NATS_PUBLISH ?? "async") as NatsPublishMode;
if (natsPublish !== "async" && natsPublish !== "request")
  throw new Error(`BENCH_NATS_PUBLISH must be async or request, got "${natsPublish}"`);
const peerNames = (process.env.BENCH_PEERS ?? "nats,redis").split(",").filter((name) => name !== "");
const checkRounds = Number(process.env.BENCH_CHECK_ROUNDS ?? (short ? 2 : 3));
const checkCount = short ? 300_000 : 2_000_000;
const latencyRatePerSecond = 50_000;
const latencySeconds = short ? 2 : 10;
const gpuCount = 247;
const valuesPerGpu = 16;

const targets = {
  produceRecordsPerSecond: 1_000_000,
  produceConsumeRecordsPerSecond: 500_000,
  ackP99Ms: 10,
  peakRssBytes: 256 * 1024 * 1024,
  consumeVsNatsRatio: 2,
  produceVsNatsRatio: 5,
  recordCheckRatio: 0.9,
  tokenRatio: 0.95,
};

/** A fixed pool of encoded DCGM-shaped records, reused round-robin (the encoding is not under test). */
function recordPool(): BenchRecord[] {
  const encoder = new TextEncoder();
  const metrics = [
    "DCGM_FI_DEV_GPU_UTIL",
    "DCGM_FI_DEV_MEM_COPY_UTIL",
    "DCGM_FI_DEV_GPU_TEMP",
    "DCGM_FI_DEV_POWER_USAGE",
  ];
  const nowMs = Date.now();
  const pool: BenchRecord[] = [];
  for (let sample = 0; sample < valuesPerGpu; sample += 1) {
    for (let gpu = 0; gpu < gpuCount; gpu += 1) {
      const uuid = `GPU-${gpu.toString(16).padStart(8, "0")}-86f3-7a43-b711-4771313afc50`;
      const value = JSON.stringify({
        ts: nowMs,
        uuid,
        hostname: `gpu-node-${gpu % 31}`,
        gpu_index: gpu % 8,
        device: `nvidia${gpu % 8}`,
        model: "NVIDIA H100 80GB HBM3",
        metric: metrics[sample % metrics.length],
        value: (gpu * 7 + sample) % 100,
      });
      pool.push({ key: uuid, value: encoder.encode(value), timestampMs: nowMs });
    }
  }
  return pool;
}

function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
}

async function timed(run: () => Promise<void>): Promise<number> {
  const startMs = performance.now();
  await run();
  return (performance.now() - startMs) / 1000;
}

interface PeerFigures {
  produceCount: number;
  produceRecordsPerSecond: number;
  consumeRecordsPerSecond: number;
  produceConsumeRecordsPerSecond: number;
  ackP50Ms: number;
  ackP99Ms: number;
  /** Records acknowledged per second over the paced run; below the asked rate the peer fell behind. */
  ackRunRecordsPerSecond: number;
  peakRssBytes: number;
}

async function measure(peer: BenchPeer, pool: BenchRecord[], produceCount: number): Promise<PeerFigures> {
  const record = (index: number) => pool[index % pool.length]!;
  await peer.start();
  try {
    const produceSeconds = await timed(() => peer.produce("bench-produce", record, produceCount));
    const produceRate = produceCount / produceSeconds;
    print(
      peer,
      "produce-only",
      `${Math.round(produceRate).toLocaleString()} records/s (${produceCount.toLocaleString()} in ${produceSeconds.toFixed(2)} s)`,
    );
    const consumeSeconds = await timed(() => peer.consume("bench-produce", produceCount));
    const consumeRate = produceCount / consumeSeconds;
    print(peer, "consume-only (backlog)", `${Math.round(consumeRate).toLocaleString()} records/s`);
    const bothSeconds = await timed(async () => {
      await Promise.all([peer.consume("bench-both", bothCount), peer.produce("bench-both", record, bothCount)]);
    });
    const bothRate = bothCount / bothSeconds;
    print(peer, "produce+consume", `${Math.round(bothRate).toLocaleString()} records/s`);
    // One warm-up second first (JIT, connections, segment creation), not counted.
    await peer.produceAtRate("bench-latency", record, latencyRatePerSecond, 1);
    let latencies: Float64Array = new Float64Array(0);
    const latencyRunSeconds = await timed(async () => {
      latencies = (await peer.produceAtRate("bench-latency", record, latencyRatePerSecond, latencySeconds)).sort();
    });
    // Below the asked rate the peer could not keep up, and its latencies are mostly queueing.
    const ackRate = latencies.length / latencyRunSeconds;
    const p50 = percentile(latencies, 0.5);
    const p99 = percentile(latencies, 0.99);
    print(
      peer,
      `ack latency at ${latencyRatePerSecond.toLocaleString()}/s`,
      `p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms (all acked at ${Math.round(ackRate).toLocaleString()} records/s)`,
    );
    const { peakRssBytes } = peer.stats();
    print(peer, "server peak RSS", `${(peakRssBytes / 1024 / 1024).toFixed(1)} MiB`);
    return {
      produceCount,
      produceRecordsPerSecond: Math.round(produceRate),
      consumeRecordsPerSecond: Math.round(consumeRate),
      produceConsumeRecordsPerSecond: Math.round(bothRate),
      ackP50Ms: Number(p50.toFixed(3)),
      ackP99Ms: Number(p99.toFixed(3)),
      ackRunRecordsPerSecond: Math.round(ackRate),
      peakRssBytes,
    };
  } finally {
    await peer.stop();
  }
}

function print(peer: BenchPeer, what: string, figure: string): void {
  process.stdout.write(`${peer.name.padEnd(8)} ${what.padEnd(26)} ${figure}\n`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Produce-only records/s of two brokers that differ in one thing, rounds alternating
 * between them so drift on the machine hits both alike, in ABBA order (a first in even
 * rounds, b first in odd ones) so neither always gets the colder start.
 */
async function measureAlternating(pool: BenchRecord[], what: string, a: BenchPeer, b: BenchPeer) {
  const record = (index: number) => pool[index % pool.length]!;
  const rates: [number[], number[]] = [[], []];
  await a.start();
  await b.start();
  try {
    for (let round = 0; round < checkRounds; round += 1) {
      const order: [number, BenchPeer][] =
        round % 2 === 0
          ? [
              [0, a],
              [1, b],
            ]
          : [
              [1, b],
              [0, a],
            ];
      for (const [side, peer] of order) {
        const seconds = await timed(() =>
          peer.produce(`bench-${what.replaceAll(" ", "-")}-${round}`, record, checkCount),
        );
        rates[side]!.push(Math.round(checkCount / seconds));
        print(peer, `produce-only, round ${round + 1}`, `${rates[side]!.at(-1)!.toLocaleString()} records/s`);
      }
    }
  } finally {
    await a.stop();
    await b.stop();
  }
  const [withRate, withoutRate] = [median(rates[0]), median(rates[1])];
  const ratio = Number((withRate / withoutRate).toFixed(3));
  process.stdout.write(
    `${what}: produce ${withRate.toLocaleString()} records/s with, ${withoutRate.toLocaleString()} without (medians of ${checkRounds}), ratio ${ratio}\n`,
  );
  return { withRecordsPerSecond: withRate, withoutRecordsPerSecond: withoutRate, rounds: rates, ratio };
}

/** With and without the record check of produced batches. */
function measureRecordCheck(pool: BenchRecord[]) {
  const checked = ourBrokerPeer({ flush, checkRecords: true });
  const unchecked = ourBrokerPeer({ flush, checkRecords: false });
  return measureAlternating(pool, "record check", checked, unchecked);
}

/** With bearer tokens checked on every request, and with BROKER_AUTH=none and no token sent. */
function measureTokens(pool: BenchRecord[]) {
  return measureAlternating(pool, "tokens", ourBrokerPeer({ flush }), ourBrokerPeer({ flush, tokens: false }));
}

/** The peers asked for in BENCH_PEERS whose server binary is here; the rest with the reason. */
function availablePeers(): { peers: BenchPeer[]; skipped: Record<string, string> } {
  const factories: Record<string, { binary: string; make: (binary: string) => BenchPeer }> = {
    nats: { binary: "nats-server", make: (binary) => natsPeer({ binary, publish: natsPublish }) },
    redis: { binary: "redis-server", make: (binary) => redisPeer({ binary }) },
  };
  const peers: BenchPeer[] = [];
  const skipped: Record<string, string> = {};
  for (const name of peerNames) {
    const factory = factories[name];
    if (factory === undefined)
      throw new Error(`BENCH_PEERS names unknown peer "${name}" (known: ${Object.keys(factories).join(", ")})`);
    const binary = findBinary(factory.binary);
    if (binary === undefined)
      skipped[name] =
        `${factory.binary} not found on PATH or in /usr/sbin, /usr/bin (apt-get install -y ${factory.binary})`;
    else peers.push(factory.make(binary));
  }
  return { peers, skipped };
}

/** Ours divided by each peer's figure, keyed `vs_<peer>_<figure>_ratio`. */
function ratios(ours: PeerFigures, peers: Record<string, PeerFigures>): Record<string, number> {
  const out: Record<string, number> = {};
  const round = (value: number) => Number(value.toFixed(3));
  for (const [name, peer] of Object.entries(peers)) {
    out[`vs_${name}_produce_ratio`] = round(ours.produceRecordsPerSecond / peer.produceRecordsPerSecond);
    out[`vs_${name}_consume_ratio`] = round(ours.consumeRecordsPerSecond / peer.consumeRecordsPerSecond);
    out[`vs_${name}_produce_consume_ratio`] = round(
      ours.produceConsumeRecordsPerSecond / peer.produceConsumeRecordsPerSecond,
    );
    out[`vs_${name}_ack_p50_ratio`] = round(ours.ackP50Ms / peer.ackP50Ms);
    out[`vs_${name}_ack_p99_ratio`] = round(ours.ackP99Ms / peer.ackP99Ms);
    out[`vs_${name}_rss_ratio`] = round(ours.peakRssBytes / peer.peakRssBytes);
  }
  return out;
}

const pool = recordPool();
const averageBytes = Math.round(pool.reduce((sum, item) => sum + item.key.length + item.value.length, 0) / pool.length);
const loadAverage1m = Number(loadavg()[0]!.toFixed(2));
process.stdout.write(
  `broker bench: ${short ? "short" : "full"} mode, flush=${flush}, ~${averageBytes} bytes/record (key + value), ` +
    `12 partitions, backlog ${((produceCount * storedBytesPerRecordEstimate) / 2 ** 30).toFixed(1)} GiB, ` +
    `load average ${loadavg()
      .map((load) => load.toFixed(2))
      .join(" ")} on ${navigator.hardwareConcurrency} cores\n`,
);
const { peers, skipped } = availablePeers();
for (const [name, reason] of Object.entries(skipped)) process.stdout.write(`${name.padEnd(8)} skipped: ${reason}\n`);
const ours = await measure(ourBrokerPeer({ flush }), pool, produceCount);
const recordCheck = await measureRecordCheck(pool);
const tokens = await measureTokens(pool);
const peerResults: Record<string, PeerFigures> = {};
for (const peer of peers)
  peerResults[peer.name] = await measure(peer, pool, Math.min(produceCount, peerProduceCountMax));
const results = { ours, ...peerResults };
const vs = ratios(ours, peerResults);
for (const [key, value] of Object.entries(vs)) process.stdout.write(`ours/peer ${key.padEnd(34)} ${value}\n`);
const nats = peerResults.nats;
const met = {
  produce: ours.produceRecordsPerSecond >= targets.produceRecordsPerSecond,
  produceConsume: ours.produceConsumeRecordsPerSecond >= targets.produceConsumeRecordsPerSecond,
  ackP99: ours.ackP99Ms < targets.ackP99Ms,
  rss: ours.peakRssBytes < targets.peakRssBytes,
  recordCheck: recordCheck.ratio >= targets.recordCheckRatio,
  tokens: tokens.ratio >= targets.tokenRatio,
  ...(nats === undefined
    ? {}
    : {
        consumeVsNats: ours.consumeRecordsPerSecond >= targets.consumeVsNatsRatio * nats.consumeRecordsPerSecond,
        produceVsNats: ours.produceRecordsPerSecond >= targets.produceVsNatsRatio * nats.produceRecordsPerSecond,
      }),
};
process.stdout.write(
  `${JSON.stringify({ bench: "broker", mode: short ? "short" : "full", flush, natsPublish, recordBytes: averageBytes, produceCount, loadAverage1m, results, recordCheck, record_check_ratio: recordCheck.ratio, tokens, token_ratio: tokens.ratio, ...vs, skipped, targets, met })}\n`,
);
