import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { FleetGpu, FleetMetric, FleetMigInstance, FleetSnapshot } from "../../../../services/api/api-models.ts";
import { insertDatapoints } from "../../../../src/clickhouse/datapoints-insert.ts";
import { bearer, testReadToken } from "../../../support/test-tokens.ts";
import {
  type ApiFixture,
  baseMs,
  gpuA,
  gpuAInstants,
  gpuAStepMs,
  gpuB,
  gpuC,
  gpuCSeconds,
  iso,
  power,
  startApiFixture,
  temperature,
  utilization,
} from "../api-fixture.ts";

let fixture: ApiFixture;
const podGpu = { uuid: "GPU-0d000000-0000-0000-0000-000000000004", hostname: "host-c", gpu_index: 2 };
const podTs = baseMs + 2 * 3_600_000 - 10_000;

beforeAll(async () => {
  fixture = await startApiFixture({ fleetStaleAfterMs: 60_000 });
  const workload = { namespace: "ml", pod: "train-7", container: "worker" };
  await insertDatapoints(
    fixture.client,
    [
      {
        ...podGpu,
        ts: podTs,
        source_ts: podTs,
        device: "nvidia2",
        model: "NVIDIA A100",
        metric: utilization,
        value: 97,
        labels: {},
        ...workload,
      },
      {
        ...podGpu,
        ts: podTs - 5,
        source_ts: podTs,
        device: "nvidia2",
        model: "NVIDIA A100",
        metric: power,
        value: 350.5,
        labels: {},
        ...workload,
      },
    ],
    { dedupToken: "fleet-test/0" },
  );
});
afterAll(async () => {
  await fixture?.stop();
});

const lastOfA = baseMs + (gpuAInstants - 1) * gpuAStepMs;

describe("GET /api/v1/fleet", () => {
  test("every GPU in one answer, by host and index, with values aligned to the metric list", async () => {
    const { status, body } = await fixture.get("/api/v1/fleet");
    expect(status).toBe(200);
    expect(TypeCompiler.Compile(FleetSnapshot, [FleetMetric, FleetGpu, FleetMigInstance]).Check(body)).toBe(true);
    expect(body.items.map((gpu: { uuid: string }) => gpu.uuid)).toEqual([gpuA.uuid, gpuB.uuid, gpuC.uuid, podGpu.uuid]);
    expect(body.metrics).toEqual(
      [
        { name: temperature, unit: "°C" },
        { name: utilization, unit: "%" },
        { name: power, unit: "W" },
      ].sort((a, b) => a.name.localeCompare(b.name)),
    );
    const names = body.metrics.map((metric: { name: string }) => metric.name);
    const a = body.items[0];
    expect(a).toMatchObject({
      hostname: "host-a",
      gpu_index: 0,
      model: "NVIDIA H100 80GB HBM3",
      pod: "",
      last_seen: iso(lastOfA),
    });
    expect(a.values[names.indexOf(utilization)]).toBe((gpuAInstants - 1) % 101);
    expect(a.values[names.indexOf(temperature)]).toBe(40 + ((gpuAInstants - 1) % 30));
    expect(a.values[names.indexOf(power)]).toBeNull();
    expect(a.timestamps[names.indexOf(power)]).toBeNull();
    expect(a.timestamps[names.indexOf(utilization)]).toBe(iso(lastOfA));
    expect(body.items[2].values[names.indexOf(power)]).toBe(gpuCSeconds - 1);
    expect(body.truncated).toBe(false);
    expect(body.generated_at).toBe(iso(fixture.nowMs));
  });

  test("marks GPUs silent for longer than stale_after_ms", async () => {
    const { body } = await fixture.get("/api/v1/fleet");
    expect(body.stale_after_ms).toBe(60_000);
    expect(body.items.map((gpu: { stale: boolean }) => gpu.stale)).toEqual([true, true, true, false]);
  });

  test("returns only the metrics asked for, in the order of the metric list", async () => {
    const { body } = await fixture.get(`/api/v1/fleet?metric=${power},${utilization}`);
    expect(body.metrics.map((metric: { name: string }) => metric.name)).toEqual([power, utilization]);
    const d = body.items.find((gpu: { uuid: string }) => gpu.uuid === podGpu.uuid);
    expect(d).toMatchObject({ namespace: "ml", pod: "train-7", container: "worker", values: [350.5, 97] });
    expect(d.timestamps).toEqual([iso(podTs - 5), iso(podTs)]);
  });

  test("filters by hostname, model, namespace and pod (exact), alone and together", async () => {
    const uuids = async (query: string) =>
      (await fixture.get(`/api/v1/fleet?${query}`)).body.items.map((gpu: { uuid: string }) => gpu.uuid);
    expect(await uuids("hostname=host-a")).toEqual([gpuA.uuid, gpuB.uuid]);
    expect(await uuids("model=NVIDIA%20A100")).toEqual([podGpu.uuid]);
    expect(await uuids("namespace=ml")).toEqual([podGpu.uuid]);
    expect(await uuids("namespace=")).toEqual([gpuA.uuid, gpuB.uuid, gpuC.uuid]);
    expect(await uuids("pod=train-7&hostname=host-c")).toEqual([podGpu.uuid]);
    expect(await uuids("pod=train-7&hostname=host-a")).toEqual([]);
  });

  test("a fleet larger than fleetGpusMax is cut and says so", async () => {
    const small = await startApiFixture({ fleetGpusMax: 2 });
    try {
      const { body } = await small.get("/api/v1/fleet");
      expect(body.truncated).toBe(true);
      expect(body.items.map((gpu: { uuid: string }) => gpu.uuid)).toEqual([gpuA.uuid, gpuB.uuid]);
    } finally {
      await small.stop();
    }
  });

  test("bad input is a 400 naming the parameter", async () => {
    const unknown = await fixture.get("/api/v1/fleet?metric=NOPE");
    expect(unknown.status).toBe(400);
    expect(unknown.body.details[0].field).toBe("metric");
    const long = await fixture.get(`/api/v1/fleet?pod=${"x".repeat(300)}`);
    expect(long.status).toBe(400);
    expect(long.body.details[0].field).toBe("pod");
  });
});

describe("GET /api/v1/fleet, large answers", () => {
  test("are gzipped for a client that accepts it, and plain otherwise", async () => {
    const big = await startApiFixture({ listCacheTtlMs: 1_000 });
    try {
      const many = Array.from({ length: 400 }, (_, index) => ({
        uuid: `GPU-fleet-${String(index).padStart(4, "0")}`,
        hostname: `host-${Math.floor(index / 8)}`,
        gpu_index: index % 8,
        device: "nvidia0",
        model: "NVIDIA H100 80GB HBM3",
        ts: big.nowMs - 1_000,
        source_ts: big.nowMs - 1_000,
        metric: utilization,
        value: index,
        container: "",
        pod: "",
        namespace: "",
        labels: {},
      }));
      await insertDatapoints(big.client, many, { dedupToken: "fleet-gzip/0" });
      const request = (encoding: string) =>
        big.app.handle(
          new Request("http://localhost/api/v1/fleet", {
            headers: { "accept-encoding": encoding, ...bearer(testReadToken) },
          }),
        );
      const plain = await request("identity");
      const text = await plain.text();
      expect(text.length).toBeGreaterThan(64 * 1024);
      expect(plain.headers.get("content-encoding")).toBeNull();
      const zipped = await request("gzip, deflate");
      expect(zipped.headers.get("content-encoding")).toBe("gzip");
      const bytes = new Uint8Array(await zipped.arrayBuffer());
      expect(bytes.byteLength).toBeLessThan(text.length / 5);
      expect(new TextDecoder().decode(Bun.gunzipSync(bytes))).toBe(text);
    } finally {
      await big.stop();
    }
  });
});
