/**
 * Insert throughput of the embedded ClickHouse endpoint against chdb in-process.
 *
 * The same 100k DCGM-shaped rows go (a) through the embedded endpoint with
 * @clickhouse/client (rows as objects with insert(), as the collector sends them,
 * and the prepared JSONEachRow text with exec()), and (b) through chdb in this process
 * (a Session on another temp dir, raw insert of the same JSONEachRow bytes).
 * Each round runs every path once into fresh tables (interleaved, so load from other
 * processes hits all paths alike); the median over `roundCount` rounds is reported.
 *
 *   bun run bench:clickhouse
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { type ClickHouseClient, ClickHouseLogLevel, createClient } from "@clickhouse/client";
import { Session } from "chdb";
import type { TelemetryPoint } from "../../src/domain/telemetry.ts";
import { startEmbeddedClickHouse } from "../support/embedded-clickhouse.ts";

const rowCount = 100_000;
const roundCount = 5;
const gpuCount = 247;
const hostCount = 31;
const metricNames = [
  "DCGM_FI_DEV_GPU_UTIL",
  "DCGM_FI_DEV_MEM_COPY_UTIL",
  "DCGM_FI_DEV_FB_USED",
  "DCGM_FI_DEV_FB_FREE",
  "DCGM_FI_DEV_POWER_USAGE",
  "DCGM_FI_DEV_GPU_TEMP",
  "DCGM_FI_DEV_SM_CLOCK",
  "DCGM_FI_DEV_MEM_CLOCK",
  "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",
  "DCGM_FI_DEV_XID_ERRORS",
];

function tableDdl(table: string): string {
  return `CREATE TABLE ${table} (
    ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD),
    source_ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD),
    uuid LowCardinality(String),
    hostname LowCardinality(String),
    gpu_index UInt16,
    device LowCardinality(String),
    model LowCardinality(String),
    metric LowCardinality(String),
    value Float64 CODEC(Gorilla, ZSTD),
    container LowCardinality(String),
    pod LowCardinality(String),
    namespace LowCardinality(String),
    labels Map(LowCardinality(String), String)
  ) ENGINE = MergeTree PARTITION BY toDate(ts) ORDER BY (uuid, metric, ts)`;
}

function makeRows(): TelemetryPoint[] {
  const startMs = Date.UTC(2025, 6, 18, 13, 42, 33);
  return Array.from({ length: rowCount }, (_, index) => {
    const gpu = index % gpuCount;
    const host = gpu % hostCount;
    return {
      ts: startMs + index,
      source_ts: startMs + Math.floor(index / 2_470) * 1_000,
      uuid: `GPU-${gpu.toString(16).padStart(8, "0")}-5fd4-f087-86f3-7a011a8f7a${(gpu % 100).toString().padStart(2, "0")}`,
      hostname: `mtv5-dgx1-hgpu-${String(host).padStart(3, "0")}`,
      gpu_index: gpu % 8,
      device: `nvidia${gpu % 8}`,
      model: "NVIDIA H100 80GB HBM3",
      metric: metricNames[index % metricNames.length] ?? "DCGM_FI_DEV_GPU_UTIL",
      value: ((index * 37) % 1_000) / 10,
      container: index % 3 === 0 ? "trainer" : "",
      pod: index % 3 === 0 ? `train-${host}` : "",
      namespace: index % 3 === 0 ? "ml" : "",
      labels: { DCGM_FI_DRIVER_VERSION: "535.129.03", Hostname: `mtv5-dgx1-hgpu-${String(host).padStart(3, "0")}` },
    };
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function rowsPerSecond(run: () => Promise<void>): Promise<number> {
  const startedMs = performance.now();
  await run();
  return rowCount / ((performance.now() - startedMs) / 1000);
}

async function countHttp(client: ClickHouseClient, table: string): Promise<number> {
  const result = await client.query({ query: `SELECT count() AS n FROM ${table}`, format: "JSONEachRow" });
  return Number((await result.json<{ n: number }>())[0]?.n);
}

async function countLocal(session: Session, table: string): Promise<number> {
  return Number((await session.queryAsync(`SELECT count() FROM ${table}`, { format: "TabSeparated" })).text().trim());
}

interface Paths {
  httpObjects: (table: string) => Promise<void>;
  httpText: (table: string) => Promise<void>;
  inProcess: (table: string) => Promise<void>;
}

function makePaths(client: ClickHouseClient, session: Session, rows: TelemetryPoint[], text: Buffer): Paths {
  return {
    httpObjects: async (table) => {
      await client.command({ query: tableDdl(table) });
      await client.insert({ table, values: rows, format: "JSONEachRow" });
    },
    httpText: async (table) => {
      await client.command({ query: tableDdl(table) });
      // insert() would JSON-encode each stream chunk as a row; exec() sends the bytes as they are.
      const result = await client.exec({
        query: `INSERT INTO ${table} FORMAT JSONEachRow`,
        values: Readable.from([text]),
      });
      result.stream.resume();
      await new Promise((resolve) => result.stream.once("end", resolve));
    },
    inProcess: async (table) => {
      await session.queryAsync(tableDdl(table));
      await session.insert({ table, values: text, format: "JSONEachRow" });
    },
  };
}

/** Rounds interleave the three paths so a noisy neighbour slows all of them alike. */
async function runRounds(paths: Paths): Promise<{ httpObjects: number[]; httpText: number[]; inProcess: number[] }> {
  const rates = { httpObjects: [] as number[], httpText: [] as number[], inProcess: [] as number[] };
  for (let round = 0; round < roundCount; round++) {
    for (const name of ["httpObjects", "httpText", "inProcess"] as const) {
      const rate = await rowsPerSecond(() => paths[name](`${name}_${round}`));
      rates[name].push(rate);
      console.log(`round ${round + 1} ${name.padEnd(11)} ${Math.round(rate).toLocaleString().padStart(9)} rows/s`);
    }
  }
  return rates;
}

async function verify(client: ClickHouseClient, session: Session): Promise<void> {
  for (const table of ["httpObjects_0", "httpText_0"]) {
    const stored = await countHttp(client, table);
    if (stored !== rowCount) throw new Error(`${table} holds ${stored} rows, expected ${rowCount}`);
  }
  const stored = await countLocal(session, "inProcess_0");
  if (stored !== rowCount) throw new Error(`inProcess_0 holds ${stored} rows, expected ${rowCount}`);
}

const rows = makeRows();
const text = Buffer.from(`${rows.map((row) => JSON.stringify(row)).join("\n")}\n`);
console.log(
  `${rowCount.toLocaleString()} DCGM rows, ${(text.byteLength / 1024 / 1024).toFixed(1)} MiB of JSONEachRow, ${roundCount} rounds`,
);
const clickhouse = await startEmbeddedClickHouse();
// The client warns about sockets idle past their TTL while this process is busy
// serialising rows; that is the benchmark's own load, not a finding.
const client = createClient({
  url: clickhouse.url,
  password: clickhouse.password,
  log: { level: ClickHouseLogLevel.ERROR },
});
const localDir = mkdtempSync(join(tmpdir(), "chdb-bench-"));
const session = new Session(localDir);
let rates: Awaited<ReturnType<typeof runRounds>>;
try {
  rates = await runRounds(makePaths(client, session, rows, text));
  await verify(client, session);
} finally {
  await client.close();
  await clickhouse.stop();
  session.close();
  rmSync(localDir, { recursive: true, force: true });
}
const httpObjects = median(rates.httpObjects);
const httpText = median(rates.httpText);
const inProcess = median(rates.inProcess);
const ratio = httpObjects / inProcess;
console.log(`http insert() of objects:    ${Math.round(httpObjects).toLocaleString()} rows/s (median)`);
console.log(`http exec() of the text:     ${Math.round(httpText).toLocaleString()} rows/s (median)`);
console.log(`in-process chdb raw insert:  ${Math.round(inProcess).toLocaleString()} rows/s (median)`);
console.log(`http / in-process:           ${ratio.toFixed(2)}`);
console.log(
  JSON.stringify({
    bench: "clickhouse-embedded",
    rows: rowCount,
    rounds: roundCount,
    http_insert_rows_per_s: Math.round(httpObjects),
    http_text_insert_rows_per_s: Math.round(httpText),
    inprocess_insert_rows_per_s: Math.round(inProcess),
    http_vs_inprocess_ratio: Number(ratio.toFixed(3)),
  }),
);
