/**
 * The GPU fleet dashboard (deploy/helm/gpu-telemetry/dashboards/gpu-fleet.json) against
 * the real ClickHouse engine: every panel query and every variable query is taken from
 * the JSON, interpolated as Grafana and the grafana-clickhouse-datasource plugin do
 * (test/support/grafana-sql.ts), and run on a migrated database holding an hour of
 * datapoints made from real dcgm-exporter text (pods, MIG instances, an XID, thermal
 * throttling). Each must run and return rows, with every variable at "All" and with
 * narrow selections (one host and GPU, one namespace and pod, two hosts at once).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ClickHouseClient } from "@clickhouse/client";
import { insertDatapoints } from "../../../src/clickhouse/datapoints-insert.ts";
import { type ClickHouseFixture, startClickHouseFixture } from "../../src/clickhouse/fixture.ts";
import { exporterText, nodeName } from "../../support/fake-dcgm-exporters.ts";
import { fleetPoints } from "../../support/fleet-datapoints.ts";
import { type GrafanaContext, interpolate, type Selection } from "../../support/grafana-sql.ts";
import { chartDir } from "../../support/helm-render.ts";

interface Target {
  rawSql: string;
  editorType: string;
  format: number;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  title: string;
  type: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
}
interface Variable {
  name: string;
  type: string;
  query: string | { rawSql: string };
  datasource?: { type: string; uid: string };
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

const dashboard = JSON.parse(readFileSync(join(chartDir, "dashboards/gpu-fleet.json"), "utf8")) as Dashboard;
const pluginType = "grafana-clickhouse-datasource";
/** Grafana's reference to the dashboard's datasource variable, as the JSON writes it. */
const datasourceRef = ["$", "{datasource}"].join("");
const database = "grafana_fleet";
const nodes = 3;
const nowMs = Date.now();

let fixture: ClickHouseFixture;
let client: ClickHouseClient;

beforeAll(async () => {
  fixture = await startClickHouseFixture();
  client = await fixture.migratedDatabase(database);
  const points = fleetPoints({ nodes, scrapes: 12, stepMs: 5 * 60_000, lastMs: nowMs - 60_000 });
  await insertDatapoints(client, points, { dedupToken: "dashboard-test/0/0-0" });
}, 120_000);
afterAll(async () => {
  await fixture?.stop();
});

const panels = dashboard.panels.filter((panel) => panel.type !== "row");
const queryVariables = dashboard.templating.list.filter((variable) => variable.type === "query");
/** The fourth GPU of node 1: XID 79, thermal throttling, pod llama3-70b-finetune-1. */
const gpu3 = [...exporterText(1, 0).matchAll(/UUID="(GPU-00000103[^"]*)"/g)][0]?.[1] ?? "";

function context(variables: Record<string, Selection>): GrafanaContext {
  return {
    variables,
    constants: { database },
    fromMs: nowMs - 3_600_000,
    toMs: nowMs,
    intervalMs: 60_000,
  };
}

const everything = { instance: "all", gpu: "all", namespace: "all", pod: "all" } as const;
const selections: [string, Record<string, Selection>][] = [
  ["every variable at All", everything],
  [
    "one host, one GPU, one namespace, one pod",
    { instance: [nodeName(1)], gpu: [], namespace: ["ml-research"], pod: ["llama3-70b-finetune-1"] },
  ],
  ["two hosts", { ...everything, instance: [nodeName(0), nodeName(2)] }],
];

async function rowsOf(sql: string): Promise<Record<string, unknown>[]> {
  const result = await client.query({ query: sql, format: "JSONEachRow" });
  return await result.json<Record<string, unknown>>();
}

describe("GPU fleet dashboard", () => {
  test("is a dashboard of the ClickHouse plugin: every panel and variable query goes through the datasource variable", () => {
    expect(dashboard.uid).toBe("gpu-telemetry-gpu-fleet");
    const datasource = dashboard.templating.list.find((variable) => variable.name === "datasource");
    expect(datasource).toMatchObject({ type: "datasource", query: pluginType });
    const names = dashboard.templating.list.map((variable) => variable.name);
    for (const name of ["instance", "gpu", "namespace", "pod", "database"]) expect(names).toContain(name);
    expect(panels.length).toBeGreaterThanOrEqual(15);
    for (const panel of panels) {
      expect({ panel: panel.title, datasource: panel.datasource }).toEqual({
        panel: panel.title,
        datasource: { type: pluginType, uid: datasourceRef },
      });
      expect(panel.targets?.length).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        expect(target.editorType).toBe("sql");
        expect(target.datasource).toEqual({ type: pluginType, uid: datasourceRef });
      }
    }
    for (const variable of queryVariables)
      expect(variable.datasource).toEqual({ type: pluginType, uid: datasourceRef });
    const titles = panels.map((panel) => panel.title).join(" | ");
    for (const topic of ["utilization", "Framebuffer", "temperature", "Power", "XID", "Throttl", "Pods"]) {
      expect(titles).toContain(topic);
    }
  });

  test("the GPU variable lists GPUs of the chosen host, value first (the plugin takes the first column as the value)", async () => {
    const variable = queryVariables.find((candidate) => candidate.name === "gpu");
    const sql = typeof variable?.query === "string" ? variable.query : (variable?.query.rawSql ?? "");
    const rows = await rowsOf(interpolate(sql, context({ ...everything, instance: [nodeName(1)] })));
    expect(rows.map((row) => Object.values(row)[0])).toContain(gpu3);
    expect(rows).toHaveLength(4);
    expect(rows.every((row) => String(Object.values(row)[1]).startsWith(nodeName(1)))).toBe(true);
  });

  for (const [name, variables] of selections) {
    test(`every query returns rows: ${name}`, async () => {
      const chosen = name.startsWith("one host") ? { ...variables, gpu: [gpu3] } : variables;
      const failures: string[] = [];
      for (const variable of queryVariables) {
        const sql = typeof variable.query === "string" ? variable.query : variable.query.rawSql;
        const rows = await rowsOf(interpolate(sql, context(chosen)));
        if (rows.length === 0) failures.push(`variable ${variable.name}: no rows`);
      }
      for (const panel of panels) {
        for (const target of panel.targets ?? []) {
          const sql = interpolate(target.rawSql, context(chosen));
          const rows = await rowsOf(sql).catch((error: Error) => {
            failures.push(`${panel.title}: ${error.message.split("\n")[0]}`);
            return undefined;
          });
          if (rows !== undefined && rows.length === 0) failures.push(`${panel.title}: no rows`);
        }
      }
      expect(failures).toEqual([]);
    }, 60_000);
  }

  test("the figures are the data's: XID 79 on the fourth GPU, its thermal throttling, two MIG instances with their pods", async () => {
    const byTitle = (title: string) => panels.find((panel) => panel.title === title)?.targets?.[0]?.rawSql ?? "";
    const all = context(everything);
    const xid = await rowsOf(interpolate(byTitle("XID errors"), all));
    expect(xid).toHaveLength(nodes);
    expect(xid.every((row) => Number(row.xid) === 79 && row.k8s_pod === "llama3-70b-finetune-1")).toBe(true);
    const throttled = await rowsOf(interpolate(byTitle("Throttling by GPU"), all));
    expect(throttled.map((row) => row.reasons)).toEqual(Array(nodes).fill("thermal"));
    expect(throttled.every((row) => Number(row.thermal_s) > 0)).toBe(true);
    const pods = await rowsOf(interpolate(byTitle("Pods on GPUs"), all));
    const triton = pods.find((row) => row.pod === "triton-llm-5f7d9c-2xkqp");
    expect(Number(triton?.gpus_or_instances)).toBe(nodes);
    expect(String(triton?.placed_on)).toContain("mig1 (3g.40gb)");
    const reporting = await rowsOf(interpolate(byTitle("GPUs reporting"), all));
    expect(Number(reporting[0]?.gpus)).toBe(nodes * 4);
    const inventory = await rowsOf(interpolate(byTitle("GPUs"), all));
    expect(inventory).toHaveLength(nodes * 4);
    expect(inventory.filter((row) => Number(row.mig_instances) === 2)).toHaveLength(nodes);
  });
});
