import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ClickHouseClient } from "@clickhouse/client";
import { type ApiApp, createApiApp } from "../../../../services/api/app.ts";
import { graphqlLimits } from "../../../../services/api/graphql/query-limits.ts";
import { createClickHouse } from "../../../../src/clickhouse/client.ts";
import { createFetchReader } from "../../../../src/clickhouse/fetch-reader.ts";
import type { RowsClient } from "../../../../src/clickhouse/typed-query.ts";
import { createLogger } from "../../../../src/observability/logger.ts";
import { createMetricsRegistry } from "../../../../src/observability/metrics.ts";
import { bearer, testReadToken } from "../../../support/test-tokens.ts";
import {
  type ApiFixture,
  baseMs,
  database,
  dataset,
  enc,
  fixtureCursorKey,
  gpuA,
  gpuC,
  iso,
  startApiFixture,
  testApiAccess,
} from "../api-fixture.ts";
import { gpuM, gpuP, migDataset, seconds } from "../mig-dataset.ts";

/**
 * GraphQL against REST on the same real engine and data (the API fixture's GPUs and the
 * MIG/pod GPUs): the same answers for the same filters, the same limits, JSON 4xx for
 * bad queries, and one ClickHouse query per field however many GPUs a list holds.
 */

let fixture: ApiFixture;
let app: ApiApp;
let queries = 0;

function counting<T extends object>(client: T): T {
  return new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property !== "query" || typeof value !== "function") return value;
      return (...args: unknown[]) => {
        queries += 1;
        return value.apply(target, args);
      };
    },
  });
}

beforeAll(async () => {
  fixture = await startApiFixture({}, [...dataset(), ...migDataset()]);
  const connection = {
    url: fixture.clickhouse.url,
    username: "default",
    password: fixture.clickhouse.password,
    database,
    requestTimeoutMs: 30_000,
  };
  const registry = createMetricsRegistry({ service: "api", instanceId: "graphql" });
  app = createApiApp({
    clickhouse: counting(fixture.client) as ClickHouseClient,
    reader: counting(createFetchReader(connection)) as RowsClient,
    logger: createLogger({ service: "api", instanceId: "test", level: "silent" }),
    registry,
    clock: () => fixture.nowMs,
    limits: { listCacheTtlMs: 0 },
    cursorKey: fixtureCursorKey,
    access: testApiAccess(),
  });
}, 60_000);
afterAll(async () => {
  await fixture?.stop();
});

// biome-ignore lint/suspicious/noExplicitAny: GraphQL answers are plain JSON read back by assertions
async function graphql(query: string, variables?: Record<string, unknown>): Promise<{ status: number; body: any }> {
  const response = await app.handle(
    new Request("http://localhost/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(testReadToken) },
      body: JSON.stringify({ query, variables }),
    }),
  );
  expect(response.headers.get("content-type")).toContain("application/json");
  return { status: response.status, body: await response.json() };
}

const rest = async (path: string) => (await fixture.get(path)).body;

const gpuFields = `id uuid hostname gpu_index device model driver_version namespace pod container
  first_seen last_seen metrics gpu_instance_id gpu_instance_profile`;
const pageFields =
  "gpu start_time end_time items { timestamp metric value unit source_timestamp namespace pod container } next_cursor";
const summaryFields =
  "gpu step agg source start_time end_time series { metric unit points { timestamp value samples } }";

/** A REST GPU as GraphQL selects it: its instances by id. */
const restGpu = ({ mig_instances, ...gpu }: { mig_instances: { id: string }[] }) => ({
  ...gpu,
  mig_instances: mig_instances.map((instance) => ({ id: instance.id })),
});

describe("GraphQL returns the same data as REST for the same filters", () => {
  test("GPU lists: every filter, pages and cursors", async () => {
    for (const filter of ["", 'namespace: "ml"', 'pod: "infer-b"', 'hostname: "host-a"', 'namespace: ""', "limit: 2"]) {
      const restQuery = filter.replace(/: /g, "=").replaceAll('"', "").replace("limit=2", "limit=2");
      const expected = await rest(`/api/v1/gpus?${restQuery}`);
      const { status, body } = await graphql(
        `{ gpus${filter === "" ? "" : `(${filter})`} { items { ${gpuFields} mig_instances { id } } next_cursor } }`,
      );
      expect(status).toBe(200);
      expect({ filter, gpus: body.data.gpus }).toEqual({
        filter,
        gpus: { items: expected.items.map(restGpu), next_cursor: expected.next_cursor },
      });
    }
    const first = await graphql("{ gpus(limit: 2) { next_cursor } }");
    const second = await graphql(`query($c: String) { gpus(limit: 2, cursor: $c) { items { id } } }`, {
      c: first.body.data.gpus.next_cursor,
    });
    const restSecond = await rest(`/api/v1/gpus?limit=2&cursor=${enc(first.body.data.gpus.next_cursor)}`);
    expect(second.body.data.gpus.items).toEqual(restSecond.items.map((gpu: { id: string }) => ({ id: gpu.id })));
  });

  test("one GPU or MIG instance with its latest values; an unknown one is null", async () => {
    for (const id of [gpuA.uuid, `${gpuM}:mig2`, "host-m:0:mig1", "host-a:1"]) {
      const { latest, ...expected } = await rest(`/api/v1/gpus/${enc(id)}`);
      const { body } = await graphql(
        `query($id: ID!) { gpu(id: $id) { ${gpuFields} mig_instances { id } latest { metric value unit timestamp } } }`,
        { id },
      );
      expect(body.data.gpu).toEqual({ ...restGpu(expected), latest });
    }
    expect((await graphql(`{ gpu(id: "GPU-unknown") { id } }`)).body).toEqual({ data: { gpu: null } });
    expect((await graphql(`{ gpu(id: "${gpuM}:mig9") { id } }`)).body).toEqual({ data: { gpu: null } });
  });

  test("telemetry pages, walked with cursors, equal the REST pages (cursors included)", async () => {
    const window = { start_time: iso(baseMs), end_time: iso(baseMs + 600_000), order: "desc", limit: 333 };
    const query = `query($id: ID!, $start: String, $end: String, $order: Order, $limit: Int, $cursor: String, $metrics: [String!]) {
      gpu(id: $id) { telemetry(start_time: $start, end_time: $end, order: $order, limit: $limit, cursor: $cursor, metrics: $metrics) { ${pageFields} } } }`;
    let cursor: string | null = null;
    let pages = 0;
    do {
      const suffix: string = cursor === null ? "" : `&cursor=${enc(cursor)}`;
      const expected = await rest(
        `/api/v1/gpus/${gpuA.uuid}/telemetry?start_time=${window.start_time}&end_time=${window.end_time}&order=desc&limit=333&metric=DCGM_FI_DEV_GPU_UTIL${suffix}`,
      );
      const { body } = await graphql(query, {
        id: gpuA.uuid,
        start: window.start_time,
        end: window.end_time,
        order: "desc",
        limit: 333,
        cursor,
        metrics: ["DCGM_FI_DEV_GPU_UTIL"],
      });
      expect(body.data.gpu.telemetry).toEqual(expected);
      cursor = expected.next_cursor;
      pages += 1;
    } while (cursor !== null && pages < 10);
    expect(pages).toBe(4);
    const byPod = await graphql(
      `{ gpu(id: "${gpuP}") { telemetry(start_time: "${baseMs}", end_time: "${baseMs + seconds * 1000}", pod: "job-early") { ${pageFields} } } }`,
    );
    expect(byPod.body.data.gpu.telemetry).toEqual(
      await rest(
        `/api/v1/gpus/${gpuP}/telemetry?start_time=${baseMs}&end_time=${baseMs + seconds * 1000}&pod=job-early`,
      ),
    );
  });

  test("summaries, the fleet, hosts and metrics", async () => {
    const window = `start_time: "${iso(baseMs)}", end_time: "${iso(baseMs + 600_000)}"`;
    for (const [id, step, agg] of [
      [gpuC.uuid, "1m", "max"],
      [`${gpuM}:mig1`, "10s", "avg"],
    ] as const) {
      const { body } = await graphql(
        `{ gpu(id: "${id}") { summary(${window}, step: "${step}", agg: ${agg}) { ${summaryFields} } } }`,
      );
      expect(body.data.gpu.summary).toEqual(
        await rest(
          `/api/v1/gpus/${id}/telemetry/summary?start_time=${iso(baseMs)}&end_time=${iso(baseMs + 600_000)}&step=${step}&agg=${agg}`,
        ),
      );
    }
    const fleetFields = `generated_at stale_after_ms metrics { name unit } truncated items { uuid hostname gpu_index model namespace pod
      container last_seen stale values timestamps mig_instances { id gpu_instance_id profile namespace pod container last_seen stale values timestamps } }`;
    for (const [args, query] of [
      ['metrics: ["DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_GPU_TEMP"]', "metric=DCGM_FI_DEV_FB_USED,DCGM_FI_DEV_GPU_TEMP"],
      ['namespace: "ml"', "namespace=ml"],
    ]) {
      const { body } = await graphql(`{ fleet(${args}) { ${fleetFields} } }`);
      expect(body.data.fleet).toEqual(await rest(`/api/v1/fleet?${query}`));
    }
    const { body } = await graphql(
      "{ hosts { hostname gpu_count last_seen } metrics { name unit kind description in_catalog has_data } }",
    );
    expect(body.data.hosts).toEqual((await rest("/api/v1/hosts")).items);
    expect(body.data.metrics).toEqual((await rest("/api/v1/metrics")).items);
  });
});

describe("a list costs one ClickHouse query per field, not one per GPU", () => {
  test("latest values, telemetry and summaries of every GPU and MIG instance in a page", async () => {
    const window = `start_time: "${iso(baseMs)}", end_time: "${iso(baseMs + 600_000)}"`;
    const query = `{ gpus {
      items {
        id
        latest { metric value }
        telemetry(${window}, limit: 100) { items { timestamp value } }
        summary(${window}, step: "5m") { series { metric points { value } } }
        mig_instances { id latest { value } telemetry(${window}, limit: 100) { items { value } } }
      } } }`;
    queries = 0;
    const { status, body } = await graphql(query);
    expect(status).toBe(200);
    const items = body.data.gpus.items;
    expect(items).toHaveLength(6);
    // listGpus and the page's MIG instances, then one query per field across the whole list: the
    // GPUs' and their instances' latest values together, their telemetry (same arguments) together,
    // and the GPUs' summaries.
    expect(queries).toBe(5);
    for (const item of items) {
      const expected = await rest(
        `/api/v1/gpus/${enc(item.id)}/telemetry?start_time=${iso(baseMs)}&end_time=${iso(baseMs + 600_000)}&limit=100`,
      );
      expect(item.telemetry.items).toEqual(
        expected.items.map(({ timestamp, value }: { timestamp: string; value: number }) => ({ timestamp, value })),
      );
    }
  });
});

describe("limits and bad queries", () => {
  test("arguments over the REST bounds are a 400 naming them", async () => {
    const cases: [string, string][] = [
      ["{ gpus(limit: 1001) { items { id } } }", "limit"],
      [`{ gpu(id: "${gpuA.uuid}") { telemetry(limit: 10001) { items { value } } } }`, "limit"],
      [
        `{ gpu(id: "${gpuA.uuid}") { telemetry(start_time: "${iso(baseMs - 8 * 86_400_000)}", end_time: "${iso(baseMs)}") { items { value } } } }`,
        "start_time",
      ],
      [`{ gpu(id: "${gpuA.uuid}") { telemetry(metrics: ["gpu_util"]) { items { value } } } }`, "metric"],
      [`{ gpu(id: "${gpuA.uuid}") { summary(step: "2m") { gpu } } }`, "step"],
      ["{ gpus { items { telemetry(limit: 5000) { items { value } } } } }", "limit"],
      [`{ gpu(id: "${gpuA.uuid}") { telemetry(cursor: "forged") { items { value } } } }`, "cursor"],
    ];
    for (const [query, field] of cases) {
      const { status, body } = await graphql(query);
      expect({ query, status }).toEqual({ query, status: 400 });
      expect(body.errors[0].extensions).toMatchObject({ code: "bad_request", details: [{ field }] });
    }
  });

  test("syntax errors, unknown fields, mutations, too deep or too wide queries are JSON 400s before anything runs", async () => {
    const deep = `{ gpus { items { ${"mig_instances { ".repeat(graphqlLimits.depthMax)} id ${"} ".repeat(graphqlLimits.depthMax)} } } }`;
    const wide = `{ ${Array.from({ length: 510 }, (_, index) => `a${index}: hosts { hostname }`).join(" ")} }`;
    for (const [query, hint] of [
      ["{ gpus { ", "Syntax Error"],
      ["{ gpus { items { nope } } }", 'Cannot query field "nope"'],
      ["mutation { gpus { next_cursor } }", "mutation"],
      [deep, "levels deep"],
      [wide, "fields"],
      ["query A { hosts { hostname } } query B { hosts { hostname } }", "operationName"],
    ]) {
      queries = 0;
      const { status, body } = await graphql(query as string);
      expect({ query: (query as string).slice(0, 60), status }).toEqual({
        query: (query as string).slice(0, 60),
        status: 400,
      });
      expect(body.data).toBeUndefined();
      expect(body.errors[0].message).toContain(hint);
      expect(body.errors[0].extensions.code).toBe("bad_request");
      expect(queries).toBe(0);
    }
    const tooLong = await app.handle(
      new Request("http://localhost/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", ...bearer(testReadToken) },
        body: JSON.stringify({ query: `{ hosts { hostname } }${" ".repeat(graphqlLimits.queryCharsMax)}` }),
      }),
    );
    expect(tooLong.status).toBe(400);
    expect(((await tooLong.json()) as { error: string }).error).toBe("bad_request");
  });

  test("GET works for queries, with variables as JSON; bad variables are a 400", async () => {
    const query = enc("query($h: String) { gpus(hostname: $h) { items { id } } }");
    const get = (search: string) =>
      app.handle(new Request(`http://localhost/graphql?${search}`, { headers: bearer(testReadToken) }));
    const ok = await get(`query=${query}&variables=${enc('{"h":"host-b"}')}`);
    expect(ok.status).toBe(200);
    expect((await ok.json()) as unknown).toEqual({ data: { gpus: { items: [{ id: gpuC.uuid }] } } });
    const bad = await get(`query=${query}&variables=${enc("[1]")}`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { message: string }[] }).errors[0]?.message).toContain("variables");
    const wrongType = await graphql("query($l: Int) { gpus(limit: $l) { next_cursor } }", { l: "many" });
    expect(wrongType.status).toBe(400);
  });

  test("GraphQL needs scope read like the REST routes; the schema is open", async () => {
    const refused = await app.handle(
      new Request("http://localhost/graphql", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: "{ hosts { hostname } }" }),
      }),
    );
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toContain("Bearer");
    expect((await app.handle(new Request("http://localhost/graphql?query=%7Bhosts%7Bhostname%7D%7D"))).status).toBe(
      401,
    );
    expect((await app.handle(new Request("http://localhost/graphql/schema"))).status).toBe(200);
  });

  test("the schema is served as SDL; ClickHouse unreachable is a 503 with Retry-After", async () => {
    const sdl = await app.handle(new Request("http://localhost/graphql/schema"));
    expect(await sdl.text()).toContain("type Query");
    const down = createApiApp({
      clickhouse: createClickHouse({
        url: "http://127.0.0.1:9",
        username: "default",
        password: "",
        database: "x",
        requestTimeoutMs: 1_000,
      }),
      reader: createFetchReader({
        url: "http://127.0.0.1:9",
        username: "default",
        password: "",
        database: "x",
        requestTimeoutMs: 1_000,
      }),
      logger: createLogger({ service: "api", instanceId: "test", level: "silent" }),
      registry: createMetricsRegistry({ service: "api", instanceId: "down" }),
      access: testApiAccess(true),
    });
    const response = await down.handle(
      new Request("http://localhost/graphql", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: "{ hosts { hostname } }" }),
      }),
    );
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("5");
    expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code).toBe(
      "unavailable",
    );
  });
});
