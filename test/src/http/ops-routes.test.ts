import { describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { opsRoutes } from "../../../src/http/ops-routes.ts";
import { createMetricsRegistry } from "../../../src/observability/metrics.ts";

const registry = createMetricsRegistry({ service: "ops-test", instanceId: "test" });

describe("/ready", () => {
  test("a check that does not answer in time counts as not ready, and is not started again while it runs", async () => {
    let calls = 0;
    const hanging = new Promise<boolean>(() => undefined);
    const app = new Elysia().use(
      opsRoutes({
        registry,
        checkTimeoutMs: 100,
        checks: [
          { name: "fast", check: () => true },
          {
            name: "frozen",
            check: () => {
              calls += 1;
              return hanging;
            },
          },
        ],
      }),
    );
    for (let probe = 0; probe < 3; probe += 1) {
      const startedMs = performance.now();
      const response = await app.handle(new Request("http://local/ready"));
      expect(performance.now() - startedMs).toBeLessThan(1_000);
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({ ready: false, checks: { fast: true, frozen: false } });
    }
    expect(calls).toBe(1);
  });

  test("checks that answer, or throw, are reported as they are", async () => {
    let healthy = true;
    const app = new Elysia().use(
      opsRoutes({
        registry,
        checks: [
          { name: "toggled", check: async () => healthy },
          {
            name: "throws",
            check: () => {
              throw new Error("down");
            },
          },
        ],
      }),
    );
    const first = await app.handle(new Request("http://local/ready"));
    expect(await first.json()).toEqual({ ready: false, checks: { toggled: true, throws: false } });
    healthy = false;
    const second = await app.handle(new Request("http://local/ready"));
    expect(second.status).toBe(503);
    expect(await second.json()).toEqual({ ready: false, checks: { toggled: false, throws: false } });
  });
});
