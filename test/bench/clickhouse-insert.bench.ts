/**
 * Insert ceiling of the datapoints table through the embedded ClickHouse endpoint:
 * RowBinary bodies of `BENCH_BATCH_ROWS` records sent by insertDatapointRows
 * (the collector's path), with every materialized view attached. Prints figures and
 * ends with one line of JSON.
 *
 *   bun run bench:clickhouse-insert    (BENCH_ROWS, BENCH_BATCH_ROWS to change the size;
 *                                       BENCH_WITHOUT_VIEWS=1 drops the views to show their cost)
 */
import { insertDatapointRows, joinRecordRows } from "../../src/clickhouse/datapoints-insert.ts";
import { encodeTelemetryRecord } from "../../src/telemetry/record-codec.ts";
import { point, startClickHouseFixture } from "../src/clickhouse/fixture.ts";

const rowsTotal = Number(process.env.BENCH_ROWS ?? 1_000_000);
const batchRows = Number(process.env.BENCH_BATCH_ROWS ?? 50_000);
const withoutViews = process.env.BENCH_WITHOUT_VIEWS === "1";
const gpuCount = 247;
const metrics = [
  "DCGM_FI_DEV_GPU_UTIL",
  "DCGM_FI_DEV_MEM_COPY_UTIL",
  "DCGM_FI_DEV_FB_USED",
  "DCGM_FI_DEV_GPU_TEMP",
  "DCGM_FI_DEV_POWER_USAGE",
];

function batchBody(batchIndex: number, startMs: number): Uint8Array {
  const records = Array.from({ length: batchRows }, (_, index) => {
    const row = batchIndex * batchRows + index;
    const gpu = row % gpuCount;
    return encodeTelemetryRecord(
      point({
        ts: startMs + Math.floor(row / gpuCount),
        uuid: `GPU-${gpu.toString().padStart(8, "0")}`,
        hostname: `host-${Math.floor(gpu / 8)}`,
        gpu_index: gpu % 8,
        metric: metrics[row % metrics.length] as string,
        value: (row % 1000) / 8,
      }),
    );
  });
  return joinRecordRows(records);
}

const fixture = await startClickHouseFixture();
try {
  const client = await fixture.migratedDatabase("bench_insert");
  if (withoutViews) {
    for (const view of ["gpus_mv", "gpu_latest_mv", "datapoints_1m_mv"])
      await client.command({ query: `DROP VIEW ${view}` });
  }
  const batchCount = Math.ceil(rowsTotal / batchRows);
  const startMs = Date.now() - 3_600_000;
  const bodies = Array.from({ length: batchCount }, (_, index) => batchBody(index, startMs));
  const bodyBytes = bodies.reduce((sum, body) => sum + body.byteLength, 0);
  const latenciesMs: number[] = [];
  const began = performance.now();
  for (const [index, body] of bodies.entries()) {
    const t0 = performance.now();
    await insertDatapointRows(client, body, { dedupToken: `bench/0/${index}` });
    latenciesMs.push(performance.now() - t0);
  }
  const elapsedS = (performance.now() - began) / 1000;
  const rows = batchCount * batchRows;
  latenciesMs.sort((a, b) => a - b);
  const result = {
    bench: "clickhouse-insert",
    rows,
    batchRows,
    views: !withoutViews,
    seconds: Number(elapsedS.toFixed(3)),
    rowsPerSecond: Math.round(rows / elapsedS),
    megabytesPerSecond: Number((bodyBytes / 1e6 / elapsedS).toFixed(1)),
    insertP50Ms: Math.round(latenciesMs[Math.floor(latenciesMs.length / 2)] ?? 0),
    insertMaxMs: Math.round(latenciesMs.at(-1) ?? 0),
  };
  console.log(
    `inserted ${rows} rows in ${batchCount} batches of ${batchRows}: ${result.rowsPerSecond} rows/s, ${result.megabytesPerSecond} MB/s`,
  );
  console.log(JSON.stringify(result));
} finally {
  await fixture.stop();
}
