/**
 * The operators' fleet, end to end with real processes: streamers discover
 * dcgm-exporters through a Kubernetes API server (EndpointSlices of a Service, served
 * by a real HTTP server in this test), the `streamers` group divides the exporters
 * between two, then three streamers, and a collector carries everything into the
 * embedded ClickHouse.
 *
 * The exporters serve real dcgm-exporter text (pods, MIG instances, an XID, thermal
 * throttling) and record who scraped them and when (the streamer's User-Agent). The
 * test asserts:
 * - while the group is stable each exporter is scraped by exactly one streamer, and
 *   every exporter by someone;
 * - over the whole run, including the hand-overs, no exporter is scraped by two
 *   streamers at once (a new scraper's request arrives after the old one's ended);
 * - every scrape reaches the broker whole (all its samples) and once, and every
 *   scrape an exporter answered is there, but for at most one per hand-over of it;
 * - exporters that appear or go away in the API are picked up and dropped;
 * - the datapoints, their pods and MIG instances are in ClickHouse;
 * - the API serves the GPU alert signals of that data (XID, thermal throttling), and every
 *   series the chart's PrometheusRule reads is served by the running processes.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ClickHouseClient } from "@clickhouse/client";
import { Admin } from "../../src/broker-client/admin.ts";
import { createClickHouse } from "../../src/clickhouse/client.ts";
import { decodeTelemetryRecord } from "../../src/telemetry/record-codec.ts";
import { serviceAccountDir } from "../services/streamer/discovery/service-account.ts";
import { readTopic } from "../services/streamer/topic-records.ts";
import { type FakeExporter, FakeExporterFleet, samplesPerScrape } from "../support/fake-dcgm-exporters.ts";
import { type FakeKubernetesApi, startFakeKubernetesApi } from "../support/fake-kubernetes-api.ts";
import { manifests, renderChart } from "../support/helm-render.ts";
import { metricValue } from "../support/prometheus.ts";
import { eventually, type PipelineStack, startPipelineStack } from "./pipeline-stack.ts";

const exporterCount = 24;
const windowMs = 2_000;
const settleMsMax = 20_000;
const energyMetric = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION";
const slowAnswerMs = 1_200;

let kubernetes: FakeKubernetesApi;
let fleet: FakeExporterFleet;
let stack: PipelineStack;
let clickhouse: ClickHouseClient;

beforeAll(async () => {
  kubernetes = startFakeKubernetesApi({ token: "streamer-sa-token" });
  // A third of the exporters are slow: a hand-over then finds their scrape in flight.
  fleet = new FakeExporterFleet((index) => (index % 3 === 1 ? slowAnswerMs : 30));
  for (const exporter of fleet.start(exporterCount)) publish(exporter);
  stack = await startPipelineStack({
    streamer: {
      STREAMER_SOURCE: "dcgm-exporter",
      STREAMER_EXPORTER_DISCOVERY: "endpointslices",
      STREAMER_KUBERNETES_API_URL: kubernetes.url,
      STREAMER_KUBERNETES_SERVICE_ACCOUNT_DIR: serviceAccountDir({
        token: "streamer-sa-token",
        namespace: "telemetry",
      }),
      STREAMER_EXPORTER_NAMESPACE: "gpu-operator",
      STREAMER_EXPORTER_SERVICE: "nvidia-dcgm-exporter",
      STREAMER_EXPORTER_PORT: "gpu-metrics",
      STREAMER_SCRAPE_INTERVAL_MS: "250",
      STREAMER_DISCOVERY_REFRESH_MS: "1000",
    },
  });
  clickhouse = createClickHouse({
    url: `http://127.0.0.1:${stack.plan.clickhousePort}`,
    username: "default",
    password: stack.plan.secrets.clickhousePassword,
    database: "telemetry",
    requestTimeoutMs: 30_000,
  });
  await stack.stack.scale("collector", 1);
}, 120_000);

afterAll(async () => {
  await clickhouse?.close();
  await stack?.stop();
  await fleet?.stopAll();
  await kubernetes?.stop();
});

/** One EndpointSlice per exporter (each listens on its own port), as a Service's slices would list them. */
function publish(exporter: FakeExporter): void {
  kubernetes.slices.push({
    namespace: "gpu-operator",
    service: "nvidia-dcgm-exporter",
    name: `nvidia-dcgm-exporter-${exporter.index}`,
    ports: [{ name: "gpu-metrics", port: exporter.port }],
    endpoints: [{ ip: "127.0.0.1", pod: `nvidia-dcgm-exporter-${exporter.host}` }],
  });
}

function streamerUrls(): string[] {
  return stack.supervisor.names("streamer").map((name) => {
    const ordinal = Number(name.slice("streamer-".length));
    return `http://127.0.0.1:${stack.plan.streamerPortBase + ordinal - 1}`;
  });
}

async function gauge(url: string, name: string): Promise<number> {
  const page = await (await fetch(`${url}/metrics`)).text();
  return metricValue(page, name) ?? -1;
}

/** Waits until every live streamer is ready and together they own all `count` targets. */
async function settle(streamers: number, count: number): Promise<void> {
  await eventually(
    `${streamers} streamers owning ${count} targets between them`,
    async () => {
      const urls = streamerUrls();
      if (urls.length !== streamers) return undefined;
      const owned = await Promise.all(urls.map((url) => gauge(url, "streamer_owned_targets")));
      const ready = await Promise.all(urls.map(async (url) => (await fetch(`${url}/ready`)).status === 200));
      const total = owned.reduce((sum, value) => sum + value, 0);
      return ready.every(Boolean) && total === count && owned.every((value) => value > 0) ? true : undefined;
    },
    settleMsMax,
  );
}

/** Windows tried for one in which the group stayed stable (a loaded machine may miss a heartbeat). */
const stableWindowAttemptsMax = 5;

/**
 * Scrapers of each exporter in a window during which the group did not change: the
 * property holds for a stable group, and a rebalance inside the window (a streamer that
 * missed heartbeats on a busy machine) would mix two owners legitimately.
 */
async function scrapersInStableWindow(streamers: number, count: number): Promise<Map<number, Set<string>>> {
  const admin = new Admin({ brokerUrl: stack.brokerUrl, token: stack.brokerToken });
  for (let attempt = 1; attempt <= stableWindowAttemptsMax; attempt += 1) {
    await settle(streamers, count);
    const before = await admin.describeGroup("streamers");
    const scrapers = await scrapersInWindow();
    const after = await admin.describeGroup("streamers");
    const stable = before.state === "stable" && after.state === "stable" && before.generation === after.generation;
    if (stable) return scrapers;
  }
  throw new Error(`the streamers group did not stay stable for ${windowMs} ms in ${stableWindowAttemptsMax} tries`);
}

/** Scrapers of each exporter in a window that starts now. */
async function scrapersInWindow(): Promise<Map<number, Set<string>>> {
  const from = performance.now();
  await Bun.sleep(windowMs);
  const to = performance.now();
  const scrapers = new Map<number, Set<string>>();
  for (const request of fleet.requests) {
    if (request.arrivedMs < from || request.arrivedMs > to) continue;
    const set = scrapers.get(request.exporter) ?? new Set<string>();
    set.add(request.scraper);
    scrapers.set(request.exporter, set);
  }
  return scrapers;
}

function expectOneScraperEach(scrapers: Map<number, Set<string>>, exporters: number[], streamers: number): void {
  expect([...scrapers.keys()].sort((a, b) => a - b)).toEqual(exporters);
  for (const [exporter, set] of scrapers) expect({ exporter, scrapers: set.size }).toEqual({ exporter, scrapers: 1 });
  const all = new Set([...scrapers.values()].flatMap((set) => [...set]));
  expect(all.size).toBe(streamers);
  for (const scraper of all) expect(scraper).toMatch(/^gpu-telemetry-streamer\/streamer-\d+$/);
}

test("two, then three streamers divide the exporters: one scraper per exporter at a time, every scrape whole in the broker and in ClickHouse", async () => {
  const all = [...Array(exporterCount).keys()];
  await stack.stack.scale("streamer", 2);
  expectOneScraperEach(await scrapersInStableWindow(2, exporterCount), all, 2);

  await stack.stack.scale("streamer", 3);
  expectOneScraperEach(await scrapersInStableWindow(3, exporterCount), all, 3);

  // The API moves exporters: one goes away, a new one comes up.
  kubernetes.slices.splice(0, 1);
  const [added] = fleet.start(1);
  if (added === undefined) throw new Error("no exporter started");
  publish(added);
  await Bun.sleep(1_500);
  expectOneScraperEach(await scrapersInStableWindow(3, exporterCount), [...all.slice(1), exporterCount], 3);

  await expectAlertSignals(exporterCount + 1);

  await stack.stack.scale("streamer", 0);
  expectExclusive();
  await expectEveryScrapeWhole();
  await expectInClickHouse(exporterCount + 1);
}, 180_000);

/** A request by another streamer arrives only after the previous one of that exporter ended. */
function expectExclusive(): void {
  for (let exporter = 0; exporter <= exporterCount; exporter += 1) {
    const requests = fleet.requests.filter((request) => request.exporter === exporter);
    for (let index = 1; index < requests.length; index += 1) {
      const before = requests[index - 1]!;
      const after = requests[index]!;
      if (before.scraper === after.scraper) continue;
      expect({
        exporter,
        sequence: after.sequence,
        overlapped: before.endedMs === undefined || after.arrivedMs < before.endedMs,
      }).toEqual({
        exporter,
        sequence: after.sequence,
        overlapped: false,
      });
    }
  }
}

async function expectEveryScrapeWhole(): Promise<void> {
  const records = await readTopic(stack.brokerUrl, "telemetry");
  const samples = new Map<string, number>();
  for (const record of records) {
    const decoded = decodeTelemetryRecord(record.value);
    if (!decoded.ok) throw new Error(`${decoded.reason}: ${decoded.detail}`);
    const point = decoded.point;
    expect(record.key).toBe(point.uuid);
    const exporter = Number.parseInt(point.uuid.slice(4, 10), 16);
    // Every sample of a scrape carries the scrape's number in the energy counter of its GPU.
    if (point.metric === energyMetric) {
      const key = `${exporter}/${point.value}`;
      samples.set(key, (samples.get(key) ?? 0) + 1);
    }
  }
  const energyLinesPerScrape = 4;
  for (const [scrape, count] of samples) expect({ scrape, count }).toEqual({ scrape, count: energyLinesPerScrape });
  expect(records.length).toBe(samples.size * samplesPerScrape);
  for (let exporter = 0; exporter <= exporterCount; exporter += 1) {
    const answered = fleet.requests.filter((request) => request.exporter === exporter && !request.abandoned);
    const missing = answered.filter((request) => !samples.has(`${exporter}/${request.sequence}`));
    const handOvers = answered.filter(
      (request, index) => index > 0 && request.scraper !== answered[index - 1]?.scraper,
    );
    // A scrape answered just as its scraper let go of the target (hand-over, shutdown) may go unread; no other.
    expect({ exporter, missing: missing.length <= handOvers.length + 1 }).toEqual({ exporter, missing: true });
    expect({ exporter, answered: answered.length > 1 }).toEqual({ exporter, answered: true });
  }
}

async function expectInClickHouse(exporters: number): Promise<void> {
  const summary = await eventually(
    "every exporter's GPUs, pods and MIG instances in ClickHouse",
    async () => {
      const result = await clickhouse.query({
        query: `SELECT uniqExact(uuid) AS gpus, uniqExact(hostname) AS hosts,
          uniqExactIf(pod, pod != '') AS pods,
          uniqExactIf((uuid, labels['GPU_I_ID']), labels['GPU_I_ID'] != '') AS mig_instances,
          countIf(metric = 'DCGM_FI_DEV_XID_ERRORS' AND value = 79) > 0 AS xid_seen
          FROM datapoints`,
        format: "JSONEachRow",
      });
      const [row] = (await result.json()) as {
        gpus: string;
        hosts: string;
        pods: string;
        mig_instances: string;
        xid_seen: number;
      }[];
      return row !== undefined && Number(row.gpus) === exporters * 4 ? row : undefined;
    },
    60_000,
  );
  expect(Number(summary.hosts)).toBe(exporters);
  expect(Number(summary.pods)).toBe(4);
  expect(Number(summary.mig_instances)).toBe(exporters * 2);
  expect(Number(summary.xid_seen)).toBe(1);
}

/** Every metric a rule of the chart reads is one a running process serves. */
async function expectAlertSignals(exporters: number): Promise<void> {
  const apiPage = await eventually(
    "the API's XID signal for every exporter's fourth GPU",
    async () => {
      const page = await (await fetch(`${stack.apiUrl}/metrics`)).text();
      const xids = page.split("\n").filter((line) => line.startsWith("telemetry_xid_error_gpus{"));
      return xids.length === exporters && xids.every((line) => line.includes('xid="79"')) ? page : undefined;
    },
    30_000,
  );
  const thermal = apiPage
    .split("\n")
    .filter((line) => line.startsWith("telemetry_throttled_gpus{") && line.includes('reason="thermal"'));
  expect(thermal).toHaveLength(exporters);
  expect(thermal[0]).toContain('workload_pod="llama3-70b-finetune-1"');
  const collectorUrl = `http://127.0.0.1:${stack.plan.collectorPortBase}`;
  const pages = await Promise.all(
    [stack.brokerUrl, collectorUrl, streamerUrls()[0] ?? ""].map(async (url) => (await fetch(`${url}/metrics`)).text()),
  );
  const served = new Set(
    [apiPage, ...pages].flatMap((page) => [...page.matchAll(/^# TYPE (\w+) /gm)].map((match) => match[1] ?? "")),
  );
  const values = join(mkdtempSync(join(tmpdir(), "fleet-rules-")), "values.json");
  writeFileSync(
    values,
    JSON.stringify({ metrics: { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true } } }),
  );
  const rendered = renderChart([values]);
  const rule = manifests(rendered.templates).find((object) => object.kind === "PrometheusRule");
  if (rule === undefined) throw new Error("no PrometheusRule rendered");
  const exprs = (rule.spec as { groups: { rules: { expr: string }[] }[] }).groups.flatMap((group) =>
    group.rules.map((entry) => entry.expr),
  );
  const used = new Set(
    exprs.flatMap((expr) => [...expr.matchAll(/([a-z_][a-z0-9_]*)\{/g)].map((match) => match[1] ?? "")),
  );
  used.delete("up");
  expect(used.size).toBeGreaterThan(5);
  for (const name of used) expect({ name, served: served.has(name) }).toEqual({ name, served: true });
}
