import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApiApp } from "../../../services/api/app.ts";
import { parseCorsOrigins } from "../../../services/api/cors.ts";
import { StreamHub } from "../../../services/api/live/stream-hub.ts";
import { routesOf } from "../../../src/http/route-guard.ts";
import { createLogger } from "../../../src/observability/logger.ts";
import { createMetricsRegistry } from "../../../src/observability/metrics.ts";
import { bearer, testReadToken } from "../../support/test-tokens.ts";
import { type ApiFixture, gpuA, startApiFixture, testApiAccess } from "./api-fixture.ts";

const grafana = "https://grafana.example.com";
let fixture: ApiFixture;
let app: ReturnType<typeof createApiApp>;

beforeAll(async () => {
  fixture = await startApiFixture();
  const logger = createLogger({ service: "api", instanceId: "test", level: "silent" });
  const registry = createMetricsRegistry({ service: "api", instanceId: "cors" });
  app = createApiApp({
    clickhouse: fixture.client,
    logger,
    registry,
    cors: parseCorsOrigins(`${grafana}, http://localhost:3000`),
    access: testApiAccess(),
    hub: new StreamHub({ streamsMax: 10, bufferBytesMax: 65_536, heartbeatMs: 5_000, registry, logger }),
  });
}, 60_000);
afterAll(async () => {
  await fixture?.stop();
});

/** With the read token, unless the request says otherwise. */
const call = (path: string, init: RequestInit = {}) => {
  const headers = new Headers(init.headers);
  if (!headers.has("authorization")) headers.set("authorization", bearer(testReadToken).authorization);
  return app.handle(new Request(`http://localhost${path}`, { ...init, headers }));
};
const preflight = (origin: string, method = "GET", headers = "authorization") =>
  call("/api/v1/gpus", {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": method, "access-control-request-headers": headers },
  });

describe("CORS", () => {
  test("a configured origin's preflight is allowed with the methods and headers the API takes", async () => {
    const response = await preflight(grafana);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(grafana);
    expect(response.headers.get("access-control-allow-methods")).toBe("GET, HEAD, POST");
    expect(response.headers.get("access-control-allow-headers")).toContain("authorization");
    expect(response.headers.get("access-control-max-age")).toBe("600");
    expect(response.headers.get("vary")).toContain("Origin");
    expect(response.headers.get("access-control-allow-credentials")).toBeNull();
  });

  test("other origins, methods and headers get a preflight without permission", async () => {
    for (const response of [
      await preflight("https://evil.example.com"),
      await preflight(grafana, "DELETE"),
      await preflight(grafana, "GET", "x-custom"),
    ]) {
      expect(response.status).toBe(204);
      expect(response.headers.get("access-control-allow-origin")).toBeNull();
      expect(response.headers.get("access-control-allow-methods")).toBeNull();
    }
  });

  test("answers of every kind carry the origin and the readable headers; others get none", async () => {
    const origin = { headers: { origin: grafana } };
    for (const path of [
      "/api/v1/gpus",
      `/api/v1/gpus/${gpuA.uuid}`,
      "/api/v1/gpus/GPU-nope",
      "/api/v1/gpus?limit=0",
      "/health",
      "/nope",
    ]) {
      const response = await call(path, origin);
      expect({ path, allow: response.headers.get("access-control-allow-origin") }).toEqual({ path, allow: grafana });
      expect(response.headers.get("access-control-expose-headers")).toContain("x-request-id");
      await response.text();
    }
    const stream = await call("/api/v1/fleet/stream", origin);
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    expect(stream.headers.get("access-control-allow-origin")).toBe(grafana);
    await stream.body?.cancel();
    const other = await call("/api/v1/gpus", { headers: { origin: "https://evil.example.com" } });
    expect(other.status).toBe(200);
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    expect(other.headers.get("vary")).toContain("Origin");
  });

  test("preflights need no token; a refusal for a missing token carries the CORS headers too", async () => {
    const preflightWithoutToken = await app.handle(
      new Request("http://localhost/api/v1/gpus", {
        method: "OPTIONS",
        headers: {
          origin: grafana,
          "access-control-request-method": "GET",
          "access-control-request-headers": "authorization",
        },
      }),
    );
    expect(preflightWithoutToken.status).toBe(204);
    expect(preflightWithoutToken.headers.get("access-control-allow-origin")).toBe(grafana);
    const refused = await app.handle(new Request("http://localhost/api/v1/gpus", { headers: { origin: grafana } }));
    expect(refused.status).toBe(401);
    expect(refused.headers.get("access-control-allow-origin")).toBe(grafana);
    expect(refused.headers.get("access-control-expose-headers")).toContain("x-request-id");
  });

  test("the preflight is one route, declared open; a preflight lets no token-less request through", async () => {
    const routes = routesOf(app);
    expect(routes.filter((route) => route.method === "OPTIONS")).toEqual([
      { method: "OPTIONS", path: "/*", access: "open" },
    ]);
    const guarded = routes.filter((route) => route.access !== "open");
    expect(guarded.length).toBeGreaterThanOrEqual(8);
    for (const route of guarded) {
      const path = route.path.replace(":id", gpuA.uuid);
      const headers = { origin: grafana, "access-control-request-method": route.method };
      const allowed = await app.handle(new Request(`http://localhost${path}`, { method: "OPTIONS", headers }));
      expect(allowed.headers.get("access-control-allow-origin")).toBe(grafana);
      const actual = await app.handle(
        new Request(`http://localhost${path}`, { method: route.method, headers: { origin: grafana } }),
      );
      expect({ route: `${route.method} ${route.path}`, status: actual.status }).toEqual({
        route: `${route.method} ${route.path}`,
        status: 401,
      });
      await actual.text();
    }
  });

  test("off by default: no CORS headers, and OPTIONS is no route", async () => {
    const response = await fixture.app.handle(
      new Request("http://localhost/api/v1/gpus", { headers: { origin: grafana } }),
    );
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    const options = await fixture.request("/api/v1/gpus", {
      method: "OPTIONS",
      headers: { origin: grafana, "access-control-request-method": "GET" },
    });
    expect(options.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("API_CORS_ORIGINS: origins, *, or a clear error", () => {
    expect(parseCorsOrigins("")).toBeUndefined();
    expect(parseCorsOrigins("*")?.origins).toBe("*");
    expect(parseCorsOrigins("https://A.example:8443")?.origins).toEqual(["https://a.example:8443"]);
    expect(() => parseCorsOrigins("https://grafana.example.com/")).toThrow(/not an origin/);
    expect(() => parseCorsOrigins("grafana.example.com")).toThrow(/not an origin/);
    expect(() => parseCorsOrigins("*, https://a.example")).toThrow(/\*/);
  });
});
