import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApiApp } from "../../../services/api/app.ts";
import { buildOpenApiText, openApiFilePath } from "../../../services/api/write-openapi.ts";
import { createClickHouse } from "../../../src/clickhouse/client.ts";
import { createLogger } from "../../../src/observability/logger.ts";
import { createMetricsRegistry } from "../../../src/observability/metrics.ts";
import { testApiAccess } from "./api-fixture.ts";

// The document is built from route schemas: no ClickHouse is contacted.
const clickhouse = createClickHouse({
  url: "http://127.0.0.1:9",
  username: "default",
  password: "",
  database: "x",
  requestTimeoutMs: 1_000,
});
const app = createApiApp({
  clickhouse,
  logger: createLogger({ service: "api", instanceId: "test", level: "silent" }),
  registry: createMetricsRegistry({ service: "api", instanceId: "test" }),
  access: testApiAccess(),
});
// biome-ignore lint/suspicious/noExplicitAny: plain JSON read back for assertions; typing the whole OpenAPI shape would add nothing
let document: any;

beforeAll(async () => {
  const response = await app.handle(new Request("http://localhost/swagger/json"));
  expect(response.status).toBe(200);
  document = await response.json();
});
afterAll(async () => {
  await clickhouse.close();
});

const dataRoutes: [string, string[], string][] = [
  ["/api/v1/gpus", ["hostname", "model", "namespace", "pod", "container", "limit", "cursor"], "GpuPage"],
  ["/api/v1/gpus/{id}", ["id"], "GpuDetail"],
  [
    "/api/v1/gpus/{id}/telemetry",
    ["id", "start_time", "end_time", "metric", "namespace", "pod", "container", "order", "limit", "cursor", "format"],
    "TelemetryPage",
  ],
  [
    "/api/v1/gpus/{id}/telemetry/summary",
    ["id", "start_time", "end_time", "metric", "step", "agg"],
    "TelemetrySummary",
  ],
  ["/api/v1/hosts", [], "HostList"],
  ["/api/v1/metrics", [], "MetricList"],
  ["/api/v1/fleet", ["metric", "hostname", "model", "namespace", "pod", "container"], "FleetSnapshot"],
];

const streamRoutes: [string, string[], string[]][] = [
  ["/api/v1/datapoints/stream", ["gpu", "metric"], ["DatapointBatch", "StreamEnd"]],
  [
    "/api/v1/fleet/stream",
    ["metric", "hostname", "model", "namespace", "pod", "container", "interval_ms"],
    ["FleetSnapshot", "FleetChanges", "StreamEnd"],
  ],
];

describe("OpenAPI document at /swagger/json", () => {
  test("every data route needs scope read (a bearer scheme), with its 401; operations routes are open", () => {
    expect(document.components.securitySchemes.read).toMatchObject({ type: "http", scheme: "bearer" });
    for (const [path] of dataRoutes) {
      const operation = document.paths[path].get;
      expect({ path, security: operation.security }).toEqual({ path, security: [{ read: [] }] });
      expect(operation.responses["401"].content["application/json"].schema.$ref).toBe(
        "#/components/schemas/UnauthorizedError",
      );
    }
    for (const path of ["/health", "/ready", "/metrics"]) expect(document.paths[path].get.security).toEqual([]);
  });

  test("describes the API with title, version and tags", () => {
    expect(document.openapi).toBe("3.1.0");
    expect(document.info.title).toBe("GPU Telemetry API");
    expect(document.info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(document.tags.map((tag: { name: string }) => tag.name)).toEqual([
      "gpus",
      "telemetry",
      "fleet",
      "hosts",
      "metrics",
      "graphql",
      "operations",
    ]);
  });

  test("lists every route, and nothing else", () => {
    const paths = Object.keys(document.paths).sort();
    const others = [
      "/health",
      "/metrics",
      "/ready",
      "/api/v1/pipeline",
      "/graphql",
      "/graphql/schema",
      ...streamRoutes.map(([path]) => path),
    ];
    expect(paths).toEqual([...dataRoutes.map(([path]) => path), ...others].sort());
  });

  test("each data route declares its parameters and its 200 and error responses", () => {
    for (const [path, parameters, model] of dataRoutes) {
      const operation = document.paths[path].get;
      expect({ path, names: (operation.parameters ?? []).map((p: { name: string }) => p.name) }).toEqual({
        path,
        names: parameters,
      });
      expect(operation.responses["200"].content["application/json"].schema).toEqual({
        $ref: `#/components/schemas/${model}`,
      });
      const errors = path.includes("{id}") ? ["400", "404", "500", "503"] : ["500", "503"];
      for (const status of errors) {
        expect(operation.responses[status].content["application/json"].schema.$ref).toMatch(
          /^#\/components\/schemas\/\w+Error$/,
        );
      }
      for (const response of Object.values(operation.responses) as { description?: string }[]) {
        expect(typeof response.description).toBe("string");
      }
      expect(operation.tags.length).toBe(1);
      expect(typeof operation.summary).toBe("string");
    }
    expect(document.paths["/api/v1/gpus"].get.responses["400"]).toBeDefined();
  });

  test("GraphQL is documented: GET and POST with the request and response models, and the schema", () => {
    const post = document.paths["/graphql"].post;
    expect(post.requestBody.content["application/json"].schema.$ref).toBe("#/components/schemas/GraphqlRequest");
    for (const status of ["200", "400", "503"]) {
      expect(post.responses[status].content["application/json"].schema.$ref).toBe(
        "#/components/schemas/GraphqlResponse",
      );
    }
    const get = document.paths["/graphql"].get;
    expect(get.parameters.map((p: { name: string }) => p.name)).toEqual(["query", "variables", "operationName"]);
    expect(Object.keys(document.paths["/graphql/schema"].get.responses["200"].content)).toEqual(["text/plain"]);
  });

  test("the telemetry route documents its NDJSON and CSV exports beside the JSON page", () => {
    const content = document.paths["/api/v1/gpus/{id}/telemetry"].get.responses["200"].content;
    expect(Object.keys(content)).toEqual(["application/json", "application/x-ndjson", "text/csv"]);
    expect(content["text/csv"].schema.description).toContain("gpu,timestamp,metric,value");
  });

  test("the event streams are documented: parameters, text/event-stream, their event models, errors", () => {
    for (const [path, parameters, events] of streamRoutes) {
      const operation = document.paths[path].get;
      expect((operation.parameters ?? []).map((p: { name: string }) => p.name)).toEqual(parameters);
      expect(Object.keys(operation.responses["200"].content)).toEqual(["text/event-stream"]);
      for (const status of ["400", "500", "503"]) {
        expect(operation.responses[status].content["application/json"].schema.$ref).toMatch(/Error$/);
      }
      for (const event of events) {
        expect(operation.description).toContain(event);
        expect(document.components.schemas[event]).toBeDefined();
      }
    }
    expect(document.paths["/api/v1/pipeline"].get.responses["200"].content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/PipelineStatus",
    });
  });

  test("parameters carry their bounds and choices", () => {
    const parameter = (path: string, name: string) =>
      document.paths[path].get.parameters.find((p: { name: string }) => p.name === name).schema;
    expect(parameter("/api/v1/gpus", "limit")).toEqual({ type: "integer", minimum: 1, maximum: 1000, default: 100 });
    expect(parameter("/api/v1/gpus/{id}/telemetry", "limit")).toMatchObject({ type: "integer", maximum: 1_000_000 });
    expect(parameter("/api/v1/gpus/{id}/telemetry", "format")).toMatchObject({ enum: ["json", "ndjson", "csv"] });
    expect(parameter("/api/v1/gpus/{id}/telemetry", "order")).toMatchObject({ enum: ["asc", "desc"], default: "asc" });
    expect(parameter("/api/v1/gpus/{id}/telemetry/summary", "step")).toMatchObject({ enum: ["10s", "1m", "5m", "1h"] });
    expect(parameter("/api/v1/gpus/{id}/telemetry/summary", "agg")).toMatchObject({
      enum: ["avg", "min", "max", "last"],
    });
  });

  test("every $ref points at a component that exists", () => {
    const text = JSON.stringify(document);
    const refs = [...text.matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)].map((match) => match[1]);
    expect(refs.length).toBeGreaterThan(10);
    for (const name of refs) expect(document.components.schemas[name as string]).toBeDefined();
    expect(text.includes('"$id"')).toBe(false);
  });

  test("Swagger UI is served at /swagger", async () => {
    const response = await app.handle(new Request("http://localhost/swagger"));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    expect(await response.text()).toContain("SwaggerUIBundle");
  });

  test("the committed openapi.json is current (run `bun run openapi` when this fails)", async () => {
    const committed = await Bun.file(openApiFilePath).text();
    expect(committed).toBe(await buildOpenApiText());
  });
});
