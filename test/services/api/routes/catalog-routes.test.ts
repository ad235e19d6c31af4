import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { metricCatalog } from "../../../../src/domain/metric-catalog.ts";
import {
  type ApiFixture,
  baseMs,
  gpuAInstants,
  gpuAStepMs,
  gpuCSeconds,
  iso,
  power,
  startApiFixture,
  temperature,
  utilization,
} from "../api-fixture.ts";

let fixture: ApiFixture;
beforeAll(async () => {
  fixture = await startApiFixture();
});
afterAll(async () => {
  await fixture?.stop();
});

describe("GET /api/v1/hosts", () => {
  test("lists hosts with their GPU count and last report", async () => {
    const { status, body } = await fixture.get("/api/v1/hosts");
    expect(status).toBe(200);
    expect(body.items).toEqual([
      { hostname: "host-a", gpu_count: 2, last_seen: iso(baseMs + (gpuAInstants - 1) * gpuAStepMs) },
      { hostname: "host-b", gpu_count: 1, last_seen: iso(baseMs + (gpuCSeconds - 1) * 1_000) },
    ]);
  });
});

describe("GET /api/v1/metrics", () => {
  test("serves the whole catalog and marks the metrics with data", async () => {
    const { status, body } = await fixture.get("/api/v1/metrics");
    expect(status).toBe(200);
    expect(body.items.map((item: { name: string }) => item.name)).toEqual(metricCatalog.map((metric) => metric.name));
    const withData = body.items
      .filter((item: { has_data: boolean }) => item.has_data)
      .map((item: { name: string }) => item.name);
    expect(withData.sort()).toEqual([utilization, temperature, power].sort());
    expect(body.items[0]).toEqual({ ...metricCatalog[0], in_catalog: true, has_data: true });
  });
});

describe("operations routes", () => {
  test("/health and /ready answer 200 when ClickHouse is up", async () => {
    expect((await fixture.get("/health")).body).toEqual({ status: "ok" });
    const ready = await fixture.get("/ready");
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ ready: true, checks: { clickhouse: true } });
  });

  test("/metrics counts requests by route template and status, with a latency histogram", async () => {
    await fixture.get("/api/v1/gpus/GPU-nope-1");
    await fixture.get("/api/v1/gpus/GPU-nope-2");
    await fixture.get("/api/v1/gpus?limit=0");
    // The count is recorded after the response is sent.
    await Bun.sleep(20);
    const { status, body } = await fixture.get("/metrics");
    expect(status).toBe(200);
    const lines = (body as string).split("\n");
    const series = (name: string, route: string, status: string) =>
      lines.filter(
        (line) => line.startsWith(name) && line.includes(`route="${route}"`) && line.includes(`status="${status}"`),
      );
    expect(series("http_requests_total{", "/api/v1/gpus/:id", "404")).toEqual([expect.stringMatching(/ 2$/)]);
    expect(series("http_requests_total{", "/api/v1/gpus", "400")).toHaveLength(1);
    expect(series("http_request_duration_seconds_count{", "/api/v1/gpus/:id", "404")).toEqual([
      expect.stringMatching(/ 2$/),
    ]);
    expect(series("http_request_duration_seconds_bucket{", "/api/v1/gpus/:id", "404").length).toBeGreaterThan(5);
    expect((body as string).includes("GPU-nope")).toBe(false);
  });
});
