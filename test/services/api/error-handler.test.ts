import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApiApp } from "../../../services/api/app.ts";
import { createClickHouse } from "../../../src/clickhouse/client.ts";
import { createFetchReader } from "../../../src/clickhouse/fetch-reader.ts";
import { createLogger } from "../../../src/observability/logger.ts";
import { createMetricsRegistry } from "../../../src/observability/metrics.ts";
import { freePort } from "../../support/free-port.ts";
import { testApiAccess } from "./api-fixture.ts";

/** The API on a real socket, its ClickHouse a port where nothing listens. */
const logLines: string[] = [];
let server: ReturnType<typeof Bun.serve>;
let clickhouse: ReturnType<typeof createClickHouse>;

beforeAll(async () => {
  const deadPort = await freePort();
  clickhouse = createClickHouse({
    url: `http://127.0.0.1:${deadPort}`,
    username: "default",
    password: "",
    database: "telemetry",
    requestTimeoutMs: 2_000,
  });
  const destination = { write: (line: string) => void logLines.push(line) };
  // The hot reads go through the fetch reader, as in main.ts: it must fail the same way.
  const reader = createFetchReader({
    url: `http://127.0.0.1:${deadPort}`,
    username: "default",
    password: "",
    database: "telemetry",
    requestTimeoutMs: 2_000,
  });
  const app = createApiApp({
    clickhouse,
    reader,
    logger: createLogger({ service: "api", instanceId: "test", level: "info", destination }),
    registry: createMetricsRegistry({ service: "api", instanceId: "test" }),
    limits: { retryAfterS: 7, readyTimeoutMs: 1_000 },
    access: testApiAccess(true),
  });
  server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => app.handle(request) });
});
afterAll(async () => {
  await server?.stop(true);
  await clickhouse?.close();
});

const get = (path: string) => fetch(`http://127.0.0.1:${server.port}${path}`);

describe("ClickHouse unreachable", () => {
  test("data routes answer 503 with a retry hint and no internals", async () => {
    for (const path of [
      "/api/v1/gpus",
      "/api/v1/gpus/GPU-1",
      "/api/v1/gpus/GPU-1/telemetry",
      "/api/v1/gpus/h:0/telemetry/summary",
      "/api/v1/hosts",
      "/api/v1/metrics",
    ]) {
      const response = await get(path);
      expect({ path, status: response.status }).toEqual({ path, status: 503 });
      expect(response.headers.get("retry-after")).toBe("7");
      const body = await response.json();
      expect(body).toEqual({
        error: "unavailable",
        message: "ClickHouse is unreachable or overloaded; retry in 7 s",
        details: [],
        retry_after_s: 7,
        request_id: response.headers.get("x-request-id"),
      });
    }
  });

  test("/ready is 503 and /health stays 200", async () => {
    const ready = await get("/ready");
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ ready: false, checks: { clickhouse: false } });
    expect((await get("/health")).status).toBe(200);
  });

  test("bad input is still a 400: it is checked before ClickHouse is asked", async () => {
    const response = await get("/api/v1/gpus/GPU-1/telemetry?limit=0");
    expect(response.status).toBe(400);
  });

  test("each request is logged once with method, route template, status and duration", async () => {
    const response = await get("/api/v1/gpus/GPU-logged");
    const requestId = response.headers.get("x-request-id");
    await Bun.sleep(20);
    const lines = logLines
      .map((line) => JSON.parse(line))
      .filter((line) => line.requestId === requestId && line.msg === "request");
    expect(lines).toEqual([
      expect.objectContaining({
        service: "api",
        method: "GET",
        route: "/api/v1/gpus/:id",
        status: "503",
        ms: expect.any(Number),
      }),
    ]);
  });

  test("a client's x-request-id is kept when it is plain", async () => {
    const response = await fetch(`http://127.0.0.1:${server.port}/health`, { headers: { "x-request-id": "abc-123" } });
    expect(response.headers.get("x-request-id")).toBe("abc-123");
    const odd = await fetch(`http://127.0.0.1:${server.port}/health`, { headers: { "x-request-id": "a b" } });
    expect(odd.headers.get("x-request-id")).not.toBe("a b");
  });

  test("unknown routes are a JSON 404", async () => {
    const response = await get("/api/v2/nothing");
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: "not_found", message: expect.stringContaining("/swagger") });
  });
});
