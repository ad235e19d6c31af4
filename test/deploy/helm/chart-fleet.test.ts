/**
 * The chart for an operator's fleet, by rendering it: the streamers' source
 * (dcgm-exporter discovery through EndpointSlices, pods by label or a static list, the CSV
 * demo with a rate) with the RBAC each needs, extraEnv/extraVolumes on every workload,
 * one retention for every pod that talks to ClickHouse and one place that migrates, the
 * GPU fleet dashboard and the PrometheusRule.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Ajv from "ajv";
import { chartDir, type K8sObject, manifests, renderChart } from "../../support/helm-render.ts";

const schema = JSON.parse(readFileSync(join(chartDir, "values.schema.json"), "utf8")) as object;
const defaults = Bun.YAML.parse(readFileSync(join(chartDir, "values.yaml"), "utf8")) as Record<string, unknown>;
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}
interface Container {
  name: string;
  args?: string[];
  env?: EnvVar[];
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  containers: Container[];
  volumes?: { name: string }[];
}
interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** Renders with values merged over the defaults (nested objects key by key, as Helm does). */
function render(overrides: Record<string, unknown>): K8sObject[] {
  const dir = mkdtempSync(join(tmpdir(), "chart-fleet-"));
  const file = join(dir, "values.json");
  writeFileSync(file, JSON.stringify(overrides));
  const rendered = renderChart([file]);
  if (!rendered.ok) throw new Error(rendered.error);
  return manifests(rendered.templates);
}

function renderError(overrides: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), "chart-fleet-"));
  const file = join(dir, "values.json");
  writeFileSync(file, JSON.stringify(overrides));
  return renderChart([file]).error;
}

function merged(overrides: Record<string, unknown>): Record<string, unknown> {
  const merge = (base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> => {
    const out = { ...base };
    for (const [key, value] of Object.entries(over)) {
      const under = out[key];
      const objects = [value, under].every((item) => item !== null && typeof item === "object" && !Array.isArray(item));
      out[key] = objects ? merge(under as Record<string, unknown>, value as Record<string, unknown>) : value;
    }
    return out;
  };
  return merge(defaults, overrides);
}

function podSpecs(objects: K8sObject[]): Map<string, PodSpec> {
  const specs = new Map<string, PodSpec>();
  for (const object of objects) {
    if (!["Deployment", "StatefulSet", "Job"].includes(object.kind)) continue;
    const spec = (object.spec as { template: { spec: PodSpec } }).template.spec;
    specs.set(spec.containers[0]?.name ?? object.metadata.name, spec);
  }
  return specs;
}

function envOf(objects: K8sObject[], container: string): Record<string, string> {
  const spec = podSpecs(objects).get(container);
  if (spec === undefined) throw new Error(`no workload runs ${container}`);
  const env: Record<string, string> = {};
  for (const variable of spec.containers[0]?.env ?? []) env[variable.name] = variable.value ?? "(from a reference)";
  return env;
}

const byKind = (objects: K8sObject[], kind: string) => objects.filter((object) => object.kind === kind);
const streamerEnvKeys = (env: Record<string, string>) =>
  Object.keys(env).filter((name) => name.startsWith("STREAMER_"));

describe("streamer source dcgm-exporter", () => {
  test("by default: EndpointSlices of the GPU operator's exporter Service, a Role and RoleBinding there, the pod's own ServiceAccount", () => {
    const objects = render({});
    const env = envOf(objects, "streamer");
    expect(env).toMatchObject({
      STREAMER_SOURCE: "dcgm-exporter",
      STREAMER_EXPORTER_DISCOVERY: "endpointslices",
      STREAMER_EXPORTER_NAMESPACE: "gpu-operator",
      STREAMER_EXPORTER_SERVICE: "nvidia-dcgm-exporter",
      STREAMER_EXPORTER_PORT: "9400",
      STREAMER_EXPORTER_SCHEME: "http",
      STREAMER_EXPORTER_PATH: "/metrics",
      STREAMER_SCRAPE_INTERVAL_MS: "10000",
      STREAMER_SCRAPE_TIMEOUT_MS: "5000",
      STREAMER_DISCOVERY_REFRESH_MS: "30000",
    });
    // The CSV demo's settings are not there: a default install replays nothing.
    expect(streamerEnvKeys(env)).not.toContain("STREAMER_CSV_PATH");
    expect(streamerEnvKeys(env)).not.toContain("STREAMER_RATE_ROWS_PER_S");
    expect(streamerEnvKeys(env)).not.toContain("STREAMER_EXPORTER_LABEL_SELECTOR");

    const account = byKind(objects, "ServiceAccount");
    expect(account.map((object) => object.metadata.name)).toEqual(["telemetry-gpu-telemetry-streamer"]);
    const specs = podSpecs(objects);
    expect(specs.get("streamer")?.serviceAccountName).toBe("telemetry-gpu-telemetry-streamer");
    expect(specs.get("streamer")?.automountServiceAccountToken).toBeUndefined();
    // The others never talk to the Kubernetes API: no token in their pods.
    for (const name of ["collector", "api", "migrate"])
      expect(specs.get(name)?.automountServiceAccountToken).toBe(false);

    const [role] = byKind(objects, "Role");
    const [binding] = byKind(objects, "RoleBinding");
    expect(byKind(objects, "ClusterRole")).toHaveLength(0);
    expect(role?.metadata).toMatchObject({
      name: "telemetry-gpu-telemetry-streamer-discovery",
      namespace: "gpu-operator",
    });
    expect((role as unknown as { rules: Rule[] }).rules).toEqual([
      { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] },
    ]);
    expect(binding?.metadata).toMatchObject({ namespace: "gpu-operator" });
    expect(binding).toMatchObject({
      roleRef: {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "Role",
        name: "telemetry-gpu-telemetry-streamer-discovery",
      },
      subjects: [{ kind: "ServiceAccount", name: "telemetry-gpu-telemetry-streamer", namespace: "default" }],
    });
  });

  test("pods by label in every namespace: a ClusterRole on pods, bound cluster-wide; a port name", () => {
    const objects = render({
      streamer: {
        exporter: {
          discovery: "labelSelector",
          namespace: "*",
          labelSelector: "app.kubernetes.io/name=dcgm-exporter",
          port: "metrics",
        },
      },
    });
    expect(envOf(objects, "streamer")).toMatchObject({
      STREAMER_EXPORTER_DISCOVERY: "pods",
      STREAMER_EXPORTER_NAMESPACE: "*",
      STREAMER_EXPORTER_LABEL_SELECTOR: "app.kubernetes.io/name=dcgm-exporter",
      STREAMER_EXPORTER_PORT: "metrics",
    });
    expect(byKind(objects, "Role")).toHaveLength(0);
    const [role] = byKind(objects, "ClusterRole");
    const [binding] = byKind(objects, "ClusterRoleBinding");
    expect((role as unknown as { rules: Rule[] }).rules).toEqual([
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
    ]);
    // Cluster-scoped names carry the release's namespace: two installs do not collide.
    expect(role?.metadata.name).toBe("default-telemetry-gpu-telemetry-streamer-discovery");
    expect(binding).toMatchObject({
      roleRef: { kind: "ClusterRole", name: "default-telemetry-gpu-telemetry-streamer-discovery" },
      subjects: [{ kind: "ServiceAccount", name: "telemetry-gpu-telemetry-streamer", namespace: "default" }],
    });
  });

  test("an empty namespace is the release's own; rbac and the ServiceAccount can be brought by the operator", () => {
    const own = render({ streamer: { exporter: { namespace: "" } } });
    expect(envOf(own, "streamer").STREAMER_EXPORTER_NAMESPACE).toBe("default");
    expect(byKind(own, "Role")[0]?.metadata).toMatchObject({ namespace: "default" });
    const brought = render({
      streamer: { serviceAccount: { create: false, name: "gpu-readers" }, rbac: { create: false } },
    });
    expect(byKind(brought, "ServiceAccount")).toHaveLength(0);
    expect(byKind(brought, "Role")).toHaveLength(0);
    expect(podSpecs(brought).get("streamer")?.serviceAccountName).toBe("gpu-readers");
  });

  test("a static list: the URLs, no Kubernetes API, no token; an empty list is refused", () => {
    const urls = ["http://gpu-node-1:9400/metrics", "http://gpu-node-2:9400/metrics"];
    const objects = render({ streamer: { exporter: { discovery: "static", urls } } });
    const env = envOf(objects, "streamer");
    expect(env).toMatchObject({ STREAMER_EXPORTER_DISCOVERY: "static", STREAMER_EXPORTER_URLS: urls.join(",") });
    expect(streamerEnvKeys(env)).not.toContain("STREAMER_EXPORTER_NAMESPACE");
    for (const kind of ["ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"]) {
      expect(byKind(objects, kind)).toHaveLength(0);
    }
    expect(podSpecs(objects).get("streamer")?.automountServiceAccountToken).toBe(false);
    expect(validate(merged({ streamer: { exporter: { discovery: "static", urls: [] } } }))).toBe(false);
    expect(validate(merged({ streamer: { exporter: { discovery: "static", urls: ["gpu-node-1:9400"] } } }))).toBe(
      false,
    );
    expect(validate(merged({ streamer: { exporter: { discovery: "static", urls } } }))).toBe(true);
  });
});

describe("streamer source csv (the demo)", () => {
  test("replays at a rate (0 is refused), from the sample or a ConfigMap, with no Kubernetes access", () => {
    const objects = render({ streamer: { source: "csv", csv: { configMap: "my-dcgm-export", rateRowsPerS: 2000 } } });
    const env = envOf(objects, "streamer");
    expect(env).toMatchObject({
      STREAMER_SOURCE: "csv",
      STREAMER_CSV_PATH: "/etc/telemetry-csv/telemetry.csv",
      STREAMER_MODE: "loop",
      STREAMER_RATE_ROWS_PER_S: "2000",
    });
    expect(streamerEnvKeys(env)).not.toContain("STREAMER_EXPORTER_DISCOVERY");
    const spec = podSpecs(objects).get("streamer");
    expect(spec?.volumes?.map((volume) => volume.name)).toContain("csv");
    expect(spec?.automountServiceAccountToken).toBe(false);
    expect(byKind(objects, "Role")).toHaveLength(0);
    const sample = envOf(render({ streamer: { source: "csv" } }), "streamer");
    expect(sample).toMatchObject({
      STREAMER_CSV_PATH: "/app/data/dcgm_metrics_20250718_134233.csv",
      STREAMER_RATE_ROWS_PER_S: "500",
    });
    expect(validate(merged({ streamer: { source: "csv", csv: { rateRowsPerS: 0 } } }))).toBe(false);
  });
});

describe("extraEnv, extraVolumes and extraVolumeMounts", () => {
  test("the chart-wide ones reach every workload, then each component's own", () => {
    const proxy = { name: "HTTPS_PROXY", value: "http://proxy.example.com:3128" };
    const bundle = { name: "ca-bundle", configMap: { name: "corporate-ca" } };
    const mount = { name: "ca-bundle", mountPath: "/etc/ssl/corporate", readOnly: true };
    const values = {
      extraEnv: [proxy],
      extraVolumes: [bundle],
      extraVolumeMounts: [mount],
      streamer: { extraEnv: [{ name: "NODE_EXTRA_CA_CERTS", value: "/etc/ssl/corporate/ca.crt" }] },
      migrate: { extraEnv: [{ name: "TZ", value: "UTC" }] },
      clickhouse: { internal: { extraEnv: [{ name: "CLICKHOUSE_WATCHDOG_ENABLE", value: "0" }] } },
    };
    expect(validate(merged(values))).toBe(true);
    const specs = podSpecs(render(values));
    expect([...specs.keys()].sort()).toEqual(["api", "broker", "clickhouse", "collector", "migrate", "streamer"]);
    for (const [name, spec] of specs) {
      const container = spec.containers[0];
      expect({ name, env: container?.env?.some((variable) => variable.name === "HTTPS_PROXY") }).toEqual({
        name,
        env: true,
      });
      expect({ name, volume: spec.volumes?.some((volume) => volume.name === "ca-bundle") }).toEqual({
        name,
        volume: true,
      });
      expect({ name, mount: container?.volumeMounts?.find((entry) => entry.name === "ca-bundle") }).toEqual({
        name,
        mount,
      });
    }
    const streamerEnv = specs.get("streamer")?.containers[0]?.env?.map((variable) => variable.name) ?? [];
    expect(streamerEnv.indexOf("NODE_EXTRA_CA_CERTS")).toBeGreaterThan(streamerEnv.indexOf("HTTPS_PROXY"));
    expect(specs.get("migrate")?.containers[0]?.env?.some((variable) => variable.name === "TZ")).toBe(true);
    expect(specs.get("clickhouse")?.containers[0]?.env?.some((v) => v.name === "CLICKHOUSE_WATCHDOG_ENABLE")).toBe(
      true,
    );
    expect(specs.get("api")?.containers[0]?.env?.some((variable) => variable.name === "TZ")).toBe(false);
  });
});

describe("retention and migrations", () => {
  test("every pod that talks to ClickHouse gets the one retention; only the migrate Job changes the schema", () => {
    const objects = render({ clickhouse: { retentionDays: 90 } });
    const talking = [...podSpecs(objects)].filter(([, spec]) =>
      spec.containers[0]?.env?.some((variable) => variable.name === "CLICKHOUSE_URL"),
    );
    expect(talking.map(([name]) => name).sort()).toEqual(["api", "collector", "migrate"]);
    for (const [name, spec] of talking) {
      const env = Object.fromEntries(
        (spec.containers[0]?.env ?? []).map((variable) => [variable.name, variable.value]),
      );
      expect({ name, retention: env.TELEMETRY_RETENTION_DAYS }).toEqual({ name, retention: "90" });
      // Migrating is on by default in the services: the chart turns it off everywhere but the Job.
      const migrates = name === "migrate" ? true : env.CLICKHOUSE_MIGRATE_ON_START !== "false";
      expect({ name, migrates }).toEqual({ name, migrates: name === "migrate" });
    }
    const [job] = byKind(objects, "Job");
    expect(job?.metadata.name).toBe("telemetry-gpu-telemetry-migrate-1");
    const spec = (job?.spec ?? {}) as {
      backoffLimit: number;
      ttlSecondsAfterFinished: number;
      template: { spec: PodSpec & { restartPolicy: string } };
    };
    expect(spec.template.spec.containers[0]?.args).toEqual(["migrate"]);
    expect(spec.template.spec.restartPolicy).toBe("Never");
    expect(spec).toMatchObject({ backoffLimit: 3, ttlSecondsAfterFinished: 86400 });
    expect(envOf(objects, "migrate").MIGRATE_WAIT_MS).toBe("600000");
    // Not a Helm hook: it must run beside the ClickHouse the same release creates.
    expect(job?.metadata).not.toHaveProperty("annotations");
  });
});

describe("Grafana dashboards and alert rules", () => {
  test("the GPU fleet dashboard is provisioned beside the pipeline's, on the release's database", () => {
    const file = readFileSync(join(chartDir, "dashboards/gpu-fleet.json"), "utf8");
    // The chart sets the database constant by replacing this text: it must be there once.
    expect(file.split('"query": "telemetry"').length - 1).toBe(1);
    const objects = render({
      clickhouse: { database: "gpu_metrics" },
      metrics: { grafanaDashboard: { enabled: true } },
    });
    const configMap = byKind(objects, "ConfigMap").find((object) => object.metadata.name.endsWith("-dashboard"));
    const data = (configMap as unknown as { data: Record<string, string> }).data;
    expect(Object.keys(data).sort()).toEqual(["gpu-telemetry-gpu-fleet.json", "gpu-telemetry-pipeline.json"]);
    const fleet = JSON.parse(data["gpu-telemetry-gpu-fleet.json"] ?? "") as {
      uid: string;
      templating: { list: { name: string; query: unknown }[] };
    };
    expect(fleet.uid).toBe("gpu-telemetry-gpu-fleet");
    expect(fleet.templating.list.find((variable) => variable.name === "database")?.query).toBe("gpu_metrics");
    expect(configMap?.metadata.labels?.grafana_dashboard).toBe("1");
    const without = render({ metrics: { grafanaDashboard: { enabled: true, gpuFleet: false } } });
    const only = byKind(without, "ConfigMap").find((object) => object.metadata.name.endsWith("-dashboard"));
    expect(Object.keys((only as unknown as { data: Record<string, string> }).data)).toEqual([
      "gpu-telemetry-pipeline.json",
    ]);
  });

  test("the PrometheusRule carries the pipeline and GPU alerts, selected by this release's jobs; it needs the ServiceMonitor", () => {
    const objects = render({
      metrics: {
        serviceMonitor: { enabled: true },
        prometheusRule: { enabled: true, labels: { release: "prometheus" } },
      },
    });
    const [rule] = byKind(objects, "PrometheusRule");
    expect(rule?.metadata.labels?.release).toBe("prometheus");
    if (rule === undefined) throw new Error("no PrometheusRule rendered");
    const groups = (rule.spec as { groups: { name: string; rules: { alert: string; expr: string }[] }[] }).groups;
    const alerts = groups.flatMap((group) => group.rules.map((entry) => entry.alert));
    expect(alerts).toEqual([
      "GpuTelemetryConsumerLagGrowing",
      "GpuTelemetryDeadLetters",
      "GpuTelemetryDataStale",
      "GpuTelemetryBrokerDiskFilling",
      "GpuTelemetryProcessDown",
      "GpuTelemetryExporterScrapesFailing",
      "GpuXidError",
      "GpuXidErrorNeedsReset",
      "GpuThermalThrottling",
      "GpuPowerThrottling",
      "GpuHighTemperature",
    ]);
    for (const entry of groups.flatMap((group) => group.rules)) expect(entry.expr).toContain('namespace="default"');
    const csv = render({
      streamer: { source: "csv" },
      metrics: { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true } },
    });
    const csvAlerts = JSON.stringify(byKind(csv, "PrometheusRule"));
    expect(csvAlerts).not.toContain("GpuTelemetryExporterScrapesFailing");
    expect(renderError({ metrics: { prometheusRule: { enabled: true } } })).toContain(
      "metrics.prometheusRule needs metrics.serviceMonitor.enabled",
    );
    expect(byKind(render({}), "PrometheusRule")).toHaveLength(0);
  });
});
