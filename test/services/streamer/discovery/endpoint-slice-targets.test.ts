import { afterAll, beforeAll, expect, test } from "bun:test";
import { endpointSliceTargets } from "../../../../services/streamer/discovery/endpoint-slice-targets.ts";
import { KubernetesApi } from "../../../../services/streamer/discovery/kubernetes-api.ts";
import { type FakeKubernetesApi, startFakeKubernetesApi } from "../../../support/fake-kubernetes-api.ts";
import { serviceAccountDir } from "./service-account.ts";

let server: FakeKubernetesApi;
let api: KubernetesApi;
const shape = { port: 9400, scheme: "http", path: "/metrics" } as const;

beforeAll(() => {
  server = startFakeKubernetesApi({ token: "sa" });
  api = new KubernetesApi({
    apiUrl: server.url,
    serviceAccountDir: serviceAccountDir({ token: "sa", namespace: "gpu-operator" }),
    requestTimeoutMs: 2_000,
    responseBytesMax: 1024 * 1024,
    pageItemsMax: 1,
    pagesMax: 20,
  });
  const ports = [{ name: "gpu-metrics", port: 9400 }];
  server.slices.push(
    {
      namespace: "gpu-operator",
      service: "nvidia-dcgm-exporter",
      name: "nvidia-dcgm-exporter-abcde",
      ports,
      endpoints: [
        { ip: "10.1.0.7", pod: "nvidia-dcgm-exporter-7xk2p" },
        { ip: "10.1.0.8", pod: "nvidia-dcgm-exporter-9qq4z", ready: null },
        { ip: "10.1.0.9", pod: "nvidia-dcgm-exporter-starting", ready: false },
        { ip: "10.1.0.10", pod: "nvidia-dcgm-exporter-leaving", terminating: true },
      ],
    },
    // A replacement slice still listing one address of the first: one target.
    {
      namespace: "gpu-operator",
      service: "nvidia-dcgm-exporter",
      name: "nvidia-dcgm-exporter-fghij",
      ports,
      endpoints: [
        { ip: "10.1.0.8", pod: "nvidia-dcgm-exporter-9qq4z" },
        { ip: "fd00::11", pod: "nvidia-dcgm-exporter-v6" },
      ],
    },
    {
      namespace: "gpu-operator",
      service: "another-service",
      name: "another-service-xyz",
      ports,
      endpoints: [{ ip: "10.9.9.9", pod: "unrelated" }],
    },
    {
      namespace: "lab",
      service: "nvidia-dcgm-exporter",
      name: "nvidia-dcgm-exporter-lab",
      ports: [{ name: "metrics", port: 9500 }],
      endpoints: [{ ip: "10.2.0.1", pod: "lab-exporter" }],
    },
  );
});
afterAll(() => server.stop());

test("ready endpoints of the Service's slices become targets, once each, sorted, paged through", async () => {
  const targets = await endpointSliceTargets(api, {
    ...shape,
    namespace: "gpu-operator",
    service: "nvidia-dcgm-exporter",
  });
  expect(targets).toEqual([
    { url: "http://10.1.0.7:9400/metrics", origin: "gpu-operator/nvidia-dcgm-exporter-7xk2p" },
    { url: "http://10.1.0.8:9400/metrics", origin: "gpu-operator/nvidia-dcgm-exporter-9qq4z" },
    { url: "http://[fd00::11]:9400/metrics", origin: "gpu-operator/nvidia-dcgm-exporter-v6" },
  ]);
  const request = server.requests.at(-1);
  expect(request?.path).toBe("/apis/discovery.k8s.io/v1/namespaces/gpu-operator/endpointslices");
  expect(request?.query.get("labelSelector")).toBe("kubernetes.io/service-name=nvidia-dcgm-exporter");
});

test("the port is matched by name or number; slices without it give no target", async () => {
  const byName = await endpointSliceTargets(api, {
    ...shape,
    port: "gpu-metrics",
    scheme: "https",
    path: "metrics",
    namespace: "gpu-operator",
    service: "nvidia-dcgm-exporter",
  });
  expect(byName.map((target) => target.url)[0]).toBe("https://10.1.0.7:9400/metrics");
  const everywhere = await endpointSliceTargets(api, {
    ...shape,
    port: "metrics",
    namespace: "*",
    service: "nvidia-dcgm-exporter",
  });
  expect(everywhere).toEqual([{ url: "http://10.2.0.1:9500/metrics", origin: "lab/lab-exporter" }]);
  expect(server.requests.at(-1)?.path).toBe("/apis/discovery.k8s.io/v1/endpointslices");
});

test("a malformed slice is an error naming the field", async () => {
  const broken = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () => Response.json({ items: [{ endpoints: [{ addresses: "10.0.0.1" }] }], metadata: {} }),
  });
  const brokenApi = new KubernetesApi({
    apiUrl: `http://127.0.0.1:${broken.port}`,
    serviceAccountDir: "/nonexistent",
    requestTimeoutMs: 1_000,
    responseBytesMax: 10_000,
    pageItemsMax: 10,
    pagesMax: 1,
  });
  await expect(endpointSliceTargets(brokenApi, { ...shape, namespace: "x", service: "s" })).rejects.toThrow(
    /EndpointSlice of s is malformed at \/endpoints/,
  );
  await broken.stop(true);
});
