/**
 * The chart's PrometheusRule through Prometheus' own tool: `promtool check rules` on the
 * rendered groups (expressions and annotation templates), and `promtool test rules`
 * feeding series shaped as the ServiceMonitor scrapes them (namespace, job, the metric
 * names the processes serve) into a healthy hour and into a failing one: every alert
 * stays quiet in the first and fires, with its labels, in the second. promtool comes
 * with Debian's prometheus package (test/support/ensure-system-packages.sh).
 *
 * The unit test runs on a copy without annotations: promtool compares annotations too,
 * and their templates are already checked by `check rules`.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { manifests, renderChart } from "../../support/helm-render.ts";

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

const dir = mkdtempSync(join(tmpdir(), "prometheus-rules-"));
const valuesPath = join(dir, "values.json");
writeFileSync(
  valuesPath,
  JSON.stringify({ metrics: { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true } } }),
);

function renderedGroups(): RuleGroup[] {
  const rendered = renderChart([valuesPath]);
  if (!rendered.ok) throw new Error(rendered.error);
  const rule = manifests(rendered.templates).find((object) => object.kind === "PrometheusRule");
  if (rule === undefined) throw new Error("no PrometheusRule rendered");
  return (rule.spec as { groups: RuleGroup[] }).groups;
}

function promtool(args: string[]): { code: number; output: string } {
  const run = Bun.spawnSync(["promtool", ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  return { code: run.exitCode, output: `${run.stdout.toString()}${run.stderr.toString()}` };
}

const release = { namespace: "default", prefix: "telemetry-gpu-telemetry" };
const job = (name: string) => `namespace="${release.namespace}", job="${release.prefix}-${name}"`;
const gpu = (uuid: string, index: number) =>
  `uuid="${uuid}", hostname="dgx-h100-007", gpu="${index}", model="NVIDIA H100 80GB HBM3", workload_namespace="ml-research", workload_pod="llama3-70b-finetune-0"`;
/** Two API replicas serve the same GPU series: the rules take the max by GPU. */
const apiReplicas = ["10.0.0.21:8080", "10.0.0.22:8080"];

function apiSeries(metric: string, labels: string, values: string): { series: string; values: string }[] {
  return apiReplicas.map((instance) => ({
    series: `${metric}{${job("api")}, instance="${instance}", ${labels}}`,
    values,
  }));
}

/** An hour of a pipeline that works: every alert must stay quiet. */
const healthy = [
  {
    series: `broker_group_lag_records{${job("broker")}, group="collectors", topic="telemetry", partition="0"}`,
    values: "500+0x60",
  },
  { series: `collector_dead_letters_total{${job("collector-metrics")}, reason="bad_record"}`, values: "3+0x60" },
  ...apiSeries("telemetry_data_freshness_seconds", 'exported_service="api"', "2+0x60"),
  { series: `broker_disk_free_bytes{${job("broker")}, instance="10.0.0.5:9092"}`, values: "10000000000+0x60" },
  { series: `broker_disk_total_bytes{${job("broker")}, instance="10.0.0.5:9092"}`, values: "20000000000+0x60" },
  { series: `up{${job("broker")}, instance="10.0.0.5:9092"}`, values: "1+0x60" },
  { series: `up{${job("api")}, instance="10.0.0.21:8080"}`, values: "1+0x60" },
  { series: `streamer_scrape_failures_total{${job("streamer-metrics")}, instance="10.0.0.31:9500"}`, values: "0+0x60" },
  ...apiSeries("telemetry_gpu_temperature_celsius", gpu("GPU-a", 0), "71+0x60"),
];

const failingGpu = gpu("GPU-b", 3);
/** An hour in which everything goes wrong. */
const failing = [
  // 200,000 records behind and 10,000 more every minute.
  {
    series: `broker_group_lag_records{${job("broker")}, group="collectors", topic="telemetry", partition="0"}`,
    values: "200000+10000x60",
  },
  { series: `collector_dead_letters_total{${job("collector-metrics")}, reason="bad_record"}`, values: "0+2x60" },
  // The newest datapoint ages: the pipeline stopped.
  ...apiSeries("telemetry_data_freshness_seconds", 'exported_service="api"', "10+60x60"),
  { series: `broker_disk_free_bytes{${job("broker")}, instance="10.0.0.5:9092"}`, values: "1000000000+0x60" },
  { series: `broker_disk_total_bytes{${job("broker")}, instance="10.0.0.5:9092"}`, values: "20000000000+0x60" },
  { series: `up{${job("collector-metrics")}, instance="10.0.0.41:9600"}`, values: "0+0x60" },
  {
    series: `streamer_scrape_failures_total{${job("streamer-metrics")}, instance="10.0.0.31:9500"}`,
    values: "0+30x60",
  },
  ...apiSeries("telemetry_xid_error_gpus", `${failingGpu}, xid="79"`, "1+0x60"),
  // Another GPU with an XID that needs no reset: GpuXidError only.
  ...apiSeries("telemetry_xid_error_gpus", `${gpu("GPU-c", 5)}, xid="13"`, "1+0x60"),
  ...apiSeries("telemetry_throttled_gpus", `${failingGpu}, reason="thermal"`, "1+0x60"),
  ...apiSeries("telemetry_throttled_gpus", `${failingGpu}, reason="power"`, "1+0x60"),
  ...apiSeries("telemetry_gpu_temperature_celsius", failingGpu, "92+0x60"),
];

const gpuLabels = {
  uuid: "GPU-b",
  hostname: "dgx-h100-007",
  gpu: "3",
  workload_namespace: "ml-research",
  workload_pod: "llama3-70b-finetune-0",
};

/** Each alert with the labels it must fire with an hour into the failing scenario. */
const expected: Record<string, Record<string, string>[]> = {
  GpuTelemetryConsumerLagGrowing: [{ severity: "warning" }],
  GpuTelemetryDeadLetters: [{ severity: "warning" }],
  GpuTelemetryDataStale: [{ severity: "critical" }],
  GpuTelemetryBrokerDiskFilling: [
    { severity: "warning", namespace: "default", job: `${release.prefix}-broker`, instance: "10.0.0.5:9092" },
  ],
  GpuTelemetryProcessDown: [
    {
      severity: "critical",
      namespace: "default",
      job: `${release.prefix}-collector-metrics`,
      instance: "10.0.0.41:9600",
    },
  ],
  GpuTelemetryExporterScrapesFailing: [{ severity: "warning" }],
  GpuXidError: [
    { severity: "warning", ...gpuLabels, xid: "79" },
    { severity: "warning", ...gpuLabels, uuid: "GPU-c", gpu: "5", xid: "13" },
  ],
  GpuXidErrorNeedsReset: [{ severity: "critical", ...gpuLabels, xid: "79" }],
  GpuThermalThrottling: [{ severity: "warning", ...gpuLabels }],
  GpuPowerThrottling: [{ severity: "info", ...gpuLabels }],
  GpuHighTemperature: [{ severity: "warning", ...gpuLabels }],
};

describe("PrometheusRule", () => {
  test("promtool accepts the rendered rules, annotation templates included", () => {
    const file = join(dir, "rules.json");
    writeFileSync(file, JSON.stringify({ groups: renderedGroups() }));
    const check = promtool(["check", "rules", file]);
    expect(check.output).toContain("SUCCESS");
    expect(check.code).toBe(0);
  });

  test("every alert is quiet while the pipeline works and fires, with its labels, when it breaks", () => {
    const groups = renderedGroups().map((group) => ({
      ...group,
      rules: group.rules.map(({ annotations: _annotations, ...rule }) => rule),
    }));
    expect(Object.keys(expected).sort()).toEqual(
      groups.flatMap((group) => group.rules.map((rule) => rule.alert)).sort(),
    );
    writeFileSync(join(dir, "rules-bare.json"), JSON.stringify({ groups }));
    const alertNames = Object.keys(expected);
    const tests = {
      rule_files: ["rules-bare.json"],
      evaluation_interval: "1m",
      tests: [
        {
          interval: "1m",
          input_series: healthy,
          alert_rule_test: alertNames.map((alertname) => ({ eval_time: "60m", alertname, exp_alerts: [] })),
        },
        {
          interval: "1m",
          input_series: failing,
          alert_rule_test: alertNames.map((alertname) => ({
            eval_time: "60m",
            alertname,
            exp_alerts: (expected[alertname] ?? []).map((labels) => ({ exp_labels: labels })),
          })),
        },
        {
          // Ten minutes in, alerts with a `for` longer than that have not fired yet.
          interval: "1m",
          input_series: failing,
          alert_rule_test: ["GpuPowerThrottling", "GpuTelemetryConsumerLagGrowing"].map((alertname) => ({
            eval_time: "10m",
            alertname,
            exp_alerts: [],
          })),
        },
      ],
    };
    writeFileSync(join(dir, "tests.json"), JSON.stringify(tests));
    const run = promtool(["test", "rules", "tests.json"]);
    expect(run.output).toContain("SUCCESS");
    expect(run.code).toBe(0);
  });
});
