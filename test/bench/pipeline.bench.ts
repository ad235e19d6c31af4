/**
 * The whole pipeline on this machine (every process shares its cores), started the
 * way `bun run dev` starts it:
 *  1. throughput: streamers at rate 0 (or BENCH_STREAMER_RATE rows/s each) for BENCH_SECONDS; datapoints/s that became
 *     queryable rows in ClickHouse (collectors count a row once its insert returned;
 *     checked against a count through the API at the end);
 *  2. freshness at a fixed 10,000 datapoints/s: for sampled GPUs, the API is polled
 *     and each datapoint's first sighting is compared with its processing timestamp;
 *  3. in the same run, the raw ClickHouse insert ceiling: pre-encoded rows of the same
 *     shape inserted straight into the embedded ClickHouse, 100,000 rows an insert, two at once.
 * Ends with one JSON line.
 *   bun run bench:pipeline            (60 s throughput phase)
 *   BENCH_SHORT=1 bun run bench:pipeline
 */
import { createClickHouse } from "../../src/clickhouse/client.ts";
import { insertDatapointRows, joinRecordRows } from "../../src/clickhouse/datapoints-insert.ts";
import { encodeRecordTail, stampRecord } from "../../src/telemetry/record-codec.ts";
import { eventually, getJson, type PipelineStack, startPipelineStack } from "../e2e/pipeline-stack.ts";
import { metricValue } from "../support/prometheus.ts";

const short = process.env.BENCH_SHORT === "1";
const throughputSeconds = Number(process.env.BENCH_SECONDS ?? (short ? 15 : 60));
const freshnessSeconds = short ? 10 : 30;
const freshnessRatePerS = 10_000;
const streamers = Number(process.env.BENCH_STREAMERS ?? 2);
/** 0: as fast as they can (the measure); a rate shows what the sink sustains when the source does not flood the machine. */
const throughputRatePerStreamer = Number(process.env.BENCH_STREAMER_RATE ?? 0);
const collectors = Number(process.env.BENCH_COLLECTORS ?? 2);
/**
 * The embedded engine runs one query at a time (~20 ms for this one): polling one GPU
 * every 100 ms keeps the probe's own load near 20% of it, so it does not inflate what
 * it measures. A datapoint is seen on average half an interval after it became visible.
 */
const pollIntervalMs = 100;
const sampledGpus = 1;

const pipeline = await startPipelineStack({
  streamer: { STREAMER_MODE: "loop", STREAMER_RATE_ROWS_PER_S: "0" },
  collector: {
    COLLECTOR_LINGER_MS: process.env.BENCH_LINGER_MS ?? "100",
    COLLECTOR_INSERTS_IN_FLIGHT_MAX: process.env.BENCH_INSERTS_IN_FLIGHT ?? "2",
  },
  broker: { BROKER_FLUSH: "interval" },
});

try {
  // Freshness first, on an empty pipeline: after the rate-0 phase the collectors would
  // first have to drain minutes of backlog.
  const freshness = await measureFreshness(pipeline);
  const throughput = await measureThroughput(pipeline);
  const ceiling = await measureInsertCeiling(pipeline);
  const figures = {
    bench: "pipeline",
    short,
    streamers,
    collectors,
    streamer_rate_per_s: throughputRatePerStreamer,
    sustained_datapoints_per_s: Math.round(throughput.rowsPerS),
    produced_datapoints_per_s: Math.round(throughput.producedPerS),
    freshness_p50_ms: freshness.p50,
    freshness_p99_ms: freshness.p99,
    freshness_samples: freshness.samples,
    freshness_rate_per_s: freshnessRatePerS,
    clickhouse_insert_ceiling_rows_per_s: Math.round(ceiling),
    sustained_vs_ceiling_ratio: Number((throughput.rowsPerS / ceiling).toFixed(3)),
  };
  console.log(
    `sustained ${figures.sustained_datapoints_per_s} datapoints/s into ClickHouse (produced ${figures.produced_datapoints_per_s}/s) over ${throughputSeconds} s`,
  );
  console.log(
    `freshness at ${freshnessRatePerS}/s: p50 ${freshness.p50} ms, p99 ${freshness.p99} ms (${freshness.samples} datapoints)`,
  );
  console.log(
    `raw ClickHouse insert ceiling ${figures.clickhouse_insert_ceiling_rows_per_s} rows/s; pipeline/ceiling ${figures.sustained_vs_ceiling_ratio}`,
  );
  console.log(JSON.stringify(figures));
} finally {
  await pipeline.stop();
}

async function scrapeSum(ports: number[], name: string): Promise<number> {
  let total = 0;
  for (const port of ports) {
    const text = await fetch(`http://127.0.0.1:${port}/metrics`)
      .then((r) => r.text())
      .catch(() => "");
    total += metricValue(text, name) ?? 0;
  }
  return total;
}

function portsOf(stack: PipelineStack, kind: "streamer" | "collector", count: number): number[] {
  const base = kind === "streamer" ? stack.plan.streamerPortBase : stack.plan.collectorPortBase;
  return Array.from({ length: count }, (_, index) => base + index);
}

async function measureThroughput(stack: PipelineStack): Promise<{ rowsPerS: number; producedPerS: number }> {
  stack.plan.extraEnv = {
    ...stack.plan.extraEnv,
    // The rate is the stream's, shared by the streamers: BENCH_STREAMER_RATE stays per streamer.
    streamer: { STREAMER_MODE: "loop", STREAMER_RATE_ROWS_PER_S: String(throughputRatePerStreamer * streamers) },
  };
  await stack.stack.scale("streamer", streamers);
  const collectorPorts = portsOf(stack, "collector", collectors);
  const streamerPorts = portsOf(stack, "streamer", streamers);
  await Bun.sleep(5_000); // warm-up: joins, first loops, first inserts
  const inserted0 = await scrapeSum(collectorPorts, "collector_rows_inserted_total");
  const produced0 = await scrapeSum(streamerPorts, "streamer_rows_produced_total");
  const started = performance.now();
  await Bun.sleep(throughputSeconds * 1_000);
  const seconds = (performance.now() - started) / 1_000;
  const inserted1 = await scrapeSum(collectorPorts, "collector_rows_inserted_total");
  const produced1 = await scrapeSum(streamerPorts, "streamer_rows_produced_total");
  await stack.stack.scale("streamer", 0);
  return { rowsPerS: (inserted1 - inserted0) / seconds, producedPerS: (produced1 - produced0) / seconds };
}

async function measureFreshness(stack: PipelineStack): Promise<{ p50: number; p99: number; samples: number }> {
  await stack.stack.scale("collector", collectors);
  stack.plan.extraEnv = {
    ...stack.plan.extraEnv,
    streamer: { STREAMER_MODE: "loop", STREAMER_RATE_ROWS_PER_S: String(freshnessRatePerS) },
  };
  await stack.stack.scale("streamer", 1);
  const gpus = await eventually(
    "GPUs listed by the API",
    async () => {
      const page: { items: { uuid: string }[] } = await getJson(`${stack.apiUrl}/api/v1/gpus?limit=${sampledGpus}`);
      return page.items.length === sampledGpus ? page : undefined;
    },
    60_000,
  );
  await Bun.sleep(3_000);
  const seen = new Map<string, number>();
  const delays: number[] = [];
  const deadline = performance.now() + freshnessSeconds * 1_000;
  while (performance.now() < deadline) {
    await Promise.all(gpus.items.map((gpu) => poll(stack, gpu.uuid, seen, delays)));
    await Bun.sleep(pollIntervalMs);
  }
  await stack.stack.scale("streamer", 0);
  await eventually("collector lag 0", async () => ((await lag(stack)) === 0 ? true : undefined), 120_000);
  delays.sort((a, b) => a - b);
  const at = (q: number) => delays[Math.min(delays.length - 1, Math.floor(q * delays.length))] ?? Number.NaN;
  return { p50: Math.round(at(0.5)), p99: Math.round(at(0.99)), samples: delays.length };
}

async function poll(stack: PipelineStack, uuid: string, seen: Map<string, number>, delays: number[]): Promise<void> {
  const startIso = new Date(Date.now() - 5_000).toISOString();
  const page: { items: { timestamp: string; metric: string }[] } = await getJson(
    `${stack.apiUrl}/api/v1/gpus/${uuid}/telemetry?start_time=${startIso}&order=desc&limit=1000`,
  );
  const nowMs = Date.now();
  for (const item of page.items) {
    const key = `${uuid}/${item.metric}/${item.timestamp}`;
    if (seen.has(key)) continue;
    seen.set(key, nowMs);
    // Points already visible at the first poll arrived before we looked: not measurable.
    if (seen.size > page.items.length) delays.push(nowMs - Date.parse(item.timestamp));
  }
}

async function lag(stack: PipelineStack): Promise<number> {
  const group: { lag?: { totalLag?: number }; totalLag?: number } = await getJson(
    `${stack.brokerUrl}/v1/groups/collectors`,
    stack.brokerToken,
  );
  return group.lag?.totalLag ?? group.totalLag ?? Number.NaN;
}

async function measureInsertCeiling(stack: PipelineStack): Promise<number> {
  // The collectors would still be draining the rate-0 backlog: the ceiling is the engine's alone.
  await stack.stack.scale("collector", 0);
  const client = createClickHouse({
    url: `http://127.0.0.1:${stack.plan.clickhousePort}`,
    username: "default",
    password: stack.plan.secrets.clickhousePassword,
    database: "telemetry",
    requestTimeoutMs: 120_000,
  });
  // The collectors' batch size and concurrency: 100,000 rows an insert, two at once (the
  // embedded endpoint runs inserts on two connections).
  const batchRows = 100_000;
  const insertsAtOnce = 2;
  const tails = Array.from({ length: 2_470 }, (_, index) =>
    encodeRecordTail({
      source_ts: 1_752_846_154_000,
      uuid: `GPU-ceiling-${index % 247}`,
      hostname: `host-${index % 31}`,
      gpu_index: index % 8,
      device: `nvidia${index % 8}`,
      model: "NVIDIA H100 80GB HBM3",
      metric: `DCGM_FI_DEV_METRIC_${index % 10}`,
      value: index,
      container: "",
      pod: "",
      namespace: "",
      labels: { DCGM_FI_DRIVER_VERSION: "535.129.03" },
    }),
  );
  const seconds = short ? 8 : 20;
  const bodies = Array.from({ length: insertsAtOnce }, (_, worker) => {
    const nowMs = Date.now() + worker * batchRows;
    return joinRecordRows(
      Array.from({ length: batchRows }, (_, index) => stampRecord(nowMs + index, tails[index % tails.length]!)),
    );
  });
  let rows = 0;
  let batch = 0;
  const started = performance.now();
  const worker = async (body: Uint8Array) => {
    while (performance.now() - started < seconds * 1_000) {
      batch += 1;
      await insertDatapointRows(client, body, { dedupToken: `ceiling-${process.pid}-${batch}` });
      rows += batchRows;
    }
  };
  await Promise.all(bodies.map(worker));
  const rate = rows / ((performance.now() - started) / 1_000);
  await client.close();
  return rate;
}
