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
 * Peers (NATS JetStream, Redis Streams) plug in as BenchPeer adapters. Ends with one
 * JSON line.
 */
import { ourBrokerPeer } from "./broker/our-broker-peer.ts";
import type { BenchPeer, BenchRecord } from "./broker/peer.ts";

const short = process.env.BENCH_SHORT === "1";
const flush = (process.env.BENCH_FLUSH ?? "interval") as "always" | "interval" | "os";
const backlogGiB = Number(process.env.BENCH_BACKLOG_GIB ?? (short ? 0 : 5));
/** Bytes a record takes in the log: record header, key, value, plus its share of the batch header. */
const storedBytesPerRecordEstimate = 255;
const produceCount = Math.max(short ? 300_000 : 3_000_000, Math.ceil((backlogGiB * 2 ** 30) / storedBytesPerRecordEstimate));
const bothCount = short ? 200_000 : 2_000_000;
const latencyRatePerSecond = 50_000;
const latencySeconds = short ? 2 : 10;
const gpuCount = 247;
const valuesPerGpu = 16;

const targets = {
  produceRecordsPerSecond: 1_000_000,
  produceConsumeRecordsPerSecond: 500_000,
  ackP99Ms: 10,
  peakRssBytes: 256 * 1024 * 1024,
};

/** A fixed pool of encoded DCGM-shaped records, reused round-robin (the encoding is not under test). */
function recordPool(): BenchRecord[] {
  const encoder = new TextEncoder();
  const metrics = ["DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_MEM_COPY_UTIL", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE"];
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
  produceRecordsPerSecond: number;
  consumeRecordsPerSecond: number;
  produceConsumeRecordsPerSecond: number;
  ackP50Ms: number;
  ackP99Ms: number;
  peakRssBytes: number;
}

async function measure(peer: BenchPeer, pool: BenchRecord[]): Promise<PeerFigures> {
  const record = (index: number) => pool[index % pool.length]!;
  await peer.start();
  try {
    const produceSeconds = await timed(() => peer.produce("bench-produce", record, produceCount));
    const produceRate = produceCount / produceSeconds;
    print(peer, "produce-only", `${Math.round(produceRate).toLocaleString()} records/s (${produceCount.toLocaleString()} in ${produceSeconds.toFixed(2)} s)`);
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
    const latencies = (await peer.produceAtRate("bench-latency", record, latencyRatePerSecond, latencySeconds)).sort();
    const p50 = percentile(latencies, 0.5);
    const p99 = percentile(latencies, 0.99);
    print(peer, `ack latency at ${latencyRatePerSecond.toLocaleString()}/s`, `p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`);
    const { peakRssBytes } = peer.stats();
    print(peer, "server peak RSS", `${(peakRssBytes / 1024 / 1024).toFixed(1)} MiB`);
    return {
      produceRecordsPerSecond: Math.round(produceRate),
      consumeRecordsPerSecond: Math.round(consumeRate),
      produceConsumeRecordsPerSecond: Math.round(bothRate),
      ackP50Ms: Number(p50.toFixed(3)),
      ackP99Ms: Number(p99.toFixed(3)),
      peakRssBytes,
    };
  } finally {
    await peer.stop();
  }
}

function print(peer: BenchPeer, what: string, figure: string): void {
  process.stdout.write(`${peer.name.padEnd(8)} ${what.padEnd(26)} ${figure}\n`);
}

const pool = recordPool();
const averageBytes = Math.round(pool.reduce((sum, item) => sum + item.key.length + item.value.length, 0) / pool.length);
process.stdout.write(
  `broker bench: ${short ? "short" : "full"} mode, flush=${flush}, ~${averageBytes} bytes/record (key + value), ` +
    `12 partitions, backlog ${(produceCount * storedBytesPerRecordEstimate / 2 ** 30).toFixed(1)} GiB\n`,
);
const peers: BenchPeer[] = [ourBrokerPeer({ flush })];
const results: Record<string, PeerFigures> = {};
for (const peer of peers) results[peer.name] = await measure(peer, pool);
const ours = results.ours!;
const met = {
  produce: ours.produceRecordsPerSecond >= targets.produceRecordsPerSecond,
  produceConsume: ours.produceConsumeRecordsPerSecond >= targets.produceConsumeRecordsPerSecond,
  ackP99: ours.ackP99Ms < targets.ackP99Ms,
  rss: ours.peakRssBytes < targets.peakRssBytes,
};
process.stdout.write(
  `${JSON.stringify({ bench: "broker", mode: short ? "short" : "full", flush, recordBytes: averageBytes, produceCount, results, targets, met })}\n`,
);
