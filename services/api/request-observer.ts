import { randomUUID } from "node:crypto";
import { Elysia } from "elysia";
import type { Logger } from "../../src/observability/logger.ts";
import { Counter, Histogram, latencyBucketsSeconds, type Registry } from "../../src/observability/metrics.ts";

export interface RequestObserverOptions {
  logger: Logger;
  registry: Registry;
}

interface RequestState {
  id: string;
  startedMs: number;
}

/** A client-sent x-request-id is kept only when it is short and plain. */
const requestIdPattern = /^[A-Za-z0-9._-]{1,128}$/;
/** Probes hit these every few seconds; their successes are logged at debug only. */
const quietRoutes = new Set(["/health", "/ready", "/metrics"]);

/** The request id, assigned when the request arrived; "unknown" before that (never expected). */
export function requestIdOf(states: WeakMap<Request, RequestState>, request: Request): string {
  return states.get(request)?.id ?? "unknown";
}

/**
 * Gives every request an id (x-request-id header), and when the response is sent
 * counts it and observes its latency by route template (never the raw path, which
 * would make one series per GPU) and logs one line: method, route, status, ms.
 */
export function requestObserver(options: RequestObserverOptions) {
  const states = new WeakMap<Request, RequestState>();
  const labelNames = ["route", "method", "status"] as const;
  const requests = new Counter({
    name: "http_requests_total",
    help: "HTTP requests answered, by route template, method and status",
    labelNames,
    registers: [options.registry],
  });
  const durations = new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request latency from arrival to response, by route template, method and status",
    labelNames,
    buckets: latencyBucketsSeconds,
    registers: [options.registry],
  });
  const plugin = new Elysia({ name: "request-observer" })
    .onRequest(({ request, set }) => {
      const sent = request.headers.get("x-request-id");
      const id = sent !== null && requestIdPattern.test(sent) ? sent : randomUUID();
      states.set(request, { id, startedMs: performance.now() });
      set.headers["x-request-id"] = id;
    })
    .onAfterResponse({ as: "global" }, ({ request, route, set }) => {
      const state = states.get(request);
      if (state === undefined) return;
      const tookMs = performance.now() - state.startedMs;
      const labels = { route: route || "unmatched", method: request.method, status: String(set.status ?? 200) };
      requests.inc(labels);
      durations.observe(labels, tookMs / 1_000);
      const line = { requestId: state.id, ...labels, ms: Number(tookMs.toFixed(2)) };
      if (quietRoutes.has(labels.route) && labels.status === "200") options.logger.debug(line, "request");
      else options.logger.info(line, "request");
    });
  return { plugin, requestId: (request: Request) => requestIdOf(states, request) };
}
