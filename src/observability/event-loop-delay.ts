import { Gauge, Histogram, type Registry } from "prom-client";

const probeIntervalMs = 50;

/**
 * How late a timer due every 50 ms fires: the time the process could not run its
 * event loop, because it was busy (a long synchronous task) or not scheduled (a
 * busy machine). A latency spike with a small delay here lies elsewhere.
 */
export function watchEventLoopDelay(registry: Registry, prefix: string): { stop(): void } {
  const histogram = new Histogram({
    name: `${prefix}_event_loop_delay_seconds`,
    help: "how late a 50 ms timer fired: time the event loop could not run",
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  let maxSeconds = 0;
  new Gauge({
    name: `${prefix}_event_loop_delay_max_seconds`,
    help: "the longest event loop delay since the previous scrape",
    registers: [registry],
    collect() {
      this.set(maxSeconds);
      maxSeconds = 0;
    },
  });
  let expectedMs = performance.now() + probeIntervalMs;
  const timer = setInterval(() => {
    const nowMs = performance.now();
    const delaySeconds = Math.max(0, nowMs - expectedMs) / 1_000;
    histogram.observe(delaySeconds);
    maxSeconds = Math.max(maxSeconds, delaySeconds);
    expectedMs = nowMs + probeIntervalMs;
  }, probeIntervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
