import { expect, test } from "bun:test";
import { watchEventLoopDelay } from "../../../src/observability/event-loop-delay.ts";
import { createMetricsRegistry } from "../../../src/observability/metrics.ts";
import { metricValue } from "../../support/prometheus.ts";

test("a blocked event loop shows as delay: the longest since the last scrape, then reset", async () => {
  const registry = createMetricsRegistry({ service: "test", instanceId: "test" });
  const watch = watchEventLoopDelay(registry, "test");
  try {
    await Bun.sleep(60);
    const blockedUntil = performance.now() + 150;
    while (performance.now() < blockedUntil) {
      // Busy: no timer can fire.
    }
    await Bun.sleep(80);
    const page = await registry.metrics();
    expect(metricValue(page, "test_event_loop_delay_max_seconds")).toBeGreaterThan(0.09);
    expect(metricValue(await registry.metrics(), "test_event_loop_delay_max_seconds")).toBeLessThan(0.09);
    expect(page).toContain('test_event_loop_delay_seconds_bucket{le="0.25"');
  } finally {
    watch.stop();
  }
});
