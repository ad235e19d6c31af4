import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApiApp } from "../../../../services/api/app.ts";
import { createClickHouse } from "../../../../src/clickhouse/client.ts";
import { createLogger } from "../../../../src/observability/logger.ts";
import { createMetricsRegistry } from "../../../../src/observability/metrics.ts";
import {
  type ApiFixture,
  baseMs,
  enc,
  gpuA,
  gpuAInstants,
  gpuAStepMs,
  gpuB,
  gpuC,
  iso,
  power,
  startApiFixture,
  temperature,
  testApiAccess,
  utilization,
} from "../api-fixture.ts";

let fixture: ApiFixture;
beforeAll(async () => {
  fixture = await startApiFixture();
});
afterAll(async () => {
  await fixture?.stop();
});

describe("GET /api/v1/gpus", () => {
  test("lists every GPU with metadata, ordered by uuid", async () => {
    const { status, body } = await fixture.get("/api/v1/gpus");
    expect(status).toBe(200);
    expect(body.next_cursor).toBeNull();
    expect(body.items.map((gpu: { uuid: string }) => gpu.uuid)).toEqual([gpuA.uuid, gpuB.uuid, gpuC.uuid]);
    expect(body.items[0]).toEqual({
      id: gpuA.uuid,
      uuid: gpuA.uuid,
      hostname: "host-a",
      gpu_index: 0,
      device: "nvidia0",
      model: "NVIDIA H100 80GB HBM3",
      driver_version: "535.129.03",
      namespace: "",
      pod: "",
      container: "",
      first_seen: iso(baseMs),
      last_seen: iso(baseMs + (gpuAInstants - 1) * gpuAStepMs),
      metrics: [temperature, utilization],
      gpu_instance_id: null,
      gpu_instance_profile: null,
      mig_instances: [],
    });
    expect(body.items[1].driver_version).toBe("");
    expect(body.items[1].metrics).toEqual([power]);
  });

  test("filters by hostname", async () => {
    const { body } = await fixture.get("/api/v1/gpus?hostname=host-b");
    expect(body.items.map((gpu: { uuid: string }) => gpu.uuid)).toEqual([gpuC.uuid]);
    const none = await fixture.get("/api/v1/gpus?hostname=host-z");
    expect(none.status).toBe(200);
    expect(none.body.items).toEqual([]);
  });

  test("pages with limit and cursor without loss or repeat", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page += 1) {
      const path: string = `/api/v1/gpus?limit=2${cursor === null ? "" : `&cursor=${enc(cursor)}`}`;
      const { status, body } = await fixture.get(path);
      expect(status).toBe(200);
      seen.push(...body.items.map((gpu: { uuid: string }) => gpu.uuid));
      cursor = body.next_cursor;
      if (cursor === null) break;
    }
    expect(seen).toEqual([gpuA.uuid, gpuB.uuid, gpuC.uuid]);
    const exact = await fixture.get("/api/v1/gpus?limit=3");
    expect(exact.body.items).toHaveLength(3);
    expect(exact.body.next_cursor).toBeNull();
  });

  test("a cursor from another filter is a 400 naming the cursor", async () => {
    const first = await fixture.get("/api/v1/gpus?limit=1");
    const { status, body } = await fixture.get(
      `/api/v1/gpus?limit=1&hostname=host-a&cursor=${enc(first.body.next_cursor)}`,
    );
    expect(status).toBe(400);
    expect(body.error).toBe("bad_request");
    expect(body.details[0].field).toBe("cursor");
    expect(body.message).toContain("different query");
  });

  test("limit out of range and a malformed cursor are 400s", async () => {
    for (const limit of ["0", "1001", "-5", "2.5", "ten"]) {
      const { status, body } = await fixture.get(`/api/v1/gpus?limit=${limit}`);
      expect(status).toBe(400);
      expect(body.details).toEqual([{ field: "limit", problem: expect.stringContaining("from 1 to 1000") }]);
    }
    const { status, body } = await fixture.get("/api/v1/gpus?cursor=not-a-cursor");
    expect(status).toBe(400);
    expect(body.details[0].field).toBe("cursor");
  });
});

describe("GET /api/v1/gpus/{id}", () => {
  test("returns metadata and the latest value per metric, by uuid", async () => {
    const { status, body } = await fixture.get(`/api/v1/gpus/${gpuA.uuid}`);
    expect(status).toBe(200);
    const lastMs = baseMs + (gpuAInstants - 1) * gpuAStepMs;
    expect(body.uuid).toBe(gpuA.uuid);
    expect(body.latest).toEqual([
      { metric: temperature, value: 40 + ((gpuAInstants - 1) % 30), unit: "°C", timestamp: iso(lastMs) },
      { metric: utilization, value: (gpuAInstants - 1) % 101, unit: "%", timestamp: iso(lastMs) },
    ]);
  });

  test("accepts hostname:index", async () => {
    const { status, body } = await fixture.get("/api/v1/gpus/host-a:1");
    expect(status).toBe(200);
    expect(body.uuid).toBe(gpuB.uuid);
    expect(body.latest).toHaveLength(1);
  });

  test("an unknown GPU is a 404; a malformed id a 400", async () => {
    for (const id of ["GPU-ffffffff-0000-0000-0000-000000000000", "host-a:7", "host-z:0"]) {
      const { status, body } = await fixture.get(`/api/v1/gpus/${id}`);
      expect(status).toBe(404);
      expect(body.error).toBe("not_found");
      expect(body.details[0].field).toBe("id");
    }
    for (const id of ["host-a:x", "host-a:99999", enc("a b"), enc("x".repeat(300))]) {
      const { status, body } = await fixture.get(`/api/v1/gpus/${id}`);
      expect(status).toBe(400);
      expect(body.details[0].field).toBe("id");
    }
  });
});

describe("a ClickHouse error that is not about availability", () => {
  test("is a 500 with the request id, logged, and no SQL or stack in the body", async () => {
    const logLines: string[] = [];
    const client = createClickHouse({
      url: fixture.clickhouse.url,
      username: "default",
      password: fixture.clickhouse.password,
      database: "no_such_database",
      requestTimeoutMs: 5_000,
    });
    const app = createApiApp({
      clickhouse: client,
      logger: createLogger({
        service: "api",
        instanceId: "test",
        level: "info",
        destination: { write: (line: string) => void logLines.push(line) },
      }),
      registry: createMetricsRegistry({ service: "api", instanceId: "test" }),
      limits: { listCacheTtlMs: 0 },
      access: testApiAccess(true),
    });
    const response = await app.handle(new Request("http://localhost/api/v1/gpus"));
    const body = (await response.json()) as { request_id: string };
    await client.close();
    expect(response.status).toBe(500);
    expect(body as unknown).toEqual({
      error: "internal",
      message: expect.stringContaining(body.request_id),
      details: [],
      request_id: expect.any(String),
    });
    expect(JSON.stringify(body)).not.toMatch(/SELECT|Exception|no_such_database/);
    const logged = logLines.map((line) => JSON.parse(line)).find((line) => line.msg === "unexpected error");
    expect(logged).toMatchObject({ requestId: body.request_id, route: "/api/v1/gpus", level: 50 });
  });
});
