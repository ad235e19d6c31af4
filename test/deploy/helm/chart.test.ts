import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Ajv from "ajv";
import { parseTokenEntries } from "../../../src/auth/token-entries.ts";
import { digestEntry } from "../../../src/auth/token-syntax.ts";
import { chartDir, type K8sObject, manifests, renderChart } from "../../support/helm-render.ts";
import { deployedServices } from "./deployed-services.ts";

const schema = JSON.parse(readFileSync(join(chartDir, "values.schema.json"), "utf8")) as object;
const defaults = Bun.YAML.parse(readFileSync(join(chartDir, "values.yaml"), "utf8")) as Record<string, unknown>;
const scaledValues = join(chartDir, "ci/scaled-values.yaml");
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

function withOverride(path: string[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(defaults);
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[path.at(-1) ?? ""] = value;
  return copy;
}

function valuesFile(values: object): string {
  const dir = mkdtempSync(join(tmpdir(), "chart-values-"));
  const file = join(dir, "values.json");
  // JSON is YAML, so the renderer reads it as a values file.
  writeFileSync(file, JSON.stringify(values));
  return file;
}

describe("values.schema.json", () => {
  test("accepts the default values and the scaled example", () => {
    expect(validate(defaults)).toBe(true);
    const scaled = Bun.YAML.parse(readFileSync(scaledValues, "utf8")) as Record<string, unknown>;
    const merged = { ...defaults, ...scaled };
    for (const key of Object.keys(scaled)) {
      merged[key] = { ...(defaults[key] as object), ...(scaled[key] as object) };
    }
    expect(validate(merged)).toBe(true);
  });

  test.each([
    [["collector", "replicas"], 0],
    [["collector", "replicas"], 11],
    [["streamer", "replicas"], 0],
    [["api", "replicas"], 11],
    [["broker", "flush"], "sometimes"],
    [["streamer", "mode"], "forever"],
    [["broker", "port"], 70_000],
    [["clickhouse", "database"], "bad-name; DROP"],
  ])("rejects %p = %p", (path, value) => {
    expect(validate(withOverride(path as string[], value))).toBe(false);
  });

  test("requires clickhouse.external.url when the internal ClickHouse is disabled", () => {
    const values = withOverride(["clickhouse", "internal", "enabled"], false);
    expect(validate(values)).toBe(false);
    const messages = JSON.stringify(validate.errors);
    expect(messages).toContain("url");
    (values.clickhouse as { external: { url: string } }).external.url = "https://ch.example.com:8443";
    expect(validate(values)).toBe(true);
  });

  test("rejects unknown keys so a typo fails the install", () => {
    expect(validate(withOverride(["collector", "replica"], 3))).toBe(false);
  });
});

describe("rendered chart", () => {
  let defaultObjects: K8sObject[];
  let scaledObjects: K8sObject[];

  beforeAll(() => {
    const rendered = renderChart();
    expect(rendered.error).toBe("");
    defaultObjects = manifests(rendered.templates);
    const scaled = renderChart([scaledValues]);
    expect(scaled.error).toBe("");
    scaledObjects = manifests(scaled.templates);
    // The first run compiles the renderer and Sprig.
  }, 180_000);

  const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);

  test("defaults render the broker StatefulSet with a PVC, its services, PDB, ClickHouse and the workloads", () => {
    const names = defaultObjects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(names).toContain("StatefulSet/telemetry-gpu-telemetry-broker");
    expect(names).toContain("Service/telemetry-gpu-telemetry-broker-headless");
    expect(names).toContain("PodDisruptionBudget/telemetry-gpu-telemetry-broker");
    expect(names).toContain("StatefulSet/telemetry-gpu-telemetry-clickhouse");
    expect(names).toContain("Secret/telemetry-gpu-telemetry-clickhouse");
    for (const component of ["streamer", "collector", "api"]) {
      expect(names).toContain(`Deployment/telemetry-gpu-telemetry-${component}`);
    }
    const broker = byKind(defaultObjects, "StatefulSet").find((o) => o.metadata.name.endsWith("-broker"));
    const claims = (broker?.spec as { volumeClaimTemplates: unknown[] } | undefined)?.volumeClaimTemplates;
    expect(claims).toHaveLength(1);
    expect(byKind(defaultObjects, "HorizontalPodAutoscaler")).toHaveLength(0);
    // The API follows the broker for its live tail, datapoint streams and pipeline page.
    const api = byKind(defaultObjects, "Deployment").find((o) => o.metadata.name.endsWith("-api"));
    expect(JSON.stringify(api)).toContain('"name":"BROKER_URL"');
    expect(byKind(defaultObjects, "ServiceMonitor")).toHaveLength(0);
  });

  test("the scaled values add HPAs, ingress, ServiceMonitor, dashboard and use the external ClickHouse", () => {
    expect(
      byKind(scaledObjects, "HorizontalPodAutoscaler")
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(["telemetry-gpu-telemetry-api", "telemetry-gpu-telemetry-collector", "telemetry-gpu-telemetry-streamer"]);
    expect(byKind(scaledObjects, "Ingress")).toHaveLength(1);
    expect(byKind(scaledObjects, "ServiceMonitor")).toHaveLength(1);
    const dashboard = byKind(scaledObjects, "ConfigMap").find((o) => o.metadata.name.endsWith("-dashboard"));
    const json = (dashboard as unknown as { data: Record<string, string> }).data["gpu-telemetry-pipeline.json"] ?? "";
    const titles = (JSON.parse(json) as { panels: { title: string }[] }).panels.map((p) => p.title).join(" | ");
    for (const topic of ["Throughput", "lag", "insert latency", "API latency", "Dead letters"])
      expect(titles).toContain(topic);
    expect(scaledObjects.some((o) => o.kind === "StatefulSet" && o.metadata.name.endsWith("-clickhouse"))).toBe(false);
    expect(JSON.stringify(scaledObjects)).toContain("https://clickhouse.example.com:8443");
  });

  test("every workload's selector matches its pod labels and every object has the standard labels", () => {
    for (const objects of [defaultObjects, scaledObjects]) {
      for (const object of objects) {
        expect(object.metadata.labels?.["app.kubernetes.io/instance"]).toBe("telemetry");
        expect(object.metadata.labels?.["app.kubernetes.io/managed-by"]).toBe("Helm");
      }
      for (const workload of objects.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet")) {
        const spec = workload.spec as {
          selector: { matchLabels: Record<string, string> };
          template: { metadata: { labels: Record<string, string> } };
        };
        for (const [key, value] of Object.entries(spec.selector.matchLabels)) {
          expect(spec.template.metadata.labels[key]).toBe(value);
        }
      }
    }
  });

  test("every Service selects pods that exist and targets a named container port they declare", () => {
    for (const objects of [defaultObjects, scaledObjects]) {
      const pods = objects
        .filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet")
        .map((o) => (o.spec as { template: PodTemplate }).template);
      for (const service of byKind(objects, "Service")) {
        const spec = service.spec as { selector: Record<string, string>; ports: { targetPort: string | number }[] };
        const matching = pods.filter((pod) =>
          Object.entries(spec.selector).every(([k, v]) => pod.metadata.labels[k] === v),
        );
        expect(matching.length).toBeGreaterThan(0);
        for (const port of spec.ports) {
          const declared = matching.flatMap((pod) => pod.spec.containers.flatMap((c) => c.ports ?? []));
          expect(declared.some((p) => p.name === port.targetPort || p.containerPort === port.targetPort)).toBe(true);
        }
      }
    }
  });

  test("probes point at the routes each service really serves, on a declared port", () => {
    for (const pod of podTemplates(defaultObjects)) {
      for (const container of pod.spec.containers) {
        const known = container.name === "clickhouse" ? ["/ping"] : ["/health", "/ready"];
        for (const probe of [container.readinessProbe, container.livenessProbe]) {
          expect(probe).toBeDefined();
          expect(known).toContain(probe?.httpGet.path ?? "");
          expect((container.ports ?? []).some((p) => p.name === probe?.httpGet.port)).toBe(true);
        }
      }
    }
  });

  test("containers run as non-root with dropped capabilities; service pods have a read-only root filesystem", () => {
    for (const pod of podTemplates(scaledObjects.concat(defaultObjects))) {
      const podContext = pod.spec.securityContext as { runAsNonRoot?: boolean };
      expect(podContext.runAsNonRoot).toBe(true);
      for (const container of pod.spec.containers) {
        const context = container.securityContext as {
          allowPrivilegeEscalation: boolean;
          capabilities: { drop: string[] };
          readOnlyRootFilesystem?: boolean;
        };
        expect(context.allowPrivilegeEscalation).toBe(false);
        expect(context.capabilities.drop).toContain("ALL");
        if (container.name !== "clickhouse") expect(context.readOnlyRootFilesystem).toBe(true);
      }
    }
  });

  test("every environment variable a container gets is a setting of that service's config schema", () => {
    for (const pod of podTemplates(scaledObjects.concat(defaultObjects))) {
      for (const container of pod.spec.containers) {
        const service = deployedServices[container.name];
        if (service === undefined) continue;
        for (const variable of container.env ?? []) {
          if (["NODE_ENV"].includes(variable.name)) continue;
          expect({
            container: container.name,
            variable: variable.name,
            known: variable.name in service.properties,
          }).toEqual({
            container: container.name,
            variable: variable.name,
            known: true,
          });
        }
      }
    }
  });

  test("every service container binds 0.0.0.0 explicitly: the services default to 127.0.0.1", () => {
    const bound: string[] = [];
    for (const pod of podTemplates(scaledObjects.concat(defaultObjects))) {
      for (const container of pod.spec.containers) {
        const service = deployedServices[container.name];
        if (service === undefined) continue;
        const hostVariables = Object.keys(service.properties).filter((name) => name.endsWith("_HOST"));
        expect({ container: container.name, hostVariables: hostVariables.length }).toEqual({
          container: container.name,
          hostVariables: 1,
        });
        const hostVariable = hostVariables[0]!;
        expect((service.properties[hostVariable] as { default?: string }).default).toBe("127.0.0.1");
        const value = container.env?.find((variable) => variable.name === hostVariable)?.value;
        expect({ container: container.name, [hostVariable]: value }).toEqual({
          container: container.name,
          [hostVariable]: "0.0.0.0",
        });
        bound.push(container.name);
      }
    }
    expect(new Set(bound)).toEqual(new Set(["broker", "api", "collector", "streamer"]));
  });

  test("the API gets its cursor key from a Secret: generated (48 random bytes) by default, or the given one", () => {
    const secret = defaultObjects.find((o) => o.kind === "Secret" && o.metadata.name === "telemetry-gpu-telemetry-api");
    const generated = (secret as unknown as { data: Record<string, string> }).data["cursor-key"] ?? "";
    const keyText = Buffer.from(generated, "base64").toString("utf8");
    expect(Buffer.from(keyText, "base64").byteLength).toBeGreaterThanOrEqual(32);
    const api = podTemplates(defaultObjects)
      .flatMap((pod) => pod.spec.containers)
      .find((container) => container.name === "api");
    expect(api?.env?.find((variable) => variable.name === "API_CURSOR_KEY")).toEqual({
      name: "API_CURSOR_KEY",
      valueFrom: { secretKeyRef: { name: "telemetry-gpu-telemetry-api", key: "cursor-key" } },
    });

    const given = Buffer.alloc(32, 9).toString("base64");
    const withKey = manifests(renderChart([valuesFile(withOverride(["api", "cursorKey"], given))]).templates);
    const givenSecret = withKey.find((o) => o.kind === "Secret" && o.metadata.name === "telemetry-gpu-telemetry-api");
    expect((givenSecret as unknown as { data: Record<string, string> }).data["cursor-key"]).toBe(
      Buffer.from(given).toString("base64"),
    );
    const external = manifests(
      renderChart([valuesFile(withOverride(["api", "existingCursorKeySecret"], "my-cursor-key"))]).templates,
    );
    expect(external.some((o) => o.kind === "Secret" && o.metadata.name === "telemetry-gpu-telemetry-api")).toBe(false);
    expect(JSON.stringify(external)).toContain('"name":"my-cursor-key"');
    expect(validate(withOverride(["api", "cursorKey"], "short"))).toBe(false);
  });

  test("a HPA with minReplicas above maxReplicas fails to render with a message", () => {
    const values = withOverride(["api", "autoscaling"], {
      enabled: true,
      minReplicas: 5,
      maxReplicas: 2,
      targetCPUUtilizationPercentage: 50,
    });
    const result = renderChart([valuesFile(values)]);
    expect(result.ok).toBe(false);
    expect(result.error).toContain("api.autoscaling.minReplicas (5) must not exceed maxReplicas (2)");
  });

  test("rendering without an external URL when the internal ClickHouse is off fails with the required message", () => {
    const values = withOverride(["clickhouse", "internal", "enabled"], false);
    const result = renderChart([valuesFile(values)]);
    expect(result.ok).toBe(false);
    expect(result.error).toContain("clickhouse.external.url is required");
  });
});

interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: {
    securityContext?: unknown;
    containers: {
      name: string;
      ports?: { name?: string; containerPort: number }[];
      env?: { name: string; value?: string; valueFrom?: unknown }[];
      securityContext?: unknown;
      readinessProbe?: { httpGet: { path: string; port: string } };
      livenessProbe?: { httpGet: { path: string; port: string } };
    }[];
  };
}

function podTemplates(objects: K8sObject[]): PodTemplate[] {
  return objects
    .filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet")
    .map((o) => (o.spec as { template: PodTemplate }).template);
}

describe("chart README", () => {
  test("its values table is current (run `bun run docs` after changing values)", async () => {
    const { withCurrentValues } = await import("../../support/chart-values-doc.ts");
    const readme = readFileSync(join(chartDir, "README.md"), "utf8");
    expect(readme).toBe(withCurrentValues(readme));
  });
});

describe("bearer tokens and network policy", () => {
  interface SecretObject {
    metadata: { name: string };
    data: Record<string, string>;
  }
  interface Volume {
    name: string;
    secret?: { secretName: string; items: { key: string; path: string }[] };
  }
  interface Container {
    name: string;
    env?: { name: string; value?: string }[];
    volumeMounts?: { name: string; mountPath: string }[];
  }
  const tokensName = "telemetry-gpu-telemetry-tokens";
  const clientTokens = [
    "broker-token-streamer",
    "broker-token-collector",
    "broker-token-api",
    "broker-token-admin",
    "api-read-token",
    "streamer-upload-token",
  ];
  const decoded = (secret: SecretObject, key: string) => Buffer.from(secret.data[key] ?? "", "base64").toString("utf8");
  const tokensSecret = (objects: K8sObject[]) =>
    objects.find((o) => o.kind === "Secret" && o.metadata.name === tokensName) as unknown as SecretObject | undefined;
  const workloads = (objects: K8sObject[]) =>
    objects
      .filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet")
      .map((o) => (o.spec as { template: { spec: { containers: Container[]; volumes?: Volume[] } } }).template.spec);
  let objects: K8sObject[];

  beforeAll(() => {
    const rendered = renderChart();
    expect(rendered.error).toBe("");
    objects = manifests(rendered.templates);
  }, 180_000);

  test("one Secret holds a token per role and each service's list of their digests, groups limited", () => {
    const secret = tokensSecret(objects);
    expect(secret).toBeDefined();
    if (secret === undefined) return;
    const digest = (key: string) => digestEntry(decoded(secret, key));
    for (const key of clientTokens) expect(decoded(secret, key)).toMatch(/^[A-Za-z0-9]{43}$/);
    expect(new Set(clientTokens.map((key) => decoded(secret, key))).size).toBe(clientTokens.length);
    expect(decoded(secret, "broker-produce").trim().split("\n")).toEqual([
      digest("broker-token-streamer"),
      digest("broker-token-collector"),
      digest("broker-token-admin"),
    ]);
    expect(decoded(secret, "broker-consume").trim().split("\n")).toEqual([
      `${digest("broker-token-streamer")} groups=streamers`,
      `${digest("broker-token-collector")} groups=collectors`,
      `${digest("broker-token-api")} groups=collectors`,
      digest("broker-token-admin"),
    ]);
    expect(decoded(secret, "broker-admin").trim()).toBe(digest("broker-token-admin"));
    expect(decoded(secret, "api-read").trim()).toBe(digest("api-read-token"));
    expect(decoded(secret, "streamer-upload").trim()).toBe(digest("streamer-upload-token"));
    // The lists parse as the services read them: digests only, never a token.
    for (const list of ["broker-produce", "broker-consume", "broker-admin", "api-read", "streamer-upload"]) {
      const entries = parseTokenEntries(decoded(secret, list), { source: list, limitable: list === "broker-consume" });
      expect(entries.length).toBeGreaterThan(0);
      for (const key of clientTokens) expect(decoded(secret, list)).not.toContain(decoded(secret, key));
    }
  });

  test("each pod mounts only the keys it needs, where its settings point", () => {
    const mounted: Record<string, string[]> = {};
    for (const pod of workloads(objects)) {
      const volume = pod.volumes?.find((v) => v.name === "tokens");
      for (const container of pod.containers) {
        if (volume === undefined) continue;
        expect(volume.secret?.secretName).toBe(tokensName);
        const mount = container.volumeMounts?.find((m) => m.name === "tokens");
        const items = volume.secret?.items ?? [];
        mounted[container.name] = items.map((item) => item.key).sort();
        const files = new Set(items.map((item) => `${mount?.mountPath}/${item.path}`));
        for (const variable of container.env ?? []) {
          if (!/_TOKEN_FILE$|_TOKENS_DIR$/.test(variable.name)) continue;
          const value = variable.value ?? "";
          const pointsAtItem = variable.name.endsWith("_FILE")
            ? files.has(value)
            : [...files].some((file) => file.startsWith(`${value}/`));
          expect({ container: container.name, variable: variable.name, pointsAtItem }).toEqual({
            container: container.name,
            variable: variable.name,
            pointsAtItem: true,
          });
        }
      }
    }
    expect(mounted).toEqual({
      broker: ["broker-admin", "broker-consume", "broker-produce"],
      streamer: ["broker-token-streamer", "streamer-upload"],
      collector: ["broker-token-collector"],
      api: ["api-read", "broker-token-api"],
    });
  });

  test("an upgrade keeps every key as the cluster has it (generated tokens, a rotation in progress)", () => {
    const installed = tokensSecret(objects);
    expect(installed).toBeDefined();
    if (installed === undefined) return;
    const rotating = Buffer.from(
      `${decoded(installed, "broker-admin")}${digestEntry("a-new-admin-token-being-rolled-out")}\n`,
    ).toString("base64");
    const inCluster = { ...installed, data: { ...installed.data, "broker-admin": rotating } };
    const file = join(mkdtempSync(join(tmpdir(), "chart-existing-")), "existing.json");
    writeFileSync(file, JSON.stringify([{ ...inCluster, metadata: { ...inCluster.metadata, namespace: "default" } }]));
    const upgraded = tokensSecret(manifests(renderChart([], file).templates));
    expect(upgraded?.data).toEqual(inCluster.data);
    // Without the cluster's copy (a fresh install) new tokens are generated.
    expect(tokensSecret(manifests(renderChart().templates))?.data["broker-token-admin"]).not.toBe(
      installed.data["broker-token-admin"],
    );
  });

  test("auth.existingSecret: no generated Secret, every pod mounts the named one", () => {
    const rendered = manifests(
      renderChart([valuesFile(withOverride(["auth", "existingSecret"], "my-tokens"))]).templates,
    );
    expect(tokensSecret(rendered)).toBeUndefined();
    const names = workloads(rendered).flatMap((pod) =>
      (pod.volumes ?? []).filter((v) => v.name === "tokens").map((v) => v.secret?.secretName),
    );
    expect(names).toEqual(["my-tokens", "my-tokens", "my-tokens", "my-tokens"]);
  });

  test("the API's read scope is closed unless auth.apiReadOpen says otherwise", () => {
    const readOpen = (rendered: K8sObject[]) =>
      workloads(rendered)
        .flatMap((pod) => pod.containers)
        .find((container) => container.name === "api")
        ?.env?.find((variable) => variable.name === "API_READ_OPEN")?.value;
    expect(readOpen(objects)).toBe("false");
    expect(readOpen(manifests(renderChart([valuesFile(withOverride(["auth", "apiReadOpen"], true))]).templates))).toBe(
      "true",
    );
    expect(validate(withOverride(["auth", "apiReadOpen"], "yes"))).toBe(false);
  });

  test("NetworkPolicies: only this release's pods (and the metrics peers) reach the broker; only collectors and API reach ClickHouse", () => {
    const policies = objects.filter((o) => o.kind === "NetworkPolicy");
    expect(policies.map((o) => o.metadata.name).sort()).toEqual([
      "telemetry-gpu-telemetry-broker",
      "telemetry-gpu-telemetry-clickhouse",
    ]);
    type Rule = { from: Record<string, unknown>[]; ports: { port: string }[] };
    const spec = (name: string) =>
      policies.find((o) => o.metadata.name === name)?.spec as {
        podSelector: { matchLabels: Record<string, string> };
        policyTypes: string[];
        ingress: Rule[];
      };
    const broker = spec("telemetry-gpu-telemetry-broker");
    expect(broker.podSelector.matchLabels["app.kubernetes.io/component"]).toBe("broker");
    expect(broker.policyTypes).toEqual(["Ingress"]);
    expect(broker.ingress[0]?.from).toEqual([
      {
        podSelector: {
          matchLabels: { "app.kubernetes.io/instance": "telemetry", "app.kubernetes.io/name": "gpu-telemetry" },
        },
      },
    ]);
    expect(broker.ingress[1]?.from).toEqual([
      { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } },
    ]);
    const clickhouse = spec("telemetry-gpu-telemetry-clickhouse");
    const components = clickhouse.ingress[0]?.from.map(
      (peer) =>
        (peer as { podSelector: { matchLabels: Record<string, string> } }).podSelector.matchLabels[
          "app.kubernetes.io/component"
        ],
    );
    expect(components).toEqual(["collector", "api"]);
    // Every pod the policies let in exists, and the named port is the broker's and ClickHouse's container port.
    for (const rule of [...broker.ingress, ...clickhouse.ingress]) expect(rule.ports).toEqual([{ port: "http" }]);

    const custom = withOverride(["networkPolicy"], {
      enabled: true,
      metricsFrom: [
        { podSelector: { matchLabels: { app: "prometheus" } }, namespaceSelector: { matchLabels: { team: "obs" } } },
      ],
      brokerFrom: [{ namespaceSelector: { matchLabels: { team: "ops" } } }],
    });
    const rendered = manifests(renderChart([valuesFile(custom)]).templates);
    const customBroker = rendered.find((o) => o.kind === "NetworkPolicy" && o.metadata.name.endsWith("-broker"))
      ?.spec as {
      ingress: Rule[];
    };
    expect(customBroker.ingress[0]?.from[1]).toEqual({ namespaceSelector: { matchLabels: { team: "ops" } } });
    expect(customBroker.ingress[1]?.from).toEqual([
      { podSelector: { matchLabels: { app: "prometheus" } }, namespaceSelector: { matchLabels: { team: "obs" } } },
    ]);
    const off = manifests(renderChart([valuesFile(withOverride(["networkPolicy", "enabled"], false))]).templates);
    expect(off.some((o) => o.kind === "NetworkPolicy")).toBe(false);
    expect(validate(withOverride(["networkPolicy", "metricsFrom"], [{}]))).toBe(false);
    expect(validate(withOverride(["networkPolicy", "metricsFrom"], [{ namespace: "monitoring" }]))).toBe(false);
  });
});
