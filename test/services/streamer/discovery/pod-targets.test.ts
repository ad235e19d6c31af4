import { afterAll, beforeAll, expect, test } from "bun:test";
import { KubernetesApi } from "../../../../services/streamer/discovery/kubernetes-api.ts";
import { podTargets } from "../../../../services/streamer/discovery/pod-targets.ts";
import { type FakeKubernetesApi, startFakeKubernetesApi } from "../../../support/fake-kubernetes-api.ts";
import { serviceAccountDir } from "./service-account.ts";

let server: FakeKubernetesApi;
let api: KubernetesApi;

beforeAll(() => {
  server = startFakeKubernetesApi({ token: "sa" });
  api = new KubernetesApi({
    apiUrl: server.url,
    serviceAccountDir: serviceAccountDir({ token: "sa", namespace: "monitoring" }),
    requestTimeoutMs: 2_000,
    responseBytesMax: 1024 * 1024,
    pageItemsMax: 500,
    pagesMax: 10,
  });
  const labels = { "app.kubernetes.io/name": "dcgm-exporter" };
  const ports = [{ name: "metrics", containerPort: 9400 }];
  server.pods.push(
    { namespace: "monitoring", name: "dcgm-exporter-a", labels, ip: "10.3.0.1", ports },
    { namespace: "monitoring", name: "dcgm-exporter-b", labels, ip: "10.3.0.2", ports },
    { namespace: "monitoring", name: "dcgm-exporter-pending", labels, ip: "10.3.0.3", ports, phase: "Pending" },
    { namespace: "monitoring", name: "dcgm-exporter-unready", labels, ip: "10.3.0.4", ports, ready: false },
    { namespace: "monitoring", name: "dcgm-exporter-deleting", labels, ip: "10.3.0.5", ports, deleting: true },
    { namespace: "monitoring", name: "dcgm-exporter-noip", labels, ip: "", ports },
    { namespace: "monitoring", name: "node-exporter", labels: { app: "node-exporter" }, ip: "10.3.0.9", ports },
    { namespace: "other", name: "dcgm-exporter-c", labels, ip: "10.4.0.1", ports: [{ containerPort: 9400 }] },
  );
});
afterAll(() => server.stop());

test("running, ready, live pods matching the selector become targets on their named port", async () => {
  const targets = await podTargets(api, {
    namespace: "monitoring",
    labelSelector: "app.kubernetes.io/name=dcgm-exporter",
    port: "metrics",
    scheme: "http",
    path: "/metrics",
  });
  expect(targets).toEqual([
    { url: "http://10.3.0.1:9400/metrics", origin: "monitoring/dcgm-exporter-a" },
    { url: "http://10.3.0.2:9400/metrics", origin: "monitoring/dcgm-exporter-b" },
  ]);
  const request = server.requests.at(-1);
  expect(request?.path).toBe("/api/v1/namespaces/monitoring/pods");
  expect(request?.query.get("fieldSelector")).toBe("status.phase=Running");
});

test("every namespace with a port number; a pod without the named port is skipped", async () => {
  const shape = {
    namespace: "*",
    labelSelector: "app.kubernetes.io/name=dcgm-exporter",
    scheme: "http",
    path: "/metrics",
  } as const;
  const byNumber = await podTargets(api, { ...shape, port: 9400 });
  expect(byNumber.map((target) => target.url)).toEqual([
    "http://10.3.0.1:9400/metrics",
    "http://10.3.0.2:9400/metrics",
    "http://10.4.0.1:9400/metrics",
  ]);
  expect(server.requests.at(-1)?.path).toBe("/api/v1/pods");
  const byName = await podTargets(api, { ...shape, port: "metrics" });
  expect(byName.map((target) => target.origin)).toEqual(["monitoring/dcgm-exporter-a", "monitoring/dcgm-exporter-b"]);
});
