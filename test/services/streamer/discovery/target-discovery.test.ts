import { afterAll, beforeAll, expect, test } from "bun:test";
import { Writable } from "node:stream";
import { endpointSliceTargets } from "../../../../services/streamer/discovery/endpoint-slice-targets.ts";
import { KubernetesApi } from "../../../../services/streamer/discovery/kubernetes-api.ts";
import { TargetDiscovery } from "../../../../services/streamer/discovery/target-discovery.ts";
import { createLogger } from "../../../../src/observability/logger.ts";
import { type FakeKubernetesApi, startFakeKubernetesApi } from "../../../support/fake-kubernetes-api.ts";
import { serviceAccountDir } from "./service-account.ts";

const lines: { msg: string; [key: string]: unknown }[] = [];
const logger = createLogger({
  service: "test",
  instanceId: "test",
  level: "debug",
  destination: new Writable({
    write: (chunk, _encoding, done) => {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  }),
});

let server: FakeKubernetesApi;
let api: KubernetesApi;
const query = { namespace: "gpu", service: "dcgm", port: 9400, scheme: "http", path: "/metrics" } as const;

beforeAll(() => {
  server = startFakeKubernetesApi({ token: "sa" });
  api = new KubernetesApi({
    apiUrl: server.url,
    serviceAccountDir: serviceAccountDir({ token: "sa", namespace: "gpu" }),
    requestTimeoutMs: 2_000,
    responseBytesMax: 1024 * 1024,
    pageItemsMax: 100,
    pagesMax: 10,
  });
  server.slices.push({
    namespace: "gpu",
    service: "dcgm",
    name: "dcgm-1",
    ports: [{ name: "metrics", port: 9400 }],
    endpoints: [
      { ip: "10.0.0.1", pod: "a" },
      { ip: "10.0.0.2", pod: "b" },
    ],
  });
});
afterAll(() => server.stop());

function discovery(failures: { count: number }) {
  return new TargetDiscovery({
    discover: (signal) => endpointSliceTargets(api, query, signal),
    refreshMs: 50,
    attemptsMax: 3,
    backoff: { backoffMsMin: 5, backoffMsMax: 10 },
    logger,
    onFailure: () => {
      failures.count += 1;
    },
    urlsLoggedMax: 5,
  });
}

test("a failing API is retried with backoff within the attempts; the last good targets stay", async () => {
  const failures = { count: 0 };
  const subject = discovery(failures);
  const stop = new AbortController();
  expect(subject.ready).toBe(false);

  server.failNext(2, 503);
  expect(await subject.refresh(stop.signal)).toBe(true);
  expect(subject.ready).toBe(true);
  expect(subject.current().map((target) => target.url)).toEqual([
    "http://10.0.0.1:9400/metrics",
    "http://10.0.0.2:9400/metrics",
  ]);
  expect(lines.filter((line) => line.msg === "exporter discovery failed; retrying")).toHaveLength(2);

  server.failNext(3, 500);
  expect(await subject.refresh(stop.signal)).toBe(false);
  expect(failures.count).toBe(1);
  expect(subject.current()).toHaveLength(2);
  expect(subject.lastError).toContain("HTTP 500");
  expect(lines.some((line) => line.msg === "exporter discovery failed; keeping the last targets")).toBe(true);
});

test("the running loop follows the API: an exporter added and one removed show up at the next refresh", async () => {
  const subject = discovery({ count: 0 });
  const stop = new AbortController();
  const running = subject.run(stop.signal);
  const waitFor = async (urls: string[]) => {
    for (let attempt = 0; attempt < 100; attempt += 1) {
      if (JSON.stringify(subject.current().map((target) => target.url)) === JSON.stringify(urls)) return;
      await Bun.sleep(20);
    }
    throw new Error(`targets stayed ${subject.current().map((target) => target.url)}`);
  };
  await waitFor(["http://10.0.0.1:9400/metrics", "http://10.0.0.2:9400/metrics"]);
  const slice = server.slices[0];
  if (slice === undefined) throw new Error("no slice");
  slice.endpoints = [
    { ip: "10.0.0.2", pod: "b" },
    { ip: "10.0.0.3", pod: "c" },
  ];
  await waitFor(["http://10.0.0.2:9400/metrics", "http://10.0.0.3:9400/metrics"]);
  const change = lines.filter((line) => line.msg === "exporter targets changed").at(-1);
  expect(change).toMatchObject({ addedCount: 1, removedCount: 1, added: ["http://10.0.0.3:9400/metrics"] });
  stop.abort();
  await running;
});
