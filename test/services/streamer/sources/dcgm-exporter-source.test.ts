import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import {
  DcgmExporterSource,
  type DcgmExporterSourceOptions,
  sampleToPoint,
} from "../../../../services/streamer/sources/dcgm-exporter-source.ts";
import type { RowBatch } from "../../../../services/streamer/sources/row-batch.ts";
import type { TelemetryPoint } from "../../../../src/domain/telemetry.ts";
import { decodeTelemetryRecord, stampRecord } from "../../../../src/telemetry/record-codec.ts";

const fixturePath = new URL("../../../fixtures/dcgm-exporter-metrics.txt", import.meta.url).pathname;
const fixture = await Bun.file(fixturePath).text();
const scrapeMs = 1_763_790_000_000;

let exporter: Server<undefined>;
let slow: Server<undefined>;
let downUrl = "";
let slowRequests = 0;
let userAgents: string[] = [];

beforeAll(async () => {
  exporter = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request) {
      const path = new URL(request.url).pathname;
      userAgents.push(request.headers.get("user-agent") ?? "");
      if (path === "/metrics")
        return new Response(fixture, { headers: { "content-type": "text/plain; version=0.0.4" } });
      if (path === "/broken")
        return new Response('DCGM_FI_DEV_GPU_UTIL{gpu="0" 5\nDCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-1"} NaN\n');
      if (path === "/stamped") {
        return new Response(
          'DCGM_FI_DEV_GPU_TEMP{gpu="2",UUID="GPU-x",device="nvidia2",modelName="NVIDIA A100"} 41 1752871354000\n',
        );
      }
      if (path === "/huge") return new Response("#".repeat(200_000));
      return new Response("not found", { status: 404 });
    },
  });
  slow = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch() {
      slowRequests += 1;
      await Bun.sleep(3_000);
      return new Response(fixture);
    },
  });
  // A port that was just free and now has nobody listening: connection refused.
  const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  downUrl = `http://127.0.0.1:${closed.port}/metrics`;
  await closed.stop(true);
});

afterAll(async () => {
  await exporter.stop(true);
  await slow.stop(true);
});

function options(overrides: Partial<DcgmExporterSourceOptions> = {}): DcgmExporterSourceOptions {
  return {
    timeoutMs: 500,
    bodyBytesMax: 100_000,
    samplesPerScrapeMax: 10_000,
    batchRowsMax: 1000,
    errorsKeptMax: 10,
    userAgent: "gpu-telemetry-streamer/test-1",
    clock: () => scrapeMs,
    ...overrides,
  };
}

function collect() {
  const points: TelemetryPoint[] = [];
  const keys: string[] = [];
  const onBatch = (batch: RowBatch) => {
    for (let index = batch.start; index < batch.end; index += 1) {
      const decoded = decodeTelemetryRecord(stampRecord(scrapeMs + 5, batch.tails[index] as Uint8Array));
      if (!decoded.ok) throw new Error(decoded.detail);
      points.push(decoded.point);
      keys.push(batch.keys[index] as string);
    }
  };
  return { points, keys, onBatch };
}

const url = (server: Server<undefined>, path: string) => `http://127.0.0.1:${server.port}${path}`;

describe("DcgmExporterSource", () => {
  test("scrapes the fixture over a real socket into CSV-shaped datapoints, saying who scrapes", async () => {
    const rows = collect();
    userAgents = [];
    let fetched = 0;
    const scrape = await new DcgmExporterSource(options()).scrapeTarget(url(exporter, "/metrics"), rows.onBatch, {
      onFetched: () => {
        fetched += 1;
      },
    });
    expect(scrape).toMatchObject({ ok: true, accepted: 48, parseErrorCount: 0, rejectedByReason: {} });
    expect(fetched).toBe(1);
    expect(userAgents).toEqual(["gpu-telemetry-streamer/test-1"]);
    expect(rows.points).toHaveLength(48);
    expect(new Set(rows.keys)).toEqual(
      new Set(["GPU-5fd4f087-86f3-7a43-b711-4771313afc50", "GPU-bc7a12ab-4998-fdc5-0785-2678a929a142"]),
    );
    expect(rows.points[0]).toEqual({
      ts: scrapeMs + 5,
      source_ts: scrapeMs,
      uuid: "GPU-5fd4f087-86f3-7a43-b711-4771313afc50",
      hostname: "mtv5-dgx1-hgpu-031",
      gpu_index: 0,
      device: "nvidia0",
      model: "NVIDIA H100 80GB HBM3",
      metric: "DCGM_FI_DEV_SM_CLOCK",
      value: 1980,
      container: "",
      pod: "",
      namespace: "",
      labels: {
        pci_bus_id: "00000000:18:00.0",
        DCGM_FI_DRIVER_VERSION: "535.129.03",
        instance: `127.0.0.1:${exporter.port}`,
      },
    });
    const trainer = rows.points.find((point) => point.gpu_index === 1);
    expect(trainer).toMatchObject({
      container: "trainer",
      namespace: "ml-team",
      pod: "llama-finetune-7d9c5b6f4-x2kqp",
    });
    expect(trainer?.labels.container).toBeUndefined();
    const power = rows.points.find((point) => point.metric === "DCGM_FI_DEV_POWER_USAGE" && point.gpu_index === 1);
    expect(power?.value).toBe(512.87);
  });

  test("a target that is down or answers an error status is reported, not thrown", async () => {
    const source = new DcgmExporterSource(options());
    const down = await source.scrapeTarget(downUrl, () => undefined);
    expect(down.ok).toBe(false);
    expect(down.error).toBeString();
    const missing = await source.scrapeTarget(url(exporter, "/missing"), () => undefined);
    expect(missing).toMatchObject({ ok: false, error: "HTTP 404", accepted: 0 });
  });

  test("a slow target times out; an aborted fetch says so and hands on nothing", async () => {
    const rows = collect();
    const source = new DcgmExporterSource(options({ timeoutMs: 200 }));
    const timedOut = await source.scrapeTarget(url(slow, "/metrics"), rows.onBatch);
    expect(slowRequests).toBeGreaterThan(0);
    expect(timedOut).toMatchObject({ ok: false, error: "timed out after 200 ms" });
    const controller = new AbortController();
    const pending = new DcgmExporterSource(options({ timeoutMs: 5_000 })).scrapeTarget(
      url(slow, "/metrics"),
      rows.onBatch,
      { signal: controller.signal, onFetched: () => rows.points.push(undefined as never) },
    );
    await Bun.sleep(50);
    controller.abort();
    expect(await pending).toMatchObject({ ok: false, error: "aborted" });
    expect(rows.points).toHaveLength(0);
  });

  test("a body over bodyBytesMax fails that target", async () => {
    const scrape = await new DcgmExporterSource(options()).scrapeTarget(url(exporter, "/huge"), () => undefined);
    expect(scrape.error).toContain("exceeds 100000");
  });

  test("malformed lines and NaN samples are counted, not produced", async () => {
    const rows = collect();
    const scrape = await new DcgmExporterSource(options()).scrapeTarget(url(exporter, "/broken"), rows.onBatch);
    expect(scrape).toMatchObject({
      ok: true,
      accepted: 0,
      parseErrorCount: 1,
      rejectedByReason: { non_numeric_value: 1 },
    });
    expect(scrape.parseErrors[0]?.line).toBe(1);
    expect(rows.points).toHaveLength(0);
  });

  test("a sample's own timestamp is its source_ts; a missing Hostname comes from the target", async () => {
    const rows = collect();
    await new DcgmExporterSource(options()).scrapeTarget(url(exporter, "/stamped"), rows.onBatch);
    expect(rows.points[0]).toMatchObject({
      source_ts: 1_752_871_354_000,
      hostname: "127.0.0.1",
      gpu_index: 2,
      value: 41,
    });
  });

  test("batches are at most batchRowsMax rows", async () => {
    const sizes: number[] = [];
    await new DcgmExporterSource(options({ batchRowsMax: 20 })).scrapeTarget(url(exporter, "/metrics"), (batch) => {
      sizes.push(batch.end - batch.start);
    });
    expect(sizes).toEqual([20, 20, 8]);
  });
});

describe("sampleToPoint", () => {
  test("a sample without UUID or gpu label is rejected with its reason", () => {
    const context = { host: "h", instance: "h:9400", scrapeMs };
    const base = { name: "DCGM_FI_DEV_GPU_UTIL", value: 1, timestampMs: undefined };
    expect(sampleToPoint({ ...base, labels: { gpu: "0" } }, context)).toMatchObject({
      ok: false,
      reason: "missing_uuid",
    });
    expect(sampleToPoint({ ...base, labels: { UUID: "GPU-1" } }, context)).toMatchObject({
      ok: false,
      reason: "bad_gpu_index",
    });
  });
});
