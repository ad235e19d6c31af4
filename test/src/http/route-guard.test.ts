import { describe, expect, test } from "bun:test";
import { Elysia, t } from "elysia";
import { parseTokenEntries } from "../../../src/auth/token-entries.ts";
import { TokenStore } from "../../../src/auth/token-store.ts";
import { newToken } from "../../../src/auth/token-syntax.ts";
import {
  type GuardedRoute,
  guardApp,
  type Refusal,
  RouteGuard,
  routedPath,
  routesOf,
} from "../../../src/http/route-guard.ts";
import { openAccess, requiresScope } from "../../../src/http/route-security.ts";

const producer = newToken();
const collector = newToken();
const admin = newToken();
const tokens = new TokenStore(["produce", "consume", "admin"]);
tokens.replace("produce", "p", parseTokenEntries(`${producer}\n${collector}`, { source: "p", limitable: false }));
tokens.replace("consume", "c", parseTokenEntries(`${collector} groups=collectors`, { source: "c", limitable: true }));
tokens.replace("admin", "a", parseTokenEntries(admin, { source: "a", limitable: false }));

const routes: GuardedRoute[] = [
  { method: "GET", path: "/health", access: "open" },
  { method: "GET", path: "/v1/topics", access: ["produce", "consume", "admin"] },
  { method: "POST", path: "/v1/topics", access: ["admin"] },
  { method: "POST", path: "/v1/topics/:topic/produce", access: ["produce"] },
  { method: "GET", path: "/v1/topics/:topic/partitions/:partition/fetch", access: ["consume"] },
  { method: "GET", path: "/v1/groups/:group", access: ["consume", "admin"] },
  { method: "GET", path: "/v1/groups/special", access: ["admin"] },
  { method: "POST", path: "/v1/groups/:group/commit", access: ["consume"] },
  { method: "GET", path: "/assets/*", access: "open" },
];
const refusals: Refusal[] = [];
const guard = new RouteGuard(routes, {
  realm: "broker",
  tokens,
  limitParam: "group",
  refuse: (refusal) => Response.json({ error: refusal.code, message: refusal.message }, { status: refusal.status }),
  onRefused: (refusal) => refusals.push(refusal),
});

function check(method: string, path: string, token?: string, host = "127.0.0.1:9092") {
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  return guard.check(new Request(`http://${host}${path}`, { method, headers }));
}
const status = (response: Response | undefined) => response?.status ?? "served";

describe("RouteGuard", () => {
  test("401 without a token or with one no list holds, with RFC 6750 challenges; 403 without the scope", async () => {
    const missing = check("POST", "/v1/topics");
    expect(missing?.status).toBe(401);
    expect(missing?.headers.get("www-authenticate")).toBe('Bearer realm="broker"');
    expect(await missing?.json()).toMatchObject({ error: "missing_token" });
    const invalid = check("POST", "/v1/topics", newToken());
    expect(invalid?.status).toBe(401);
    expect(invalid?.headers.get("www-authenticate")).toBe('Bearer realm="broker", error="invalid_token"');
    const scope = check("POST", "/v1/topics", producer);
    expect(scope?.status).toBe(403);
    expect(scope?.headers.get("www-authenticate")).toBe(
      'Bearer realm="broker", error="insufficient_scope", scope="admin"',
    );
    expect(await scope?.json()).toMatchObject({ error: "insufficient_scope", message: "the token lacks scope admin" });
    expect(status(check("POST", "/v1/topics", admin))).toBe("served");
    expect(refusals.map((refusal) => refusal.code)).toEqual(["missing_token", "invalid_token", "insufficient_scope"]);
  });

  test("any one of a route's scopes will do; open routes and wildcards need nothing", () => {
    for (const token of [producer, collector, admin]) expect(status(check("GET", "/v1/topics", token))).toBe("served");
    expect(status(check("GET", "/health"))).toBe("served");
    expect(status(check("GET", "/assets/app/main.js"))).toBe("served");
  });

  test("a consume token limited to groups works on those groups only, and on routes without a group", () => {
    expect(status(check("POST", "/v1/groups/collectors/commit", collector))).toBe("served");
    expect(status(check("GET", "/v1/groups/collectors", collector))).toBe("served");
    const other = check("POST", "/v1/groups/streamers/commit", collector);
    expect(other?.status).toBe(403);
    expect(status(check("GET", "/v1/topics/telemetry/partitions/3/fetch", collector))).toBe("served");
    expect(status(check("GET", "/v1/groups/c%6fllectors", collector))).toBe("served");
    expect(check("GET", "/v1/groups/%E0%A4%A", collector)?.status).toBe(403);
    expect(status(check("GET", "/v1/groups/streamers", admin))).toBe("served");
  });

  test("a static segment wins over a parameter, as in the router", () => {
    expect(check("GET", "/v1/groups/special", collector)?.status).toBe(403);
    expect(status(check("GET", "/v1/groups/special", admin))).toBe("served");
  });

  test("the path checked is the one the router serves: trailing slash, HEAD, short Host; anything unmatched is a 404 here", () => {
    expect(check("POST", "/v1/topics/", producer)?.status).toBe(403);
    expect(check("HEAD", "/v1/topics")?.status).toBe(401);
    // Elysia reads the path from index 11 of the URL: with Host "ab" that is "/topics".
    expect(routedPath("http://ab/v1/topics")).toBe("/topics");
    expect(check("GET", "/v1/topics", undefined, "ab")?.status).toBe(404);
    expect(routedPath("http://127.0.0.1:9092/v1/groups/x?y=/z")).toBe("/v1/groups/x");
    // Without a Host header Bun's request URL is the bare path, and Elysia routes it whole.
    expect(routedPath("/v1/groups/x?y=1")).toBe("/v1/groups/x");
    for (const path of ["/v1//topics", "/v1/Topics", "/v1/%74opics", "/nothing", "/v1/topics/a/b/c"]) {
      expect({ path, status: check("GET", path, admin)?.status }).toEqual({ path, status: 404 });
    }
    expect(check("PUT", "/v1/topics", admin)?.status).toBe(404);
  });

  test("a malformed Authorization header counts as no token", () => {
    for (const header of ["Basic dXNlcjpwYXNz", "Bearer", `Bearer ${producer} extra`, `Token ${producer}`]) {
      const response = guard.check(new Request("http://127.0.0.1:9/v1/topics", { headers: { authorization: header } }));
      expect({ header, status: response?.status }).toEqual({ header, status: 401 });
    }
    const lower = guard.check(
      new Request("http://127.0.0.1:9/v1/topics", { headers: { authorization: `bearer ${admin}` } }),
    );
    expect(lower).toBeUndefined();
  });

  test("without a token store (auth off) every matched route is served; open scopes need no token", () => {
    const off = new RouteGuard(routes, {
      realm: "b",
      tokens: undefined,
      refuse: () => new Response(null, { status: 401 }),
    });
    expect(off.check(new Request("http://127.0.0.1:9/v1/topics", { method: "POST" }))).toBeUndefined();
    const openRead = new RouteGuard([{ method: "GET", path: "/api/v1/gpus", access: ["read"] }], {
      realm: "api",
      tokens: new TokenStore(["read"]),
      openScopes: ["read"],
      refuse: () => new Response(null, { status: 401 }),
    });
    expect(openRead.check(new Request("http://127.0.0.1:9/api/v1/gpus"))).toBeUndefined();
  });
});

describe("a token cookie (the dashboard's event streams)", () => {
  const reader = newToken();
  const store = new TokenStore(["read"]);
  store.replace("read", "v", parseTokenEntries(reader, { source: "v", limitable: false }));
  const streamRoutes: GuardedRoute[] = [{ method: "GET", path: "/api/v1/fleet/stream", access: ["read"] }];
  const options = { realm: "api", tokens: store, refuse: () => new Response(null, { status: 401 }) };
  const request = (headers: Record<string, string>) =>
    new Request("http://127.0.0.1:8080/api/v1/fleet/stream", { headers });

  test("is read when the service names it and no Authorization header is sent; the same check applies", () => {
    const guard = new RouteGuard(streamRoutes, { ...options, tokenCookie: "read_token" });
    expect(
      guard.check(request({ cookie: `theme=dark; read_token=${encodeURIComponent(reader)}; x=1` })),
    ).toBeUndefined();
    expect(guard.check(request({ cookie: `read_token=${newToken()}` }))?.status).toBe(401);
    expect(guard.check(request({ cookie: "read_token=" }))?.status).toBe(401);
    expect(guard.check(request({ cookie: "other_read_token=x" }))?.status).toBe(401);
    // The header wins over the cookie.
    expect(
      guard.check(request({ authorization: `Bearer ${newToken()}`, cookie: `read_token=${reader}` }))?.status,
    ).toBe(401);
  });

  test("is ignored by a service that names none", () => {
    const guard = new RouteGuard(streamRoutes, options);
    expect(guard.check(request({ cookie: `read_token=${reader}` }))?.status).toBe(401);
  });
});

describe("guarding an Elysia app", () => {
  test("routes declare their access in detail.security; a route without a declaration refuses to start", () => {
    const app = new Elysia()
      .get("/health", () => "ok", { detail: openAccess })
      .get("/data/:id", ({ params }) => params.id, { detail: requiresScope("read") });
    expect(routesOf(app)).toEqual([
      { method: "GET", path: "/health", access: "open" },
      { method: "GET", path: "/data/:id", access: ["read"] },
    ]);
    const undeclared = new Elysia().get("/forgotten", () => "x");
    expect(() => routesOf(undeclared)).toThrow("route GET /forgotten declares no security");
  });

  test("the check runs before parsing and validation: a bad body without a token is a 401, not a 400", async () => {
    const reader = newToken();
    const store = new TokenStore(["read"]);
    store.replace("read", "v", parseTokenEntries(reader, { source: "v", limitable: false }));
    const app = new Elysia().post("/items", ({ body }) => body, {
      body: t.Object({ name: t.String() }),
      detail: requiresScope("read"),
    });
    guardApp(app, {
      realm: "test",
      tokens: store,
      refuse: (refusal) => Response.json({ error: refusal.code }, { status: refusal.status }),
    });
    const bad = { method: "POST", body: "{not json", headers: { "content-type": "application/json" } };
    expect((await app.handle(new Request("http://localhost/items", bad))).status).toBe(401);
    const authorized = { ...bad, headers: { ...bad.headers, authorization: `Bearer ${reader}` } };
    expect((await app.handle(new Request("http://localhost/items", authorized))).status).toBe(400);
  });
});
