import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  inClusterApiUrl,
  KubernetesApi,
  KubernetesApiError,
  podNamespace,
} from "../../../../services/streamer/discovery/kubernetes-api.ts";
import { type FakeKubernetesApi, startFakeKubernetesApi } from "../../../support/fake-kubernetes-api.ts";
import { serviceAccountDir } from "./service-account.ts";

const fixtures = new URL("../../../fixtures/tls/", import.meta.url).pathname;
const cert = await Bun.file(join(fixtures, "kube-apiserver.crt")).text();
const key = await Bun.file(join(fixtures, "kube-apiserver.key")).text();
const limits = { requestTimeoutMs: 2_000, responseBytesMax: 1024 * 1024, pageItemsMax: 2, pagesMax: 10 };

let plain: FakeKubernetesApi;
let secure: FakeKubernetesApi;

beforeAll(() => {
  plain = startFakeKubernetesApi({ token: "sa-token-1" });
  secure = startFakeKubernetesApi({ token: "sa-token-1", tls: { cert, key } });
  for (const api of [plain, secure]) {
    for (let index = 0; index < 5; index += 1) {
      api.pods.push({
        namespace: "gpu",
        name: `exporter-${index}`,
        labels: { app: "dcgm" },
        ip: `10.0.0.${index}`,
        ports: [{ name: "metrics", containerPort: 9400 }],
      });
    }
  }
});
afterAll(async () => {
  await plain.stop();
  await secure.stop();
});

describe("KubernetesApi", () => {
  test("lists page by page with the service account's token, re-read before every request", async () => {
    const dir = serviceAccountDir({ token: "sa-token-1", namespace: "gpu" });
    const api = new KubernetesApi({ ...limits, apiUrl: plain.url, serviceAccountDir: dir });
    plain.requests.length = 0;
    const items = await api.list("/api/v1/namespaces/gpu/pods", { labelSelector: "app=dcgm" });
    expect(items).toHaveLength(5);
    expect(plain.requests.map((request) => request.query.get("continue"))).toEqual([null, "2", "4"]);
    expect(plain.requests.every((request) => request.query.get("limit") === "2")).toBe(true);
    expect(plain.requests[0]?.authorization).toBe("Bearer sa-token-1");
    // The kubelet rotates the token file: the next request presents the new one.
    writeFileSync(join(dir, "token"), "sa-token-2");
    const refused = await api.list("/api/v1/namespaces/gpu/pods", {}).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(KubernetesApiError);
    expect((refused as KubernetesApiError).status).toBe(401);
    expect((refused as Error).message).toContain("token was refused");
  });

  test("over https it trusts the cluster CA from the service account directory", async () => {
    const withCa = serviceAccountDir({ token: "sa-token-1", namespace: "gpu", ca: cert });
    const api = new KubernetesApi({ ...limits, apiUrl: secure.url, serviceAccountDir: withCa });
    expect(await api.list("/api/v1/pods", {})).toHaveLength(5);
    const withoutCa = serviceAccountDir({ token: "sa-token-1", namespace: "gpu" });
    const untrusted = new KubernetesApi({ ...limits, apiUrl: secure.url, serviceAccountDir: withoutCa });
    const error = await untrusted.list("/api/v1/pods", {}).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(KubernetesApiError);
    expect((error as KubernetesApiError).status).toBe(0);
  });

  test("an error status carries the API's message; 403 says which rights are missing", async () => {
    const dir = serviceAccountDir({ token: "sa-token-1", namespace: "gpu" });
    const api = new KubernetesApi({ ...limits, apiUrl: plain.url, serviceAccountDir: dir });
    plain.failNext(1, 403);
    const forbidden = (await api.list("/api/v1/pods", {}).catch((error: unknown) => error)) as KubernetesApiError;
    expect(forbidden.status).toBe(403);
    expect(forbidden.message).toContain("injected failure");
    expect(forbidden.message).toContain("Role/ClusterRole");
    const missing = (await api.list("/api/v1/nodes", {}).catch((error: unknown) => error)) as KubernetesApiError;
    expect(missing.status).toBe(404);
  });

  test("pages and answers are bounded", async () => {
    const dir = serviceAccountDir({ token: "sa-token-1", namespace: "gpu" });
    const fewPages = new KubernetesApi({ ...limits, pagesMax: 2, apiUrl: plain.url, serviceAccountDir: dir });
    await expect(fewPages.list("/api/v1/pods", {})).rejects.toThrow(/more than pagesMax 2 pages/);
    const small = new KubernetesApi({ ...limits, responseBytesMax: 100, apiUrl: plain.url, serviceAccountDir: dir });
    await expect(small.list("/api/v1/pods", {})).rejects.toThrow(/exceeds 100/);
  });

  test("a server that does not answer in time is an error naming the timeout", async () => {
    const silent = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => Bun.sleep(2_000).then(() => new Response()),
    });
    const dir = serviceAccountDir({ token: "t", namespace: "gpu" });
    const api = new KubernetesApi({
      ...limits,
      requestTimeoutMs: 100,
      apiUrl: `http://127.0.0.1:${silent.port}`,
      serviceAccountDir: dir,
    });
    await expect(api.list("/api/v1/pods", {})).rejects.toThrow(/timed out after 100 ms/);
    await silent.stop(true);
  });

  test("in a pod: the API URL from KUBERNETES_SERVICE_HOST/PORT, the namespace from the mounted file", () => {
    expect(inClusterApiUrl("10.96.0.1", "443")).toBe("https://10.96.0.1:443");
    expect(inClusterApiUrl("fd00::1", "")).toBe("https://[fd00::1]:443");
    expect(() => inClusterApiUrl("", "443")).toThrow(/KUBERNETES_SERVICE_HOST is not set/);
    expect(podNamespace(serviceAccountDir({ token: "t", namespace: "telemetry" }))).toBe("telemetry");
    expect(() => podNamespace("/nonexistent")).toThrow(/STREAMER_EXPORTER_NAMESPACE/);
  });
});
