import { Elysia } from "elysia";
import { opsRoutes, type ReadinessCheck } from "../../src/http/ops-routes.ts";
import { guardApp } from "../../src/http/route-guard.ts";
import type { Registry } from "../../src/observability/metrics.ts";

/**
 * The collector's HTTP surface: /health, /ready and /metrics only, all open (probes and
 * Prometheus), so it accepts no token of its own. It is guarded like every service all
 * the same: a route added later must declare its access, and one needing a scope is
 * refused here until the collector gets tokens for it.
 */
export function createCollectorApp(options: { registry: Registry; checks: ReadinessCheck[] }) {
  const app = new Elysia({ name: "collector" }).use(opsRoutes(options));
  guardApp(app, {
    realm: "collector",
    tokens: { grantsOf: () => [] },
    refuse: (refusal) => Response.json({ error: refusal.code, message: refusal.message }, { status: refusal.status }),
  });
  return app;
}
