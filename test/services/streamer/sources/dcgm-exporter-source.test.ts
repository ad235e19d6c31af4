import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import {
  DcgmExporterSource,
  type DcgmExporterSourceOptions,
  type ScrapeRound,
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

beforeAll(async () => {
  exporter = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request) {
      const path = new URL(request.url).pathname;
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

function options(targets: string[], overrides: Partial<DcgmExporterSourceOptions> = {}): DcgmExporterSourceOptions {
  return {
    targets,
    intervalMs: 50,
    timeoutMs: 500,
    bodyBytesMax: 100_000,
    samplesPerScrapeMax: 10_000,
    batchRowsMax: 1000,
    errorsKeptMax: 10,
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
  test("scrapes the fixture over a real socket into CSV-shaped datapoints", async () => {
    const rows = collect();
    const round = await new DcgmExporterSource(options([url(exporter, "/metrics")])).scrapeOnce(rows.onBatch);
    expect(round).toMatchObject({ accepted: 48, failedTargets: 0 });
    expect(round.targets[0]).toMatchObject({ ok: true, parseErrorCount: 0, rejectedByReason: {} });
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

  test("a target that is down is counted; the other targets are still scraped", async () => {
    const rows = collect();
    const source = new DcgmExporterSource(options([downUrl, url(exporter, "/metrics"), url(exporter, "/missing")]));
    const round = await source.scrapeOnce(rows.onBatch);
    expect(round.failedTargets).toBe(2);
    expect(round.accepted).toBe(48);
    expect(round.targets.map((target) => target.ok)).toEqual([false, true, false]);
    expect(round.targets[0]?.error).toBeString();
    expect(round.targets[2]?.error).toBe("HTTP 404");
    expect(rows.points).toHaveLength(48);
  });

  test("a slow target times out without holding up the round", async () => {
    const rows = collect();
    const source = new DcgmExporterSource(
      options([url(slow, "/metrics"), url(exporter, "/metrics")], { timeoutMs: 200 }),
    );
    const started = performance.now();
    const round = await source.scrapeOnce(rows.onBatch);
    const elapsedMs = performance.now() - started;
    expect(slowRequests).toBeGreaterThan(0);
    expect(round.targets[0]).toMatchObject({ ok: false, error: "timed out after 200 ms" });
    expect(round.targets[1]?.ok).toBe(true);
    expect(rows.points).toHaveLength(48);
    expect(elapsedMs).toBeLessThan(2_500);
  });

  test("a body over bodyBytesMax fails that target", async () => {
    const round = await new DcgmExporterSource(options([url(exporter, "/huge")])).scrapeOnce(() => undefined);
    expect(round.targets[0]?.error).toContain("bodyBytesMax");
  });

  test("malformed lines and NaN samples are counted, not produced", async () => {
    const rows = collect();
    const round = await new DcgmExporterSource(options([url(exporter, "/broken")])).scrapeOnce(rows.onBatch);
    expect(round.targets[0]).toMatchObject({
      ok: true,
      accepted: 0,
      parseErrorCount: 1,
      rejectedByReason: { non_numeric_value: 1 },
    });
    expect(round.targets[0]?.parseErrors[0]?.line).toBe(1);
    expect(rows.points).toHaveLength(0);
  });

  test("a sample's own timestamp is its source_ts; a missing Hostname comes from the target", async () => {
    const rows = collect();
    await new DcgmExporterSource(options([url(exporter, "/stamped")])).scrapeOnce(rows.onBatch);
    expect(rows.points[0]).toMatchObject({
      source_ts: 1_752_871_354_000,
      hostname: "127.0.0.1",
      gpu_index: 2,
      value: 41,
    });
  });

  test("run() scrapes every interval until aborted", async () => {
    const rounds: ScrapeRound[] = [];
    const controller = new AbortController();
    const source = new DcgmExporterSource(options([url(exporter, "/metrics")], { intervalMs: 20 }));
    const running = source.run(
      () => undefined,
      controller.signal,
      (round) => {
        rounds.push(round);
        if (rounds.length === 3) controller.abort();
      },
    );
    await running;
    expect(rounds).toHaveLength(3);
    expect(rounds.every((round) => round.accepted === 48)).toBe(true);
  });

  test("refuses bad target lists at construction", () => {
    expect(() => new DcgmExporterSource(options([]))).toThrow(/no dcgm-exporter targets/);
    expect(() => new DcgmExporterSource(options(["not a url"]))).toThrow();
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
