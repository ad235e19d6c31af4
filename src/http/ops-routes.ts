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
  /** A check that has not answered within this counts as not ready (default readyCheckTimeoutMsDefault). */
  checkTimeoutMs?: number;
}

/** Well below a probe's own timeout (Kubernetes: 1 s by default). */
export const readyCheckTimeoutMsDefault = 800;

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
 *
 * /ready answers within its time bound whatever the dependencies do: a check still
 * running then counts as not ready (a frozen ClickHouse makes the process not ready,
 * not its probe hang). A check still running is not started again by the next probe:
 * that one waits for the same answer, so a dependency that hangs does not pile up calls.
 */
export function opsRoutes(options: OpsRoutesOptions) {
  const timeoutMs = options.checkTimeoutMs ?? readyCheckTimeoutMsDefault;
  const running = new Map<ReadinessCheck, Promise<boolean>>();
  const bounded = (item: ReadinessCheck): Promise<boolean> => {
    let answer = running.get(item);
    if (answer === undefined) {
      answer = runCheck(item).finally(() => running.delete(item));
      running.set(item, answer);
    }
    return Promise.race([answer, Bun.sleep(timeoutMs).then(() => false)]);
  };
  return new Elysia({ name: "ops-routes" })
    .get("/health", () => ({ status: "ok" as const }), {
      response: { 200: HealthBody },
      detail: { tags: ["operations"], summary: "Liveness: the process is running", ...openAccess },
    })
    .get(
      "/ready",
      async ({ set }) => {
        const results = await Promise.all(options.checks.map(bounded));
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
