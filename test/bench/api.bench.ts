/**
 * API gateway latency and throughput over loopback, with the embedded ClickHouse
 * holding 247 GPUs × 10 metrics × 4,050 points (10,003,500 datapoints; BENCH_SHORT=1:
 * 81 points each, 200,070 datapoints). Rows are generated inside ClickHouse with
 * numbers() (INSERT ... SELECT, through the materialized views), not sent from JS.
 *
 *  1. telemetry: GET /api/v1/gpus/{id}/telemetry for a one-hour window of a random GPU
 *     (default page of 1,000 points), open loop at a fixed 200 req/s. Latency counts
 *     from each request's scheduled send time, so queueing is not hidden. No rows are
 *     written meanwhile, so from the third request per GPU on the API answers from its
 *     page cache (each request still reads the parts fingerprint from ClickHouse); the
 *     cache's counts are printed (first: a key's first request, which only queries). Also measured one request at a time: the same
 *     URLs, and windows that never repeat (every request queries the page: the cost of
 *     a live window, whose parts change with every insert).
 *  2. gpus: GET /api/v1/gpus at maximum throughput, fixed concurrency (wrk when
 *     installed, else a Bun client).
 *
 * The API runs as its own process (services/api/main.ts, LOG_LEVEL=info, logs to
 * /dev/null). Targets: telemetry p99 < 25 ms at 200 req/s; /api/v1/gpus >= 5,000 req/s.
 * Ends with one JSON line.
 *
 *   bun run bench:api            BENCH_SHORT=1 bun run bench:api
 */
import { join } from "node:path";
import type { ClickHouseClient } from "@clickhouse/client";
import { newToken } from "../../src/auth/token-syntax.ts";
import { createClickHouse } from "../../src/clickhouse/client.ts";
import { migrate } from "../../src/clickhouse/migrations.ts";
import { metricCatalog } from "../../src/domain/metric-catalog.ts";
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from "../support/embedded-clickhouse.ts";
import { freePort } from "../support/free-port.ts";

const short = process.env.BENCH_SHORT === "1";
const gpuCount = 247;
const metricNames = metricCatalog.slice(0, 10).map((metric) => metric.name);
const pointsPerSeries = short ? 81 : 4_050;
const datapointCount = gpuCount * metricNames.length * pointsPerSeries;
const insertChunkRows = 1_000_000;
const telemetryRatePerS = 200;
/** Also measured: one client, one request at a time (unloaded latency and the engine's ceiling). */
const telemetrySequentialRequests = short ? 100 : 300;
const telemetryDurationS = short ? 5 : 20;
const gpusDurationS = short ? 5 : 15;
const gpusConcurrency = 32;
const warmupRequests = 200;
/**
 * Every GPU's telemetry URL is asked this many times before measuring: the API keeps a
 * page from its second request on (a first-time window, like a live one, just queries).
 */
const telemetryWarmupRounds = 2;
const database = "bench";
const pointSpacingMs = 1_000;

/** Data ends a minute ago, one point per second per series. */
const dataEndMs = Math.floor(Date.now() / 1_000) * 1_000 - 60_000;
const dataStartMs = dataEndMs - (pointsPerSeries - 1) * pointSpacingMs;

const insertSql = `INSERT INTO datapoints
    (ts, source_ts, uuid, hostname, gpu_index, device, model, metric, value, container, pod, namespace, labels)
SELECT
    fromUnixTimestamp64Milli({start_ms:Int64} + intDiv(number, {series:UInt32}) * {spacing_ms:UInt32}, 'UTC'),
    fromUnixTimestamp64Milli({start_ms:Int64} + intDiv(number, {series:UInt32}) * {spacing_ms:UInt32} - 250, 'UTC'),
    concat('GPU-', lower(hex(toUInt32(intDiv(number % {series:UInt32}, {metric_count:UInt32})))), '-5fd4-f087-86f3-7a011a8f7a00'),
    concat('bench-host-', leftPad(toString(intDiv(intDiv(number % {series:UInt32}, {metric_count:UInt32}), 8)), 3, '0')),
    intDiv(number % {series:UInt32}, {metric_count:UInt32}) % 8,
    concat('nvidia', toString(intDiv(number % {series:UInt32}, {metric_count:UInt32}) % 8)),
    'NVIDIA H100 80GB HBM3',
    {metrics:Array(String)}[number % {metric_count:UInt32} + 1],
    (number % 1000) / 10,
    '', '', '',
    map('DCGM_FI_DRIVER_VERSION', '535.129.03')
FROM numbers({offset:UInt64}, {count:UInt64})`;

async function loadDatapoints(client: ClickHouseClient): Promise<number> {
  const startedMs = performance.now();
  for (let offset = 0; offset < datapointCount; offset += insertChunkRows) {
    await client.command({
      query: insertSql,
      query_params: {
        start_ms: dataStartMs,
        series: gpuCount * metricNames.length,
        spacing_ms: pointSpacingMs,
        metric_count: metricNames.length,
        metrics: metricNames,
        offset,
        count: Math.min(insertChunkRows, datapointCount - offset),
      },
    });
  }
  const loadS = (performance.now() - startedMs) / 1_000;
  const result = await client.query({ query: "SELECT count() AS n FROM datapoints", format: "JSONEachRow" });
  const [row] = await result.json<{ n: string }>();
  if (Number(row?.n) !== datapointCount) throw new Error(`loaded ${row?.n} datapoints, expected ${datapointCount}`);
  return loadS;
}

interface Figures {
  requests: number;
  errors: number;
  reqPerS: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] as number;
}

function figures(latenciesMs: number[], errors: number, elapsedS: number): Figures {
  const sorted = latenciesMs.sort((a, b) => a - b);
  const round = (value: number) => Number(value.toFixed(2));
  return {
    requests: sorted.length + errors,
    errors,
    reqPerS: round((sorted.length + errors) / elapsedS),
    p50Ms: round(percentile(sorted, 0.5)),
    p99Ms: round(percentile(sorted, 0.99)),
    maxMs: round(sorted[sorted.length - 1] ?? Number.NaN),
  };
}

/** The API runs as in production: scope read closed, this token sent with every request. */
const readToken = newToken();
const authorization = { authorization: `Bearer ${readToken}` };

async function fetchOk(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { headers: authorization });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

/** Open loop: request i is due at start + i / rate, whatever happened to earlier ones. */
async function fixedRate(urlFor: (index: number) => string, ratePerS: number, durationS: number): Promise<Figures> {
  const total = ratePerS * durationS;
  const intervalMs = 1_000 / ratePerS;
  const latenciesMs: number[] = [];
  let errors = 0;
  const pending: Promise<void>[] = [];
  const startMs = performance.now();
  for (let index = 0; index < total; index += 1) {
    const dueMs = startMs + index * intervalMs;
    const waitMs = dueMs - performance.now();
    if (waitMs > 0) await Bun.sleep(waitMs);
    pending.push(
      fetchOk(urlFor(index)).then((ok) => {
        if (ok) latenciesMs.push(performance.now() - dueMs);
        else errors += 1;
      }),
    );
  }
  await Promise.all(pending);
  return figures(latenciesMs, errors, (performance.now() - startMs) / 1_000);
}

async function sequential(urlFor: (index: number) => string, count: number): Promise<Figures> {
  const latenciesMs: number[] = [];
  let errors = 0;
  const startMs = performance.now();
  for (let index = 0; index < count; index += 1) {
    const sentMs = performance.now();
    if (await fetchOk(urlFor(index))) latenciesMs.push(performance.now() - sentMs);
    else errors += 1;
  }
  return figures(latenciesMs, errors, (performance.now() - startMs) / 1_000);
}

/** Closed loop: `concurrency` clients, each sending its next request when the last answered. */
async function maxThroughputBun(url: string, concurrency: number, durationS: number): Promise<Figures> {
  const latenciesMs: number[] = [];
  let errors = 0;
  const startMs = performance.now();
  const deadlineMs = startMs + durationS * 1_000;
  const worker = async () => {
    while (performance.now() < deadlineMs) {
      const sentMs = performance.now();
      if (await fetchOk(url)) latenciesMs.push(performance.now() - sentMs);
      else errors += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return figures(latenciesMs, errors, (performance.now() - startMs) / 1_000);
}

function wrkMs(text: string, label: string): number {
  const match = new RegExp(`^\\s*${label}\\s+([\\d.]+)(us|ms|s)\\s*$`, "m").exec(text);
  if (match === null) return Number.NaN;
  const scale = { us: 0.001, ms: 1, s: 1_000 }[match[2] as "us" | "ms" | "s"];
  return Number((Number(match[1]) * scale).toFixed(2));
}

async function maxThroughputWrk(wrk: string, url: string, concurrency: number, durationS: number): Promise<Figures> {
  const header = `Authorization: Bearer ${readToken}`;
  const child = Bun.spawn([wrk, "-t1", `-c${concurrency}`, `-d${durationS}s`, "--latency", "-H", header, url], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const text = await new Response(child.stdout).text();
  if ((await child.exited) !== 0) throw new Error(`wrk failed:\n${text}`);
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? Number.NaN);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const errors = non2xx + (socketErrors === null ? 0 : socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0));
  const reqPerS = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? Number.NaN);
  return { requests, errors, reqPerS, p50Ms: wrkMs(text, "50%"), p99Ms: wrkMs(text, "99%"), maxMs: Number.NaN };
}

async function startApi(clickhouse: EmbeddedClickHouse): Promise<{ baseUrl: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = Bun.spawn(["bun", join(import.meta.dir, "..", "..", "services", "api", "main.ts")], {
    env: {
      ...process.env,
      ...clickhouse.serviceEnv(),
      CLICKHOUSE_DATABASE: database,
      API_HOST: "127.0.0.1",
      API_PORT: String(port),
      API_READ_TOKENS: readToken,
      LOG_LEVEL: "info",
      LOG_FORMAT: "json",
    },
    stdout: "ignore",
    stderr: "inherit",
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 200 && !(await fetchOk(`${baseUrl}/ready`)); attempt += 1) await Bun.sleep(50);
  if (!(await fetchOk(`${baseUrl}/ready`))) throw new Error("api did not become ready");
  const stop = async () => {
    child.kill("SIGTERM");
    await child.exited;
  };
  return { baseUrl, stop };
}

/** Active datapoints parts: background merges after the load change them (and the page cache's fingerprints). */
async function activeParts(client: ClickHouseClient): Promise<number> {
  const result = await client.query({
    query:
      "SELECT count() AS n FROM system.parts WHERE database = currentDatabase() AND table = 'datapoints' AND active",
    format: "JSONEachRow",
  });
  const [row] = await result.json<{ n: string | number }>();
  return Number(row?.n);
}

/** The API's telemetry page cache counters (hit, miss, changed) from its /metrics. */
async function pageCacheCounts(baseUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const counts: Record<string, number> = { hit: 0, miss: 0, changed: 0, first: 0 };
  for (const match of text.matchAll(/^api_telemetry_page_cache_lookups_total\{result="(\w+)"[^}]*\} (\d+)/gm)) {
    counts[match[1] as string] = Number(match[2]);
  }
  return counts;
}

function countsSince(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([key, value]) => [key, value - (before[key] ?? 0)]));
}

async function gpuUuids(baseUrl: string): Promise<string[]> {
  const response = await fetch(`${baseUrl}/api/v1/gpus?limit=1000`, { headers: authorization });
  const body = (await response.json()) as { items: { uuid: string }[] };
  if (body.items.length !== gpuCount) throw new Error(`api lists ${body.items.length} GPUs, expected ${gpuCount}`);
  return body.items.map((gpu) => gpu.uuid);
}

async function main(): Promise<void> {
  const clickhouse = await startEmbeddedClickHouse();
  const connection = {
    url: clickhouse.url,
    username: "default",
    password: clickhouse.password,
    requestTimeoutMs: 300_000,
  };
  const admin = createClickHouse({ ...connection, database: "default" });
  const client = createClickHouse({ ...connection, database });
  let api: Awaited<ReturnType<typeof startApi>> | undefined;
  try {
    await migrate({ client: admin, database, retentionDays: 30, clock: Date.now });
    console.log(`loading ${datapointCount.toLocaleString()} datapoints (${short ? "short" : "full"} mode)...`);
    const loadS = await loadDatapoints(client);
    console.log(`loaded in ${loadS.toFixed(1)} s (${Math.round(datapointCount / loadS).toLocaleString()} rows/s)`);
    api = await startApi(clickhouse);
    const uuids = await gpuUuids(api.baseUrl);
    const window = `start_time=${new Date(dataEndMs - 3_600_000).toISOString()}&end_time=${new Date(dataEndMs).toISOString()}`;
    const telemetryUrl = (index: number) =>
      `${api?.baseUrl}/api/v1/gpus/${uuids[(index * 7919) % uuids.length]}/telemetry?${window}`;
    // A window no request repeats (its end moves by a millisecond each time): never answered from the page
    // cache, so this measures the query itself, as for a live window whose parts change with every insert.
    const uncachedUrl = (index: number) =>
      `${api?.baseUrl}/api/v1/gpus/${uuids[(index * 7919) % uuids.length]}/telemetry?start_time=${new Date(dataEndMs - 3_600_000).toISOString()}` +
      `&end_time=${new Date(dataEndMs - 1 - (index % 60_000)).toISOString()}`;
    const gpusUrl = `${api.baseUrl}/api/v1/gpus`;
    for (let index = 0; index < warmupRequests; index += 1) await fetchOk(gpusUrl);
    // telemetryUrl(index) visits every GPU once per gpuCount indexes (7919 and 247 are coprime).
    for (let index = 0; index < telemetryWarmupRounds * gpuCount; index += 1) await fetchOk(telemetryUrl(index));

    const beforeSequential = await pageCacheCounts(api.baseUrl);
    const telemetrySequential = await sequential(telemetryUrl, telemetrySequentialRequests);
    const sequentialCache = countsSince(await pageCacheCounts(api.baseUrl), beforeSequential);
    console.log("telemetry 1 h, 1 GPU, one request at a time:", telemetrySequential, "page cache:", sequentialCache);
    const beforeUncached = await pageCacheCounts(api.baseUrl);
    const telemetryUncached = await sequential(uncachedUrl, telemetrySequentialRequests);
    const uncachedCache = countsSince(await pageCacheCounts(api.baseUrl), beforeUncached);
    console.log(
      "telemetry 1 h, 1 GPU, never the same window, one at a time:",
      telemetryUncached,
      "page cache:",
      uncachedCache,
    );
    const partsBeforeRate = await activeParts(client);
    const beforeRate = await pageCacheCounts(api.baseUrl);
    const telemetry = await fixedRate(telemetryUrl, telemetryRatePerS, telemetryDurationS);
    const rateCache = {
      ...countsSince(await pageCacheCounts(api.baseUrl), beforeRate),
      parts_before: partsBeforeRate,
      parts_after: await activeParts(client),
    };
    console.log(`telemetry 1 h, 1 GPU @ ${telemetryRatePerS} req/s:`, telemetry, "page cache:", rateCache);
    await Bun.sleep(1_000);
    const wrk = Bun.which("wrk");
    const gpus =
      wrk === null
        ? await maxThroughputBun(gpusUrl, gpusConcurrency, gpusDurationS)
        : await maxThroughputWrk(wrk, gpusUrl, gpusConcurrency, gpusDurationS);
    console.log(
      `/api/v1/gpus max throughput (${wrk === null ? "bun client" : "wrk"}, ${gpusConcurrency} connections):`,
      gpus,
    );
    const result = {
      bench: "api",
      mode: short ? "short" : "full",
      datapoints: datapointCount,
      load_s: Number(loadS.toFixed(2)),
      telemetry: { rate_per_s: telemetryRatePerS, duration_s: telemetryDurationS, ...telemetry, page_cache: rateCache },
      telemetry_sequential: { ...telemetrySequential, page_cache: sequentialCache },
      telemetry_uncached_sequential: { ...telemetryUncached, page_cache: uncachedCache },
      gpus: { tool: wrk === null ? "bun" : "wrk", concurrency: gpusConcurrency, duration_s: gpusDurationS, ...gpus },
      targets: {
        telemetry_p99_below_25ms: telemetry.p99Ms < 25 && telemetry.errors === 0,
        gpus_at_least_5000_rps: gpus.reqPerS >= 5_000 && gpus.errors === 0,
      },
    };
    console.log(JSON.stringify(result));
  } finally {
    await api?.stop();
    await admin.close();
    await client.close();
    await clickhouse.stop();
  }
}

await main();
