/**
 * Collector throughput: pre-fill the broker with datapoints, run one collector process
 * and measure rows/s into ClickHouse; then, in the same run, the raw insert ceiling: the
 * same rows inserted straight into the same embedded ClickHouse (fresh database, every
 * materialized view attached) in the collector's average batch size and with its insert
 * concurrency. Prints figures and ends with one JSON line.
 *
 *   bun run bench:collector              (2,000,000 datapoints)
 *   BENCH_SHORT=1 bun run bench:collector (200,000)
 */
import type { ClickHouseClient } from "@clickhouse/client";
import { concatGroupRows } from "../../services/collector/insert-coalescer.ts";
import { admitRecord } from "../../services/collector/record-validation.ts";
import { Admin } from "../../src/broker-client/admin.ts";
import { PartitionClient } from "../../src/broker-client/partition-client.ts";
import { Producer } from "../../src/broker-client/producer.ts";
import { createClickHouse } from "../../src/clickhouse/client.ts";
import { insertDatapointRows, joinRecordRows } from "../../src/clickhouse/datapoints-insert.ts";
import { migrate } from "../../src/clickhouse/migrations.ts";
import { SourceSuffix } from "../../src/clickhouse/source-columns.ts";
import { encodeRecordTail, stampRecord } from "../../src/telemetry/record-codec.ts";
import { startCollector } from "../services/collector/collector-process.ts";
import { startBroker } from "../support/broker-process.ts";
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from "../support/embedded-clickhouse.ts";
import { metricValue } from "../support/prometheus.ts";
import { testBrokerToken } from "../support/test-tokens.ts";

const short = process.env.BENCH_SHORT === "1";
const rowsTotal = Number(process.env.BENCH_ROWS ?? (short ? 200_000 : 2_000_000));
const partitions = 12;
const insertsInFlightMax = Number(process.env.BENCH_INSERTS_IN_FLIGHT ?? 2);
const gpuCount = 247;
const metricNames = [
  "DCGM_FI_DEV_GPU_UTIL",
  "DCGM_FI_DEV_MEM_COPY_UTIL",
  "DCGM_FI_DEV_FB_USED",
  "DCGM_FI_DEV_FB_FREE",
  "DCGM_FI_DEV_GPU_TEMP",
  "DCGM_FI_DEV_POWER_USAGE",
  "DCGM_FI_DEV_SM_CLOCK",
  "DCGM_FI_DEV_MEM_CLOCK",
  "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",
  "DCGM_FI_DEV_PCIE_TX_THROUGHPUT",
];
/** Fetch size of broker and collector (MiB): it bounds the rows of one insert (~24,000 at 8 MiB). */
const fetchMebibytes = Number(process.env.BENCH_FETCH_MIB ?? 8);
const pollIntervalMs = 250;
const collectorWaitMsMax = 20 * 60_000;

/** The sample's shape: 247 GPUs x 10 metrics; row i is that series' sample i / 2,470, 1 s apart. */
function seriesTails(): Array<{ key: string; tail: Uint8Array }> {
  const tails: Array<{ key: string; tail: Uint8Array }> = [];
  for (let gpu = 0; gpu < gpuCount; gpu++) {
    for (const [index, metric] of metricNames.entries()) {
      const uuid = `GPU-5fd4f087-86f3-7a43-b711-${String(gpu).padStart(12, "0")}`;
      const point = {
        source_ts: 1_752_846_153_000,
        uuid,
        hostname: `mtv5-dgx1-hgpu-${String(Math.floor(gpu / 8)).padStart(3, "0")}`,
        gpu_index: gpu % 8,
        device: `nvidia${gpu % 8}`,
        model: "NVIDIA H100 80GB HBM3",
        metric,
        value: (gpu * 7 + index) % 100,
        container: gpu % 3 === 0 ? "trainer" : "",
        pod: gpu % 3 === 0 ? `job-${gpu}` : "",
        namespace: gpu % 3 === 0 ? "ml" : "",
        labels: { DCGM_FI_DRIVER_VERSION: "535.129.03", Hostname: `mtv5-dgx1-hgpu-${Math.floor(gpu / 8)}` },
      };
      tails.push({ key: uuid, tail: encodeRecordTail(point) });
    }
  }
  return tails;
}

const series = seriesTails();
const baseMs = Math.floor((Date.now() - 6 * 3_600_000) / 1000) * 1000;
const valueAt = (row: number) =>
  stampRecord(baseMs + Math.floor(row / series.length) * 1000, series[row % series.length]!.tail);

async function prefill(brokerUrl: string): Promise<number> {
  await new Admin({ brokerUrl, token: testBrokerToken }).createTopic("telemetry", partitions);
  const producer = await Producer.create({ brokerUrl, token: testBrokerToken, topic: "telemetry", lingerMs: 5 });
  const began = performance.now();
  for (let row = 0; row < rowsTotal; row++)
    await producer.send({ key: series[row % series.length]!.key, value: valueAt(row) });
  await producer.close();
  return (performance.now() - began) / 1000;
}

async function scrape(url: string): Promise<string> {
  return await (await fetch(`${url}/metrics`)).text();
}

/**
 * Progress is read with count() on ClickHouse, not from /metrics: a scrape costs the
 * collector ~100 ms of CPU (prom-client's default process metrics call Bun's heapStats),
 * which polling several times a second would charge to the collector.
 */
async function runCollector(brokerUrl: string, clickhouse: EmbeddedClickHouse, client: ClickHouseClient) {
  const spawnedMs = performance.now();
  const collector = await startCollector({
    brokerUrl,
    clickhouseUrl: clickhouse.url,
    clickhousePassword: clickhouse.password,
    database: "bench",
    env: {
      COLLECTOR_LINGER_MS: "1000",
      COLLECTOR_INSERTS_IN_FLIGHT_MAX: String(insertsInFlightMax),
      COLLECTOR_FETCH_BYTES_MAX: String(fetchMebibytes * 1024 * 1024),
    },
  });
  let firstRowMs: number | undefined;
  let inserted = 0;
  while (inserted < rowsTotal) {
    if (performance.now() - spawnedMs > collectorWaitMsMax)
      throw new Error(`collector inserted ${inserted} of ${rowsTotal} rows in ${collectorWaitMsMax} ms`);
    await Bun.sleep(pollIntervalMs);
    inserted = await countRows(client).catch(() => 0);
    if (inserted > 0 && firstRowMs === undefined) firstRowMs = performance.now();
  }
  const doneMs = performance.now();
  const page = await scrape(collector.url);
  const batchRowsSum = metricValue(page, "collector_insert_batch_rows_sum") ?? 0;
  const batchCount = metricValue(page, "collector_insert_batch_rows_count") ?? 1;
  const insertSeconds = metricValue(page, "collector_insert_duration_seconds_sum") ?? 0;
  const cpuSeconds = metricValue(page, "process_cpu_seconds_total") ?? 0;
  const exitCode = await collector.stop();
  return {
    secondsFromSpawn: (doneMs - spawnedMs) / 1000,
    secondsFromFirstRow: (doneMs - (firstRowMs ?? spawnedMs)) / 1000,
    inserted,
    batchCount,
    averageBatchRows: Math.round(batchRowsSum / batchCount),
    insertSeconds,
    cpuSeconds,
    exitCode,
  };
}

async function runCeiling(
  admin: ClickHouseClient,
  client: ClickHouseClient,
  batchRows: number,
  database = "ceiling",
  rows = rowsTotal,
) {
  await migrate({ client: admin, database, retentionDays: 30, clock: Date.now });
  const bodies: Uint8Array[] = [];
  for (let first = 0; first < rows; first += batchRows) {
    const values = [];
    for (let row = first; row < Math.min(rows, first + batchRows); row++) values.push(valueAt(row));
    bodies.push(joinRecordRows(values));
  }
  const began = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const index = next++;
      await insertDatapointRows(client, bodies[index]!, { dedupToken: `${database}/0/${index}` });
    }
  };
  await Promise.all(Array.from({ length: insertsInFlightMax }, worker));
  return { seconds: (performance.now() - began) / 1000, batches: bodies.length };
}

/**
 * The collector's own work per row without ClickHouse: fetch from the broker, walk the
 * records, validate and join them into insert bodies, on this one thread.
 */
async function runCollectorPath(brokerUrl: string): Promise<number> {
  const source = new SourceSuffix({ name: "telemetry", id: Date.now() });
  const io = new PartitionClient({ brokerUrl, token: testBrokerToken });
  const began = performance.now();
  let rows = 0;
  for (let partition = 0; partition < partitions; partition++) {
    const info = (await io.describeTopic("telemetry")).partitions.find((entry) => entry.partition === partition)!;
    for (let from = 0; from < info.highWatermark; ) {
      const through = Math.min(info.highWatermark - 1, from + 20_000 - 1);
      const read = await io.readRange({
        topic: "telemetry",
        partition,
        fromOffset: from,
        throughOffset: through,
        fetchBytesMax: 8 * 1024 * 1024,
      });
      const values: Uint8Array[] = [];
      const offsets: number[] = [];
      let bytes = 0;
      for (const record of read.records) {
        const admission = admitRecord(record.value);
        if (!admission.ok) throw new Error(`bench record at ${partition}/${record.offset} is invalid`);
        values.push(admission.row);
        offsets.push(record.offset);
        bytes += admission.row.byteLength;
      }
      concatGroupRows([{ partition, rows: values, offsets, rowBytes: bytes }], source);
      rows += values.length;
      from = through + 1;
    }
  }
  if (rows !== rowsTotal) throw new Error(`collector path saw ${rows} rows, expected ${rowsTotal}`);
  return rowsTotal / ((performance.now() - began) / 1000);
}

async function countRows(client: ClickHouseClient): Promise<number> {
  const rows = await (
    await client.query({ query: "SELECT count() AS n FROM datapoints", format: "JSONEachRow" })
  ).json<{ n: string }>();
  return Number(rows[0]?.n ?? 0);
}

const [broker, clickhouse] = await Promise.all([
  startBroker({ env: { BROKER_FLUSH: "os", BROKER_FETCH_BYTES_MAX: String(fetchMebibytes * 1024 * 1024) } }),
  startEmbeddedClickHouse(),
]);
const connect = (database: string) =>
  createClickHouse({
    url: clickhouse.url,
    username: "default",
    password: clickhouse.password,
    database,
    requestTimeoutMs: 120_000,
  });
const [admin, benchClient, ceilingClient] = [connect("default"), connect("bench"), connect("ceiling")];
try {
  console.log(`pre-filling the broker with ${rowsTotal} datapoints in ${partitions} partitions...`);
  const prefillSeconds = await prefill(broker.url);
  console.log(`pre-filled in ${prefillSeconds.toFixed(1)} s (${Math.round(rowsTotal / prefillSeconds)} records/s)`);

  // The embedded endpoint's first inserts are slower (cold engine, JIT): warm it up so the
  // collector run is not charged for that and the ceiling run alone enjoys it.
  await runCeiling(admin, connect("warmup"), 10_000, "warmup", 50_000);
  const collector = await runCollector(broker.url, clickhouse, benchClient);
  await Bun.sleep(1_000);
  const stored = await countRows(benchClient);
  if (stored !== rowsTotal) throw new Error(`ClickHouse holds ${stored} rows, expected ${rowsTotal}`);
  const collectorRowsPerSecond = Math.round(rowsTotal / collector.secondsFromFirstRow);
  console.log(
    `collector: ${rowsTotal} rows in ${collector.secondsFromFirstRow.toFixed(2)} s from the first insert ` +
      `(${collector.secondsFromSpawn.toFixed(2)} s from spawn): ${collectorRowsPerSecond} rows/s; ` +
      `${collector.batchCount} inserts of ~${collector.averageBatchRows} rows, ${collector.insertSeconds.toFixed(2)} s inside inserts; exit ${collector.exitCode}`,
  );

  const pathRowsPerSecond = Math.round(await runCollectorPath(broker.url));
  const cpuMicrosecondsPerRow = (collector.cpuSeconds * 1e6) / rowsTotal;
  console.log(
    `collector process CPU: ${collector.cpuSeconds.toFixed(1)} s (${cpuMicrosecondsPerRow.toFixed(2)} µs a row); ` +
      `fetch + validate + join alone, one thread: ${pathRowsPerSecond} rows/s`,
  );

  const ceiling = await runCeiling(admin, ceilingClient, collector.averageBatchRows);
  const ceilingStored = await countRows(ceilingClient);
  if (ceilingStored !== rowsTotal)
    throw new Error(`ceiling database holds ${ceilingStored} rows, expected ${rowsTotal}`);
  const ceilingRowsPerSecond = Math.round(rowsTotal / ceiling.seconds);
  const ratio = collectorRowsPerSecond / ceilingRowsPerSecond;
  console.log(
    `ceiling: ${ceiling.batches} inserts of ${collector.averageBatchRows} rows, ${insertsInFlightMax} at once: ${ceilingRowsPerSecond} rows/s`,
  );
  console.log(`ratio: ${(ratio * 100).toFixed(1)} % of the ceiling (target ≥ 60 %); target ≥ 250,000 rows/s`);
  console.log(
    JSON.stringify({
      bench: "collector",
      rows: rowsTotal,
      partitions,
      fetchMebibytes,
      prefillRecordsPerSecond: Math.round(rowsTotal / prefillSeconds),
      collectorRowsPerSecond,
      collectorSecondsFromFirstRow: Number(collector.secondsFromFirstRow.toFixed(3)),
      collectorSecondsFromSpawn: Number(collector.secondsFromSpawn.toFixed(3)),
      averageBatchRows: collector.averageBatchRows,
      inserts: collector.batchCount,
      secondsInsideInserts: Number(collector.insertSeconds.toFixed(3)),
      collectorCpuMicrosecondsPerRow: Number(cpuMicrosecondsPerRow.toFixed(2)),
      collectorPathRowsPerSecond: pathRowsPerSecond,
      ceilingRowsPerSecond,
      ratio: Number(ratio.toFixed(3)),
      targetRowsPerSecondMet: collectorRowsPerSecond >= 250_000,
      targetRatioMet: ratio >= 0.6,
    }),
  );
} finally {
  await Promise.all([admin.close(), benchClient.close(), ceilingClient.close()]);
  await Promise.all([broker.stop(), clickhouse.stop()]);
}
