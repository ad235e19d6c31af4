/**
 * A small Kubernetes API server for discovery tests: a real HTTP(S) server that
 * answers LIST requests for EndpointSlices and pods the way the API server does
 * (label selector `kubernetes.io/service-name=…` or `k=v`, `limit`/`continue` paging,
 * a Status object on errors, 401 without the expected bearer token). The tests change
 * its objects while it runs to move exporters around.
 */
import type { Server } from "bun";

export interface FakeEndpoint {
  ip: string;
  pod: string;
  ready?: boolean | null;
  terminating?: boolean;
}

export interface FakeSlice {
  namespace: string;
  service: string;
  name: string;
  ports: { name?: string; port: number }[];
  endpoints: FakeEndpoint[];
}

export interface FakePod {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  ip: string;
  phase?: string;
  ready?: boolean;
  deleting?: boolean;
  ports: { name?: string; containerPort: number }[];
}

export interface FakeKubernetesApi {
  url: string;
  slices: FakeSlice[];
  pods: FakePod[];
  /** Every request's path and query, in order. */
  requests: { path: string; query: URLSearchParams; authorization: string | null }[];
  /** The next `count` requests answer this status with a Status object. */
  failNext(count: number, status: number): void;
  stop(): Promise<void>;
}

export function startFakeKubernetesApi(options: {
  token: string;
  tls?: { cert: string; key: string };
}): FakeKubernetesApi {
  const api: Omit<FakeKubernetesApi, "url" | "stop"> = {
    slices: [],
    pods: [],
    requests: [],
    failNext: (count, status) => {
      failures = { count, status };
    },
  };
  let failures = { count: 0, status: 500 };
  const server: Server<undefined> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    fetch(request) {
      const url = new URL(request.url);
      const authorization = request.headers.get("authorization");
      api.requests.push({ path: url.pathname, query: url.searchParams, authorization });
      if (authorization !== `Bearer ${options.token}`) return status(401, "Unauthorized");
      if (failures.count > 0) {
        failures.count -= 1;
        return status(failures.status, "injected failure");
      }
      return route(api, url);
    },
  });
  const scheme = options.tls === undefined ? "http" : "https";
  return { ...api, url: `${scheme}://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}

function route(api: Omit<FakeKubernetesApi, "url" | "stop">, url: URL): Response {
  const slices = /^\/apis\/discovery\.k8s\.io\/v1(?:\/namespaces\/([^/]+))?\/endpointslices$/.exec(url.pathname);
  if (slices !== null) {
    const selected = api.slices.filter(
      (slice) =>
        (slices[1] === undefined || slice.namespace === slices[1]) &&
        matches({ "kubernetes.io/service-name": slice.service }, url.searchParams.get("labelSelector") ?? ""),
    );
    return page(selected.map(sliceObject), url, "EndpointSliceList");
  }
  const pods = /^\/api\/v1(?:\/namespaces\/([^/]+))?\/pods$/.exec(url.pathname);
  if (pods !== null) {
    const phase = /status\.phase=(\w+)/.exec(url.searchParams.get("fieldSelector") ?? "")?.[1];
    const selected = api.pods.filter(
      (pod) =>
        (pods[1] === undefined || pod.namespace === pods[1]) &&
        matches(pod.labels, url.searchParams.get("labelSelector") ?? "") &&
        (phase === undefined || (pod.phase ?? "Running") === phase),
    );
    return page(selected.map(podObject), url, "PodList");
  }
  return status(404, `the server could not find the requested resource ${url.pathname}`);
}

/** Equality selectors only (`a=b,c=d`), which is what discovery sends. */
function matches(labels: Record<string, string>, selector: string): boolean {
  if (selector === "") return true;
  return selector.split(",").every((term) => {
    const [key, value] = term.split("=");
    return labels[key ?? ""] === value;
  });
}

/** `limit` items from the offset `continue` names, with a continue token while more remain. */
function page(items: unknown[], url: URL, kind: string): Response {
  const limit = Number(url.searchParams.get("limit") ?? "0") || items.length;
  const from = Number(url.searchParams.get("continue") ?? "0");
  const slice = items.slice(from, from + limit);
  const more = from + limit < items.length;
  return Response.json({
    kind,
    apiVersion: "v1",
    metadata: { resourceVersion: "1", ...(more ? { continue: String(from + limit) } : {}) },
    items: slice,
  });
}

function sliceObject(slice: FakeSlice): unknown {
  return {
    kind: "EndpointSlice",
    apiVersion: "discovery.k8s.io/v1",
    metadata: {
      name: slice.name,
      namespace: slice.namespace,
      labels: { "kubernetes.io/service-name": slice.service, "endpointslice.kubernetes.io/managed-by": "test" },
    },
    addressType: "IPv4",
    endpoints: slice.endpoints.map((endpoint) => ({
      addresses: [endpoint.ip],
      conditions: {
        ...(endpoint.ready === undefined ? {} : { ready: endpoint.ready }),
        serving: endpoint.ready !== false,
        terminating: endpoint.terminating ?? false,
      },
      nodeName: `node-${endpoint.pod}`,
      targetRef: { kind: "Pod", name: endpoint.pod, namespace: slice.namespace, uid: crypto.randomUUID() },
    })),
    ports: slice.ports.map((port) => ({ ...port, protocol: "TCP" })),
  };
}

function podObject(pod: FakePod): unknown {
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: {
      name: pod.name,
      namespace: pod.namespace,
      labels: pod.labels,
      ...(pod.deleting === true ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}),
    },
    spec: {
      nodeName: `node-${pod.name}`,
      containers: [{ name: "exporter", image: "dcgm-exporter", ports: pod.ports }],
    },
    status: {
      phase: pod.phase ?? "Running",
      podIP: pod.ip,
      conditions: [
        { type: "Initialized", status: "True" },
        { type: "Ready", status: pod.ready === false ? "False" : "True" },
      ],
    },
  };
}

function status(code: number, message: string): Response {
  return Response.json(
    { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason: "Failure", code },
    { status: code },
  );
}
