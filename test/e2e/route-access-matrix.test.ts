import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApiApp } from "../../services/api/app.ts";
import { parseCorsOrigins } from "../../services/api/cors.ts";
import { createCollectorApp } from "../../services/collector/ops-app.ts";
import { controlRoutes, startControlServer } from "../../services/dev/control-server.ts";
import { ProcessSupervisor } from "../../services/dev/process-supervisor.ts";
import { DevStack } from "../../services/dev/stack.ts";
import { createStreamerApp } from "../../services/streamer/app.ts";
import { IdempotencyKeys } from "../../services/streamer/idempotency-keys.ts";
import { StreamerMetrics } from "../../services/streamer/metrics.ts";
import { UploadSpool } from "../../services/streamer/upload-spool.ts";
import { parseTokenEntries } from "../../src/auth/token-entries.ts";
import { TokenStore } from "../../src/auth/token-store.ts";
import { newToken } from "../../src/auth/token-syntax.ts";
import { brokerRoutes, groupLimitParam } from "../../src/broker-protocol/routes.ts";
import { createClickHouse } from "../../src/clickhouse/client.ts";
import { type GuardedRoute, routesOf } from "../../src/http/route-guard.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { createMetricsRegistry } from "../../src/observability/metrics.ts";
import { startTestBroker, type TestBroker } from "../brokers/server/test-broker.ts";
import { freePort } from "../support/free-port.ts";

/**
 * The 401/403 matrix over every route of every service, generated from the routes the
 * services really serve (the broker's guarded routes, the Elysia apps' `app.routes`,
 * the dev control endpoint's table), so a route added tomorrow is in it without a
 * line here. For each route: no token → 401 with a Bearer challenge, a token nobody
 * issued → 401, a token of another scope → 403 (401 where a service has one scope: a
 * token of another service is not one it knows), each scope it accepts → neither.
 * Open routes (/health, /ready, /metrics, Swagger) answer without a token.
 */

const silent = createLogger({ service: "matrix", instanceId: "matrix", level: "silent" });
const deadUrl = `http://127.0.0.1:${await freePort()}`;

/** A value for every path parameter any service declares; a new parameter fails loudly. */
const sampleParams: Record<string, string> = {
  topic: "matrix",
  partition: "0",
  group: "collectors",
  id: "GPU-5fd4f087-86f3-7a43-b711-4771313afc50",
  kind: "streamer",
  file: "swagger-ui.css",
};

function concretePath(template: string, overrides: Record<string, string> = {}): string {
  return template
    .replace(/:([A-Za-z_]+)/g, (_, name: string) => {
      const value = overrides[name] ?? sampleParams[name];
      if (value === undefined) throw new Error(`no sample value for path parameter :${name} of ${template}`);
      return encodeURIComponent(value);
    })
    .replace(/\*$/, "x");
}

interface Service {
  name: string;
  routes: readonly GuardedRoute[];
  send(method: string, path: string, token?: string): Promise<Response>;
  /** A token per scope, holding that scope only. */
  tokenOf: Record<string, string>;
  /** The service's error body, checked on every refusal. */
  errorShape: string[];
}

interface Outcome {
  route: string;
  case: string;
  status: number;
  expected: string;
}

async function walk(service: Service): Promise<{ problems: Outcome[]; checked: number }> {
  const problems: Outcome[] = [];
  let checked = 0;
  const expectStatus = async (
    route: GuardedRoute,
    label: string,
    token: string | undefined,
    allowed: (s: number) => boolean,
    expected: string,
  ) => {
    const response = await service.send(route.method, concretePath(route.path), token);
    // An event stream that was let in would never end: only refusals are read whole.
    const refused = response.status === 401 || response.status === 403;
    const text = refused ? await response.text() : "";
    if (!refused) await response.body?.cancel();
    checked += 1;
    const status = response.status;
    if (!allowed(status)) problems.push({ route: `${route.method} ${route.path}`, case: label, status, expected });
    if (status === 401 && !(response.headers.get("www-authenticate") ?? "").startsWith("Bearer realm=")) {
      problems.push({
        route: `${route.method} ${route.path}`,
        case: `${label}: challenge`,
        status,
        expected: "WWW-Authenticate: Bearer",
      });
    }
    if (status === 401 || status === 403) {
      const body = JSON.parse(text) as Record<string, unknown>;
      const keys = Object.keys(body).sort();
      if (JSON.stringify(keys) !== JSON.stringify([...service.errorShape].sort())) {
        problems.push({
          route: `${route.method} ${route.path}`,
          case: `${label}: body ${keys.join(",")}`,
          status,
          expected: service.errorShape.join(","),
        });
      }
    }
  };
  const scopes = Object.keys(service.tokenOf);
  for (const route of service.routes) {
    if (route.access === "open") {
      await expectStatus(route, "open, no token", undefined, (s) => s !== 401 && s !== 403, "not 401/403");
      continue;
    }
    await expectStatus(route, "no token", undefined, (s) => s === 401, "401");
    await expectStatus(route, "unknown token", newToken(), (s) => s === 401, "401");
    const access = route.access;
    const other = scopes.find((scope) => !access.includes(scope));
    if (other !== undefined) {
      await expectStatus(route, `scope ${other}`, service.tokenOf[other], (s) => s === 403, "403");
    } else if (scopes.length === 1) {
      await expectStatus(route, "another service's token", foreignToken, (s) => s === 401, "401");
    }
    for (const scope of access) {
      await expectStatus(route, `scope ${scope}`, service.tokenOf[scope], (s) => s !== 401 && s !== 403, "not 401/403");
    }
  }
  return { problems, checked };
}

/** Valid for the broker's produce scope: a token of another service to the API, the streamer, the control endpoint. */
const foreignToken = newToken();

function fetchSender(baseUrl: string) {
  return (method: string, path: string, token?: string) =>
    fetch(`${baseUrl}${path}`, {
      method,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(10_000),
    });
}

function appSender(app: { handle(request: Request): Promise<Response> }) {
  return (method: string, path: string, token?: string) =>
    app.handle(
      new Request(`http://localhost${path}`, {
        method,
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      }),
    );
}

function storeOf(tokens: Record<string, string>): TokenStore {
  const store = new TokenStore(Object.keys(tokens));
  for (const [scope, token] of Object.entries(tokens)) {
    store.replace(scope, scope, parseTokenEntries(token, { source: scope, limitable: false }));
  }
  return store;
}

const brokerTokens = { produce: foreignToken, consume: newToken(), admin: newToken() };
const limitedConsume = newToken();
let broker: TestBroker;

beforeAll(async () => {
  broker = await startTestBroker({
    BROKER_TOKENS_PRODUCE: brokerTokens.produce,
    BROKER_TOKENS_CONSUME: `${brokerTokens.consume}\n${limitedConsume} groups=collectors`,
    BROKER_TOKENS_ADMIN: brokerTokens.admin,
    BROKER_WAIT_MS_MAX: "0",
  });
});
afterAll(async () => {
  await broker?.cleanup();
});

describe("401/403 on every route of every service", () => {
  test("broker: every route of the route table, served with the scopes the table gives it", async () => {
    const served = new Map(broker.broker.guardedRoutes.map((route) => [`${route.method} ${route.path}`, route.access]));
    for (const spec of Object.values(brokerRoutes)) {
      expect({ route: `${spec.method} ${spec.path}`, access: served.get(`${spec.method} ${spec.path}`) }).toEqual({
        route: `${spec.method} ${spec.path}`,
        access: spec.scopes,
      });
    }
    const openPaths = broker.broker.guardedRoutes.filter((route) => route.access === "open").map((route) => route.path);
    expect(openPaths.sort()).toEqual([
      "/favicon.ico",
      "/health",
      "/metrics",
      "/ready",
      "/swagger",
      "/swagger/assets/:file",
      "/swagger/json",
    ]);
    const { problems, checked } = await walk({
      name: "broker",
      routes: broker.broker.guardedRoutes,
      send: fetchSender(broker.url),
      tokenOf: brokerTokens,
      errorShape: ["error", "message", "retryable"],
    });
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(4 * Object.keys(brokerRoutes).length);
  });

  test("broker: a consume token limited to a group works on that group and is a 403 on any other", async () => {
    const send = fetchSender(broker.url);
    const groupRoutes = broker.broker.guardedRoutes.filter(
      (route) =>
        route.path.includes(`:${groupLimitParam}`) && route.access !== "open" && route.access.includes("consume"),
    );
    expect(groupRoutes.length).toBeGreaterThanOrEqual(5);
    for (const route of groupRoutes) {
      const own = await send(route.method, concretePath(route.path, { group: "collectors" }), limitedConsume);
      const other = await send(route.method, concretePath(route.path, { group: "streamers" }), limitedConsume);
      expect({ route: route.path, own: own.status === 403 || own.status === 401, other: other.status }).toEqual({
        route: route.path,
        own: false,
        other: 403,
      });
      expect(other.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    }
    // Routes without a group are not limited: fetch and topic metadata work.
    const fetchPath = concretePath(brokerRoutes.fetch.path);
    expect((await send("GET", `${fetchPath}?offset=0&wait_ms=0`, limitedConsume)).status).not.toBe(403);
    const admin = await send("DELETE", concretePath(brokerRoutes.deleteGroup.path), limitedConsume);
    expect(admin.status).toBe(403);
  });

  test.each([
    ["without CORS", ""],
    ["with CORS for any origin (its preflight route is open)", "*"],
  ])("API %s: every data route needs scope read; operations and Swagger are open", async (_, corsOrigins) => {
    const clickhouse = createClickHouse({
      url: deadUrl,
      username: "default",
      password: "",
      database: "x",
      requestTimeoutMs: 2_000,
    });
    const readToken = newToken();
    const app = createApiApp({
      clickhouse,
      logger: silent,
      registry: createMetricsRegistry({ service: "api", instanceId: "matrix" }),
      access: { tokens: storeOf({ read: readToken }), readOpen: false },
      limits: { readyTimeoutMs: 500 },
      cors: parseCorsOrigins(corsOrigins),
    });
    try {
      const routes = routesOf(app);
      expect(routes.filter((route) => route.access !== "open").length).toBeGreaterThanOrEqual(6);
      const preflights = routes.filter((route) => route.method === "OPTIONS");
      expect(preflights).toEqual(corsOrigins === "" ? [] : [{ method: "OPTIONS", path: "/*", access: "open" }]);
      const { problems } = await walk({
        name: "api",
        routes,
        send: appSender(app),
        tokenOf: { read: readToken },
        errorShape: ["error", "message", "details", "request_id"],
      });
      expect(problems).toEqual([]);
    } finally {
      await clickhouse.close();
    }
  });

  test("API with read open: the data routes answer without a token", async () => {
    const clickhouse = createClickHouse({
      url: deadUrl,
      username: "default",
      password: "",
      database: "x",
      requestTimeoutMs: 2_000,
    });
    const app = createApiApp({
      clickhouse,
      logger: silent,
      registry: createMetricsRegistry({ service: "api", instanceId: "matrix-open" }),
      access: { tokens: new TokenStore(["read"]), readOpen: true },
    });
    try {
      for (const route of routesOf(app)) {
        const response = await app.handle(new Request(`http://localhost${concretePath(route.path)}`));
        expect({ route: route.path, refused: response.status === 401 || response.status === 403 }).toEqual({
          route: route.path,
          refused: false,
        });
      }
    } finally {
      await clickhouse.close();
    }
  });

  test("streamer: the upload needs scope upload; operations and Swagger are open", async () => {
    const uploadToken = newToken();
    const spoolDir = mkdtempSync(join(tmpdir(), "matrix-spool-"));
    const registry = createMetricsRegistry({ service: "streamer", instanceId: "matrix" });
    const app = createStreamerApp({
      registry,
      logger: silent,
      broker: { brokerUrl: deadUrl, token: undefined },
      uploadTokens: storeOf({ upload: uploadToken }),
      joined: () => false,
      readyTimeoutMs: 200,
      upload: {
        target: () => undefined,
        metrics: new StreamerMetrics(registry),
        logger: silent,
        bytesMax: 1024 * 1024,
        batchRowsMax: 1000,
        spool: new UploadSpool(spoolDir),
        keys: new IdempotencyKeys({ keysMax: 10, ttlMs: 60_000, nowMs: () => performance.now() }),
      },
    });
    try {
      const routes = routesOf(app);
      expect(routes.filter((route) => route.access !== "open").map((route) => route.path)).toEqual(["/api/v1/upload"]);
      const { problems } = await walk({
        name: "streamer",
        routes,
        send: appSender(app),
        tokenOf: { upload: uploadToken },
        errorShape: ["error", "message"],
      });
      expect(problems).toEqual([]);
    } finally {
      rmSync(spoolDir, { recursive: true, force: true });
    }
  });

  test("collector: only operations routes, all open, and still guarded (an unknown path is a JSON 404)", async () => {
    const app = createCollectorApp({
      registry: createMetricsRegistry({ service: "collector", instanceId: "m" }),
      checks: [],
    });
    const routes = routesOf(app);
    expect(routes.every((route) => route.access === "open")).toBe(true);
    const { problems } = await walk({ name: "collector", routes, send: appSender(app), tokenOf: {}, errorShape: [] });
    expect(problems).toEqual([]);
    const unknown = await app.handle(new Request("http://localhost/admin"));
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: "not_found" });
  });

  test("dev control endpoint: every route needs the control token", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "matrix-dev-"));
    const supervisor = new ProcessSupervisor(silent, {
      tailLinesMax: 10,
      restartBackoffMsMin: 100,
      restartBackoffMsMax: 1_000,
      stopTimeoutMs: 1_000,
      stableRunMs: 1_000,
    });
    // Scaling to 0 starts nothing: the real stack object, no process behind it.
    const stack = new DevStack({} as never, supervisor, silent);
    const token = newToken();
    const server = startControlServer({
      port: 0,
      stack,
      status: () => ({ processes: [], figures: undefined }),
      token,
    });
    try {
      const { problems } = await walk({
        name: "dev-control",
        routes: controlRoutes,
        send: (method, path, presented) =>
          fetchSender(`http://127.0.0.1:${server.port}`)(
            method,
            path.startsWith("/scale") ? `${path}?count=0` : path,
            presented,
          ),
        tokenOf: { control: token },
        errorShape: ["error", "message"],
      });
      expect(problems).toEqual([]);
    } finally {
      await server.stop(true);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
