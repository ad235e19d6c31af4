/**
 * What the dashboard costs the API, on the real processes as `bun run dev` starts them
 * (embedded ClickHouse, broker, one collector, the API with its live tail), every
 * datapoint going through the broker and the collector:
 *  1. fleet: GET /api/v1/fleet (the four grid metrics) with 8,000 GPUs in ClickHouse,
 *     one request at a time: p50 and p99.
 *  2. streams: 500 clients (two child processes) each following one GPU's datapoint
 *     stream while 1,000 GPUs report 10 metrics a second (10,000 datapoints/s), so each
 *     client gets an event a second: delivery lag (receipt − the datapoint's
 *     timestamp, so it includes the collector's insert and commit), the API's CPU and
 *     peak RSS.
 *  3. the fleet page in headless Chromium with every GPU: time to the whole grid, and the
 *     frame intervals while 1,000 GPUs change every second (is it smooth).
 *  4. live windows: GET /api/v1/gpus/{id}/telemetry with start_time = now − 60 s and no
 *     end (so end = now: a window no page cache can serve) for a random reporting GPU,
 *     at a fixed 200 req/s while the 10,000 datapoints/s keep arriving: p99.
 * Targets: fleet p99 < 50 ms, delivery lag p99 < 1 s, API RSS < 300 MiB at 500
 * clients, live-window p99 < 25 ms at 200 req/s. Ends with one JSON line.
 *
 * Latencies on a shared two-core machine are mostly the other processes' doing, so the
 * API's own cost is reported too, as CPU time: while only datapoints arrive (the live
 * tail's reading, 10 s) and during the live windows. BENCH_GC_LOG=1 runs the API with
 * JSC's GC log (BUN_JSC_logGC) and reports its collections and longest pause during the
 * live windows (the log itself costs a little).
 *
 *   bun run bench:dashboard            BENCH_SHORT=1 bun run bench:dashboard
 */
import { loadavg } from "node:os";
import { join } from "node:path";
import { Admin } from "../../src/broker-client/admin.ts";
import { Producer } from "../../src/broker-client/producer.ts";
import { stampRecord } from "../../src/telemetry/record-codec.ts";
import { eventually, getJson, type PipelineStack, startPipelineStack } from "../e2e/pipeline-stack.ts";
import { openBrowser } from "../support/browser.ts";
import { freePort } from "../support/free-port.ts";
import { metricValue } from "../support/prometheus.ts";
import { benchMetrics, benchTails, benchUuid } from "./dashboard/bench-gpus.ts";

const short = process.env.BENCH_SHORT === "1";
const fleetGpus = short ? 2_000 : 8_000;
const liveGpus = 1_000;
const gridMetrics = ["DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_FB_USED"];
const fleetRequests = short ? 30 : 300;
const streamClients = short ? 100 : 500;
const streamSeconds = short ? 10 : 30;
const liveRatePerS = 200;
const liveSeconds = short ? 5 : 20;
const liveWindowMs = 60_000;

interface Latencies {
  requests: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Runs inside the page (the bench is typed without the DOM library). */
declare function requestAnimationFrame(callback: (now: number) => void): number;

const round = (value: number, digits = 1) => Number(value.toFixed(digits));

function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] as number;
}

function summarize(latenciesMs: number[], errors: number): Latencies {
  const sorted = latenciesMs.sort((a, b) => a - b);
  return {
    requests: sorted.length + errors,
    errors,
    p50Ms: round(percentile(sorted, 0.5), 2),
    p99Ms: round(percentile(sorted, 0.99), 2),
    maxMs: round(sorted.at(-1) ?? Number.NaN, 2),
  };
}

async function produceAll(producer: Producer, records: readonly { key: string; tail: Uint8Array }[]): Promise<void> {
  const nowMs = Date.now();
  await Promise.all(
    records.map((record) => producer.send({ key: record.key, value: stampRecord(nowMs, record.tail) })),
  );
  await producer.flush();
}

/** GPUs [0, count) report every metric once a second, from a child process (the measuring one stays idle). */
function reportEverySecond(brokerUrl: string, brokerToken: string, count: number) {
  const child = Bun.spawn(["bun", join(import.meta.dir, "dashboard", "reporter.ts"), brokerUrl, String(count)], {
    // The token goes by the environment, not the command line (which any local user can list).
    env: { ...process.env, BROKER_TOKEN: brokerToken },
    stdout: "pipe",
    stderr: "inherit",
  });
  const startedMs = performance.now();
  return {
    stop: async (): Promise<number> => {
      child.kill("SIGTERM");
      const { sent } = JSON.parse(await new Response(child.stdout).text()) as { sent: number };
      return sent / ((performance.now() - startedMs) / 1_000);
    },
  };
}

async function measureFleet(apiUrl: string): Promise<Latencies & { bytes: number; gpus: number }> {
  const url = `${apiUrl}/api/v1/fleet?metric=${gridMetrics.join(",")}`;
  const latencies: number[] = [];
  let errors = 0;
  let bytes = 0;
  let gpus = 0;
  // The first request of an API reads whatever it does; the figures are the steady state.
  await (await fetch(url)).text();
  for (let index = 0; index < fleetRequests; index += 1) {
    const sentMs = performance.now();
    const response = await fetch(url);
    const text = await response.text();
    if (response.status !== 200) {
      errors += 1;
      continue;
    }
    latencies.push(performance.now() - sentMs);
    bytes = text.length;
    gpus = (JSON.parse(text) as { items: unknown[] }).items.length;
  }
  return { ...summarize(latencies, errors), bytes, gpus };
}

async function apiFigures(apiUrl: string): Promise<{ cpuSeconds: number; rssBytes: number }> {
  const page = await (await fetch(`${apiUrl}/metrics`)).text();
  return {
    cpuSeconds: metricValue(page, "process_cpu_seconds_total") ?? Number.NaN,
    rssBytes: metricValue(page, "process_resident_memory_bytes") ?? Number.NaN,
  };
}

interface ClientReport {
  streams: number;
  events: number;
  datapoints: number;
  failed: number;
  endedEarly: number;
  lags: number[];
}

async function measureStreams(stack: PipelineStack) {
  const halves = [0, 1].map((half) =>
    Array.from({ length: streamClients / 2 }, (_, index) => benchUuid(half * (streamClients / 2) + index)),
  );
  const before = await apiFigures(stack.apiUrl);
  const startedMs = performance.now();
  const children = halves.map((uuids) =>
    Bun.spawn(
      ["bun", join(import.meta.dir, "dashboard", "sse-clients.ts"), stack.apiUrl, String(streamSeconds), ...uuids],
      {
        stdout: "pipe",
        stderr: "inherit",
        env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: "1024" },
      },
    ),
  );
  let rssPeakBytes = 0;
  let open = 0;
  const sampling = setInterval(async () => {
    const figures = await apiFigures(stack.apiUrl).catch(() => undefined);
    rssPeakBytes = Math.max(rssPeakBytes, figures?.rssBytes ?? 0);
    const page = await (await fetch(`${stack.apiUrl}/metrics`)).text();
    const line = page.split("\n").find((candidate) => candidate.startsWith('api_open_streams{kind="datapoints"'));
    open = Math.max(open, Number(line?.split(" ").at(-1) ?? 0));
  }, 1_000);
  const reports = await Promise.all(
    children.map(async (child) => JSON.parse(await new Response(child.stdout).text()) as ClientReport),
  );
  clearInterval(sampling);
  const after = await apiFigures(stack.apiUrl);
  const elapsedS = (performance.now() - startedMs) / 1_000;
  const lags = reports.flatMap((report) => report.lags).sort((a, b) => a - b);
  return {
    clients: streamClients,
    seconds: streamSeconds,
    events: reports.reduce((sum, report) => sum + report.events, 0),
    datapoints: lags.length,
    failed: reports.reduce((sum, report) => sum + report.failed + report.endedEarly, 0),
    open_streams_seen: open,
    lag_p50_ms: percentile(lags, 0.5),
    lag_p99_ms: percentile(lags, 0.99),
    api_cpu_percent: round(((after.cpuSeconds - before.cpuSeconds) / elapsedS) * 100),
    api_rss_peak_mib: round(Math.max(rssPeakBytes, after.rssBytes) / 1_048_576),
  };
}

/**
 * The fleet page with every GPU in Chromium: time from navigation to the whole grid, then
 * the frame intervals (requestAnimationFrame) over `seconds` while changes stream in.
 */
async function measureFleetPage(stack: PipelineStack, seconds: number) {
  const browser = await openBrowser({ width: 1600, height: 1000 });
  try {
    const startedMs = performance.now();
    await browser.page.goto(`${stack.apiUrl}/`);
    await browser.page.waitForSelector(`.fleet-grid[data-gpu-count="${fleetGpus}"]`, { timeout: 60_000 });
    const firstRenderMs = performance.now() - startedMs;
    const frames = await browser.page.evaluate(
      (milliseconds) =>
        new Promise<number[]>((resolve) => {
          const intervals: number[] = [];
          const start = performance.now();
          let last = start;
          const tick = (now: number) => {
            intervals.push(now - last);
            last = now;
            if (now - start >= milliseconds) resolve(intervals);
            else requestAnimationFrame(tick);
          };
          requestAnimationFrame(tick);
        }),
      seconds * 1_000,
    );
    frames.sort((a, b) => a - b);
    return {
      gpus: fleetGpus,
      first_render_ms: round(firstRenderMs),
      frames: frames.length,
      frame_p50_ms: round(percentile(frames, 0.5)),
      frame_p99_ms: round(percentile(frames, 0.99)),
      frame_max_ms: round(frames.at(-1) ?? Number.NaN),
      errors: browser.errors.length,
      outside_requests: browser.outsideRequests.length,
    };
  } finally {
    await browser.close();
  }
}

/** Cumulative counts of the API's latency histogram for the telemetry route, by upper bound (s). */
async function telemetryLatencyBuckets(apiUrl: string): Promise<Map<number, number>> {
  const page = await (await fetch(`${apiUrl}/metrics`)).text();
  const buckets = new Map<number, number>();
  for (const line of page.split("\n")) {
    if (
      !line.startsWith("http_request_duration_seconds_bucket{") ||
      !line.includes('route="/api/v1/gpus/:id/telemetry"')
    )
      continue;
    const bound = /le="([^"]+)"/.exec(line)?.[1];
    if (bound === undefined || !line.includes('status="200"')) continue;
    const upper = bound === "+Inf" ? Number.POSITIVE_INFINITY : Number(bound);
    buckets.set(upper, (buckets.get(upper) ?? 0) + Number(line.split(" ").at(-1)));
  }
  return buckets;
}

/** The bucket bound (ms) under which `fraction` of the requests between two readings fell, as the API timed them. */
function serverQuantileMs(before: Map<number, number>, after: Map<number, number>, fraction: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Number.POSITIVE_INFINITY) ?? 0) - (before.get(Number.POSITIVE_INFINITY) ?? 0);
  for (const bound of bounds) {
    const count = (after.get(bound) ?? 0) - (before.get(bound) ?? 0);
    if (count >= fraction * total) return bound * 1_000;
  }
  return Number.NaN;
}

/** A second API on the same ClickHouse whose fleet answers are read for every request (no reuse, no broker). */
async function withUncachedApi<T>(stack: PipelineStack, run: (apiUrl: string) => Promise<T>): Promise<T> {
  const port = await freePort();
  const child = Bun.spawn(["bun", join(import.meta.dir, "..", "..", "services", "api", "main.ts")], {
    env: {
      ...process.env,
      CLICKHOUSE_URL: `http://127.0.0.1:${stack.plan.clickhousePort}`,
      CLICKHOUSE_PASSWORD: stack.plan.secrets.clickhousePassword,
      API_HOST: "127.0.0.1",
      API_PORT: String(port),
      API_LIST_CACHE_TTL_MS: "0",
      // On 127.0.0.1 like the dev stack's API, whose read scope is open too.
      API_READ_OPEN: "true",
      BROKER_URL: "",
      LOG_LEVEL: "warn",
    },
    stdout: "ignore",
    stderr: "inherit",
  });
  try {
    const apiUrl = `http://127.0.0.1:${port}`;
    await eventually("the second API", async () => ((await fetch(`${apiUrl}/ready`)).ok ? true : undefined), 30_000);
    return await run(apiUrl);
  } finally {
    child.kill("SIGTERM");
    await child.exited;
  }
}

/** The API's CPU time while `run` runs, as a percentage of one core over that time. */
async function apiCpuPercent(apiUrl: string, run: () => Promise<unknown>): Promise<number> {
  const before = await apiFigures(apiUrl);
  const startedMs = performance.now();
  await run();
  const after = await apiFigures(apiUrl);
  return round(((after.cpuSeconds - before.cpuSeconds) / ((performance.now() - startedMs) / 1_000)) * 100);
}

/** Collections in a JSC GC log (BUN_JSC_logGC=1): how many, of which full, their longest pause and total cycle time. */
function gcFigures(log: string): { collections: number; full: number; pause_max_ms: number; cycle_ms: number } {
  let collections = 0;
  let full = 0;
  let pauseMaxMs = 0;
  let cycleMs = 0;
  for (const line of log.split("\n")) {
    if (line.includes("=> FullCollection")) full += 1;
    const end = /\(max ([\d.]+)\), cycle ([\d.]+)ms END/.exec(line);
    if (end === null) continue;
    collections += 1;
    pauseMaxMs = Math.max(pauseMaxMs, Number(end[1]));
    cycleMs += Number(end[2]);
  }
  return { collections, full, pause_max_ms: round(pauseMaxMs), cycle_ms: round(cycleMs) };
}

/** Open loop: request i is due at start + i / rate; its latency counts from then. */
async function measureLiveWindows(
  stack: PipelineStack,
): Promise<Latencies & { rowsPerPage: number; statuses: Record<string, number> }> {
  const total = liveRatePerS * liveSeconds;
  const latencies: number[] = [];
  let errors = 0;
  let rows = 0;
  const statuses: Record<string, number> = {};
  const pending: Promise<void>[] = [];
  const startMs = performance.now();
  for (let index = 0; index < total; index += 1) {
    const dueMs = startMs + (index * 1_000) / liveRatePerS;
    const waitMs = dueMs - performance.now();
    if (waitMs > 0) await Bun.sleep(waitMs);
    const start = new Date(Date.now() - liveWindowMs).toISOString();
    const url = `${stack.apiUrl}/api/v1/gpus/${benchUuid((index * 7919) % liveGpus)}/telemetry?start_time=${start}`;
    pending.push(
      fetch(url).then(async (response) => {
        const body = (await response.json()) as { items?: unknown[] };
        const key = `${response.status} ${response.headers.get("x-telemetry-source") ?? ""}`.trim();
        statuses[key] = (statuses[key] ?? 0) + 1;
        if (response.status !== 200) errors += 1;
        else {
          latencies.push(performance.now() - dueMs);
          rows += body.items?.length ?? 0;
        }
      }),
    );
  }
  await Promise.all(pending);
  return { ...summarize(latencies, errors), rowsPerPage: Math.round(rows / Math.max(1, latencies.length)), statuses };
}

async function main(): Promise<void> {
  const load = loadavg().map((value) => round(value, 2));
  const gcLog = process.env.BENCH_GC_LOG === "1";
  const stack = await startPipelineStack({
    collector: { COLLECTOR_LINGER_MS: "100" },
    ...(gcLog ? { api: { BUN_JSC_logGC: "1" } } : {}),
  });
  let reporting: ReturnType<typeof reportEverySecond> | undefined;
  try {
    await stack.stack.scale("collector", 1);
    await new Admin({ brokerUrl: stack.brokerUrl, token: stack.brokerToken }).ensureTopic("telemetry", 12);
    const producer = await Producer.create({
      brokerUrl: stack.brokerUrl,
      token: stack.brokerToken,
      topic: "telemetry",
      lingerMs: 5,
    });
    console.log(`loading ${fleetGpus.toLocaleString()} GPUs x ${benchMetrics.length} metrics through the pipeline...`);
    const fleetRecords = benchTails(0, fleetGpus);
    await produceAll(producer, fleetRecords);
    await produceAll(producer, fleetRecords);
    await eventually(
      `${fleetGpus} GPUs in the fleet`,
      async () =>
        (await getJson<{ items: unknown[] }>(`${stack.apiUrl}/api/v1/fleet?metric=DCGM_FI_DEV_GPU_UTIL`)).items
          .length === fleetGpus
          ? true
          : undefined,
      120_000,
    );
    const fleet = await measureFleet(stack.apiUrl);
    console.log("fleet:", fleet);
    const fleetUncached = await withUncachedApi(stack, (apiUrl) => measureFleet(apiUrl));
    console.log("fleet, every request read (API_LIST_CACHE_TTL_MS=0):", fleetUncached);

    await producer.close();
    reporting = reportEverySecond(stack.brokerUrl, stack.brokerToken, liveGpus);
    await Bun.sleep(5_000);
    const streams = await measureStreams(stack);
    console.log("streams:", streams);
    const fleetPage = await measureFleetPage(stack, short ? 5 : 10);
    console.log("fleet page in Chromium:", fleetPage);
    // Live windows that reach back before the tail's horizon read their older part from
    // ClickHouse; the tail covers API_LIVE_TAIL_SPAN_S once it has run that long.
    await eventually(
      "a live tail whose horizon is older than the windows asked",
      async () => {
        const status = await getJson<{ live_tail: { state: string; horizon: string | null } }>(
          `${stack.apiUrl}/api/v1/pipeline`,
        );
        const horizonMs = Date.parse(status.live_tail.horizon ?? "");
        return status.live_tail.state === "live" && horizonMs < Date.now() - liveWindowMs - 5_000 ? true : undefined;
      },
      120_000,
    );
    const pipelineBefore = await getJson<{ live_tail: { state: string }; freshness: Record<string, number | null> }>(
      `${stack.apiUrl}/api/v1/pipeline`,
    );
    const tailOnly = await apiCpuPercent(stack.apiUrl, () => Bun.sleep(10_000));
    const apiLog = join(stack.plan.dataDir, "logs", "api.log");
    const logFrom = Bun.file(apiLog).size;
    const bucketsBefore = await telemetryLatencyBuckets(stack.apiUrl);
    let loopDelayMaxS = 0;
    const loopProbe = setInterval(async () => {
      const page = await (await fetch(`${stack.apiUrl}/metrics`)).text();
      loopDelayMaxS = Math.max(loopDelayMaxS, metricValue(page, "api_event_loop_delay_max_seconds") ?? 0);
    }, 1_000);
    let live: Awaited<ReturnType<typeof measureLiveWindows>> | undefined;
    const liveCpu = await apiCpuPercent(stack.apiUrl, async () => {
      live = await measureLiveWindows(stack);
    });
    clearInterval(loopProbe);
    if (live === undefined) throw new Error("no live-window figures");
    const gc = gcLog ? gcFigures(await Bun.file(apiLog).slice(logFrom).text()) : undefined;
    const bucketsAfter = await telemetryLatencyBuckets(stack.apiUrl);
    const serverTime = {
      server_p50_below_ms: serverQuantileMs(bucketsBefore, bucketsAfter, 0.5),
      server_p99_below_ms: serverQuantileMs(bucketsBefore, bucketsAfter, 0.99),
      api_event_loop_delay_max_ms: round(loopDelayMaxS * 1_000),
      api_cpu_percent: liveCpu,
      api_cpu_percent_tail_only: tailOnly,
      ...(gc === undefined ? {} : { api_gc: gc }),
    };
    console.log("live windows:", live, "live tail before:", pipelineBefore.live_tail);
    const sentPerS = round(await reporting.stop(), 0);
    reporting = undefined;
    const result = {
      bench: "dashboard",
      mode: short ? "short" : "full",
      load_before: load,
      datapoints_per_s: sentPerS,
      fleet: { metrics: gridMetrics.length, ...fleet },
      fleet_uncached: fleetUncached,
      streams,
      fleet_page: fleetPage,
      live_windows: {
        rate_per_s: liveRatePerS,
        seconds: liveSeconds,
        window_s: liveWindowMs / 1_000,
        tail_state: pipelineBefore.live_tail.state,
        ...live,
        ...serverTime,
      },
      freshness: pipelineBefore.freshness,
      targets: {
        fleet_p99_below_50ms: fleet.p99Ms < 50 && fleet.errors === 0,
        delivery_lag_p99_below_1s: streams.lag_p99_ms < 1_000 && streams.failed === 0,
        api_rss_below_300mib: streams.api_rss_peak_mib < 300,
        live_window_p99_below_25ms: live.p99Ms < 25 && live.errors === 0,
      },
    };
    console.log(JSON.stringify(result));
  } finally {
    await reporting?.stop();
    await stack.stop();
  }
}

await main();
