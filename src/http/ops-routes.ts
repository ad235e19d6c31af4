import { Elysia, t } from "elysia";
import type { Registry } from "prom-client";
import { openAccess } from "./route-security.ts";

export interface ReadinessCheck {
  /** Shown in the /ready body, e.g. "clickhouse", "broker". */
  name: string;
  /** Resolves true when the dependency answers; must not throw for long. */
  check: () => Promise<boolean> | boolean;
}

export interface OpsRoutesOptions {
  registry: Registry;
  checks: ReadinessCheck[];
}

export const HealthBody = t.Object({ status: t.Literal("ok") }, { $id: "Health", additionalProperties: false });
export const ReadyBody = t.Object(
  {
    ready: t.Boolean(),
    checks: t.Record(t.String(), t.Boolean(), { description: "dependency name → reachable" }),
  },
  { $id: "Ready", additionalProperties: false },
);

/**
 * /health (the process runs), /ready (its dependencies answer: 503 when not) and
 * /metrics (Prometheus text) for every process. Open to anyone: Kubernetes probes
 * them and Prometheus scrapes them without a token, and they hold no data.
 */
export function opsRoutes(options: OpsRoutesOptions) {
  return new Elysia({ name: "ops-routes" })
    .get("/health", () => ({ status: "ok" as const }), {
      response: { 200: HealthBody },
      detail: { tags: ["operations"], summary: "Liveness: the process is running", ...openAccess },
    })
    .get(
      "/ready",
      async ({ set }) => {
        const results = await Promise.all(options.checks.map((item) => runCheck(item)));
        const checks = Object.fromEntries(options.checks.map((item, index) => [item.name, results[index] === true]));
        const ready = results.every(Boolean);
        if (!ready) set.status = 503;
        return { ready, checks };
      },
      {
        response: { 200: ReadyBody, 503: ReadyBody },
        detail: { tags: ["operations"], summary: "Readiness: every dependency answers", ...openAccess },
      },
    )
    .get(
      "/metrics",
      async ({ set }) => {
        set.headers["content-type"] = options.registry.contentType;
        return await options.registry.metrics();
      },
      { detail: { tags: ["operations"], summary: "Prometheus metrics", ...openAccess } },
    );
}

async function runCheck(item: ReadinessCheck): Promise<boolean> {
  try {
    return await item.check();
  } catch {
    return false;
  }
}
