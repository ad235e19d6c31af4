import type { Logger } from "../observability/logger.ts";
import { Counter, type Registry } from "../observability/metrics.ts";
import type { Refusal } from "./route-guard.ts";

/**
 * What a service does with a refused request: count it by route template and code
 * (`http_requests_refused_total`, so a client with a stale token shows on a
 * dashboard) and log it at debug. Never the token, never the raw path.
 */
export function refusalRecorder(registry: Registry, logger: Logger): (refusal: Refusal, route: string) => void {
  const refused = new Counter({
    name: "http_requests_refused_total",
    help: "Requests refused before routing: no token, a token not accepted, a missing scope, or no such route",
    labelNames: ["route", "code"] as const,
    registers: [registry],
  });
  return (refusal, route) => {
    // An unmatched path is not a route template: keep the series bounded.
    const label = refusal.code === "not_found" ? "unmatched" : route;
    refused.inc({ route: label, code: refusal.code });
    logger.debug({ route: label, status: refusal.status, code: refusal.code }, "request refused");
  };
}
