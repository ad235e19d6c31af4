/**
 * Pods and MIG instances end to end, through the real processes: a real streamer scrapes
 * real dcgm-exporter text (an A100 with three MIG instances used by two pods, and a
 * whole GPU used by a third pod) and produces to a real broker, a real collector inserts
 * into the embedded ClickHouse, and the API process serves it over REST, its live tail
 * and GraphQL.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Server } from "bun";
import { startCollector, waitReady } from "../services/collector/collector-process.ts";
import { type StreamerProcess, startStreamer } from "../services/streamer/streamer-process.ts";
import { type BrokerProcess, startBroker } from "../support/broker-process.ts";
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from "../support/embedded-clickhouse.ts";
import { type ServiceProcess, spawnService, waitUntil } from "../support/service-process.ts";
import { bearer, testBrokerToken, testReadToken } from "../support/test-tokens.ts";

const fixture = await Bun.file(new URL("../fixtures/dcgm-exporter-mig-metrics.txt", import.meta.url).pathname).text();
const mig = "GPU-7a3f2c11-58e9-4d0b-9b2e-0c1d2e3f4a5b";
const whole = "GPU-91b4e6d2-0f1a-4c3b-8d7e-6f5a4b3c2d1e";
const database = "mig_e2e";

let clickhouse: EmbeddedClickHouse;
let broker: BrokerProcess;
let exporter: Server<undefined>;
let collector: ServiceProcess;
let streamer: StreamerProcess;
let api: ServiceProcess;

// biome-ignore lint/suspicious/noExplicitAny: API answers are plain JSON read back by assertions
async function get(path: string): Promise<any> {
  const response = await fetch(`${api.url}${path}`, { headers: bearer(testReadToken) });
  if (response.status !== 200) throw new Error(`GET ${path} → ${response.status}: ${await response.text()}`);
  return response.json();
}

beforeAll(async () => {
  [clickhouse, broker] = await Promise.all([startEmbeddedClickHouse(), startBroker()]);
  exporter = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () => new Response(fixture, { headers: { "content-type": "text/plain; version=0.0.4" } }),
  });
  collector = await startCollector({
    brokerUrl: broker.url,
    clickhouseUrl: clickhouse.url,
    clickhousePassword: clickhouse.password,
    database,
  });
  await waitReady(collector);
  streamer = await startStreamer({
    brokerUrl: broker.url,
    env: {
      STREAMER_SOURCE: "dcgm-exporter",
      STREAMER_EXPORTER_URLS: `http://127.0.0.1:${exporter.port}/metrics`,
      STREAMER_SCRAPE_INTERVAL_MS: "250",
    },
  });
  api = await spawnService({
    name: "api",
    entry: join(import.meta.dir, "..", "..", "services", "api", "main.ts"),
    env: {
      ...clickhouse.serviceEnv(),
      CLICKHOUSE_DATABASE: database,
      BROKER_URL: broker.url,
      BROKER_TOKEN: testBrokerToken,
      API_READ_TOKENS: testReadToken,
      API_PORT: "0",
      API_LIST_CACHE_TTL_MS: "0",
      API_LIVE_COMMIT_POLL_MS: "50",
    },
  });
  await waitUntil(
    async () => {
      const page = await get(`/api/v1/gpus?hostname=dgx-a100-07`).catch(() => ({ items: [] }));
      return page.items.length === 2 && page.items[0].mig_instances.length === 3;
    },
    () => `the API does not list both GPUs and three MIG instances yet\n${collector.logs().slice(-5).join("\n")}`,
    60_000,
  );
}, 120_000);

afterAll(async () => {
  await streamer?.stop();
  await api?.stop();
  await collector?.stop();
  await exporter?.stop(true);
  await Promise.all([broker?.stop(), clickhouse?.stop()]);
}, 60_000);

describe("dcgm-exporter's pods and MIG instances through the pipeline", () => {
  test("the MIG GPU lists its instances with profile and pod; each is addressable with its own values", async () => {
    const { items } = await get("/api/v1/gpus?hostname=dgx-a100-07");
    expect(items.map((gpu: { id: string }) => gpu.id)).toEqual([mig, whole]);
    const [gpu0, gpu1] = items;
    expect(gpu0).toMatchObject({ model: "NVIDIA A100-SXM4-80GB", pod: "", gpu_instance_id: null });
    expect(gpu0.metrics).toEqual([
      "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS",
      "DCGM_FI_DEV_GPU_TEMP",
      "DCGM_FI_DEV_POWER_USAGE",
      "DCGM_FI_DEV_XID_ERRORS",
    ]);
    expect(
      gpu0.mig_instances.map((i: Record<string, string>) => [i.id, i.profile, i.namespace, i.pod, i.container]),
    ).toEqual([
      [`${mig}:mig2`, "3g.40gb", "research", "bert-pretrain-0", "trainer"],
      [`${mig}:mig9`, "1g.10gb", "inference", "triton-7c9d8-abcde", "server"],
      [`${mig}:mig10`, "1g.10gb", "", "", ""],
    ]);
    expect(gpu1).toMatchObject({
      namespace: "research",
      pod: "llama-finetune-6b8f7-x2kqp",
      container: "main",
      mig_instances: [],
    });
    const instance = await get(`/api/v1/gpus/dgx-a100-07:0:mig9`);
    expect(instance).toMatchObject({ id: `${mig}:mig9`, gpu_instance_profile: "1g.10gb", pod: "triton-7c9d8-abcde" });
    const latest = Object.fromEntries(
      instance.latest.map((value: { metric: string; value: number }) => [value.metric, value.value]),
    );
    expect(latest).toEqual({
      DCGM_FI_DEV_FB_FREE: 0,
      DCGM_FI_DEV_FB_USED: 9811,
      DCGM_FI_PROF_GR_ENGINE_ACTIVE: 0.412008,
      DCGM_FI_PROF_PIPE_FP16_ACTIVE: 0.118223,
    });
  });

  test("GPUs by pod or namespace, and the fleet with each instance's values", async () => {
    const ids = async (query: string) =>
      (await get(`/api/v1/gpus?${query}`)).items.map((gpu: { id: string }) => gpu.id);
    expect(await ids("pod=triton-7c9d8-abcde")).toEqual([mig]);
    expect(await ids("pod=llama-finetune-6b8f7-x2kqp")).toEqual([whole]);
    expect(await ids("namespace=research")).toEqual([mig, whole]);
    const fleet = await get("/api/v1/fleet?metric=DCGM_FI_DEV_FB_USED,DCGM_FI_DEV_GPU_TEMP&namespace=inference");
    expect(fleet.items.map((gpu: { uuid: string }) => gpu.uuid)).toEqual([mig]);
    expect(fleet.items[0].values).toEqual([null, 41]);
    expect(fleet.items[0].mig_instances.map((i: { id: string; values: unknown[] }) => [i.id, i.values])).toEqual([
      [`${mig}:mig2`, [30218, null]],
      [`${mig}:mig9`, [9811, null]],
      [`${mig}:mig10`, [0, null]],
    ]);
  });

  test("telemetry of an instance by pod, from the live tail and from ClickHouse alike", async () => {
    // A window of the last seconds (epoch-millisecond start, no end: up to now) lies past the tail's horizon.
    const path = () => `/api/v1/gpus/${mig}:mig2/telemetry?start_time=${Date.now() - 3_000}&metric=DCGM_FI_DEV_FB_USED`;
    let live: { items: { timestamp: string }[] } = { items: [] };
    await waitUntil(
      async () => {
        const response = await fetch(`${api.url}${path()}`, { headers: bearer(testReadToken) });
        live = (await response.json()) as typeof live;
        return response.headers.get("x-telemetry-source") === "tail" && live.items.length > 0;
      },
      () => "live windows are not served by the tail",
      30_000,
    );
    for (const item of live.items)
      expect(item).toMatchObject({ value: 30218, pod: "bert-pretrain-0", container: "trainer" });
    const end = Date.parse(live.items.at(-1)?.timestamp ?? "");
    const settled = await get(
      `/api/v1/gpus/${mig}:mig2/telemetry?start_time=${end - 60_000}&end_time=${end}&metric=DCGM_FI_DEV_FB_USED&pod=bert-pretrain-0`,
    );
    expect(settled.items.length).toBeGreaterThan(0);
    expect(
      (await get(`/api/v1/gpus/${mig}:mig2/telemetry?start_time=${end - 60_000}&end_time=${end}&pod=other`)).items,
    ).toEqual([]);
  }, 60_000);

  test("metrics outside the catalog are listed and served; GraphQL gives the same instances", async () => {
    const { items } = await get("/api/v1/metrics");
    const fp16 = items.find((metric: { name: string }) => metric.name === "DCGM_FI_PROF_PIPE_FP16_ACTIVE");
    expect(fp16).toMatchObject({ in_catalog: false, has_data: true, unit: "" });
    const response = await fetch(`${api.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(testReadToken) },
      body: JSON.stringify({
        query: `{ gpu(id: "${mig}") { mig_instances { id pod latest(metrics: ["DCGM_FI_PROF_PIPE_FP16_ACTIVE"]) { value } } } }`,
      }),
    });
    expect(response.status).toBe(200);
    const { data } = (await response.json()) as { data: { gpu: { mig_instances: unknown[] } } };
    expect(data.gpu.mig_instances).toEqual([
      { id: `${mig}:mig2`, pod: "bert-pretrain-0", latest: [{ value: 0.301977 }] },
      { id: `${mig}:mig9`, pod: "triton-7c9d8-abcde", latest: [{ value: 0.118223 }] },
      { id: `${mig}:mig10`, pod: "", latest: [{ value: 0 }] },
    ]);
  });
});
