/**
 * Every metric every process serves follows our naming rules (test/support/metric-names.ts):
 * the stack runs as `bun run dev` runs it, data flows, and each process's /metrics is read.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  isServed,
  metricFamilies,
  metricNameProblems,
  metricUnits,
  promqlMetricNames,
} from "../support/metric-names.ts";
import { eventually, getJson, type PipelineStack, startPipelineStack } from "./pipeline-stack.ts";

let pipeline: PipelineStack | undefined;
afterAll(async () => {
  await pipeline?.stop();
});

describe("metric names", () => {
  test("the rule catches a counter without _total, a unit-less gauge and the clashing labels", () => {
    const page = [
      "# TYPE broker_high_watermark gauge",
      'broker_high_watermark{topic="t",service="broker",instance="b-1"} 5',
      "# TYPE streamer_rate_rows_per_s gauge",
      "# TYPE collector_rows_inserted counter",
      "# TYPE api_request_seconds histogram",
      'api_request_seconds_bucket{le="1",pipeline_service="api",pipeline_instance="a"} 1',
      "# TYPE broker_high_watermark_offset gauge",
      'broker_high_watermark_offset{topic="t",pipeline_service="broker",pipeline_instance="b-1"} 5',
    ].join("\n");
    expect(metricNameProblems(metricFamilies(page))).toEqual([
      `broker_high_watermark: a gauge must end in a unit (${metricUnits.join(", ")})`,
      'broker_high_watermark: label "service" clashes with Prometheus\' target labels',
      'broker_high_watermark: label "instance" clashes with Prometheus\' target labels',
      'broker_high_watermark: no "pipeline_service" label',
      'broker_high_watermark: no "pipeline_instance" label',
      `streamer_rate_rows_per_s: a gauge must end in a unit (${metricUnits.join(", ")})`,
      "collector_rows_inserted: a counter must end in _total",
    ]);
    const query = "histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))";
    expect(promqlMetricNames(query)).toEqual(["http_request_duration_seconds_bucket"]);
    expect(isServed("http_request_duration_seconds_bucket", new Set(["http_request_duration_seconds"]))).toBe(true);
    expect(isServed("broker_high_watermark", new Set(["broker_high_watermark_offset"]))).toBe(false);
  });

  test("every process's /metrics: units in every name, pipeline_service and pipeline_instance on every series", async () => {
    pipeline = await startPipelineStack({ streamer: { STREAMER_RATE_ROWS_PER_S: "2000" } });
    const stack = pipeline;
    await stack.stack.scale("collector", 1);
    await stack.stack.scale("streamer", 1);
    await eventually(
      "GPUs in the API",
      async () =>
        (await getJson<{ items: unknown[] }>(`${stack.apiUrl}/api/v1/gpus?limit=5`)).items.length > 0
          ? true
          : undefined,
      30_000,
    );
    const seen = new Map<string, string[]>();
    for (const member of stack.supervisor.status()) {
      const response = await fetch(`http://127.0.0.1:${member.httpPort}/metrics`);
      expect([member.name, response.status]).toEqual([member.name, 200]);
      const families = metricFamilies(await response.text());
      expect([member.name, metricNameProblems(families)]).toEqual([member.name, []]);
      seen.set(member.kind, [...(seen.get(member.kind) ?? []), ...families.map((family) => family.name)]);
    }
    expect([...seen.keys()].sort()).toEqual(["api", "broker", "clickhouse", "collector", "streamer"]);
    // The renamed ones are there under their new names.
    const all = new Set([...seen.values()].flat());
    for (const name of [
      "broker_high_watermark_offset",
      "clickhouse_embedded_running_queries",
      "api_open_streams",
      "api_telemetry_page_cache_lookups_total",
    ])
      expect([name, all.has(name)]).toEqual([name, true]);
    expect(all.has("streamer_rate_rows_per_s")).toBe(false);
    // Every Prometheus query of the chart's Grafana dashboards reads names the processes serve.
    const unknown = dashboardQueries().flatMap((expr) =>
      promqlMetricNames(expr).filter((name) => !isServed(name, all)),
    );
    expect(unknown).toEqual([]);
  });
});

const dashboardsDir = new URL("../../deploy/helm/gpu-telemetry/dashboards", import.meta.url).pathname;

/** The PromQL `expr` of every panel target of every dashboard the chart ships. */
function dashboardQueries(): string[] {
  const queries: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) for (const item of node) visit(item);
    else if (typeof node === "object" && node !== null) {
      for (const [key, value] of Object.entries(node)) {
        if (key === "expr" && typeof value === "string") queries.push(value);
        else visit(value);
      }
    }
  };
  for (const name of readdirSync(dashboardsDir).filter((file) => file.endsWith(".json")))
    visit(JSON.parse(readFileSync(join(dashboardsDir, name), "utf8")));
  expect(queries.length).toBeGreaterThan(0);
  return queries;
}
