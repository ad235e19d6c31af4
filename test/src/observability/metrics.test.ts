import { describe, expect, test } from "bun:test";
import { createMetricsRegistry } from "../../../src/observability/metrics.ts";

describe("createMetricsRegistry", () => {
  test("serves process metrics with pipeline_service and pipeline_instance labels", async () => {
    const registry = createMetricsRegistry({ service: "collector", instanceId: "collector-1" });
    const text = await registry.metrics();
    for (const name of [
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "process_heap_used_bytes",
      "process_start_time_seconds",
    ]) {
      expect(text).toMatch(
        new RegExp(`^${name}\\{pipeline_service="collector",pipeline_instance="collector-1"\\} \\d`, "m"),
      );
    }
  });

  test("CPU seconds only grow between scrapes", async () => {
    const registry = createMetricsRegistry({ service: "s", instanceId: "i" });
    const read = async () => Number(/^process_cpu_seconds_total\{[^}]*\} (\S+)/m.exec(await registry.metrics())?.[1]);
    const first = await read();
    let spin = 0;
    for (let index = 0; index < 2_000_000; index += 1) spin += index % 7;
    expect(spin).toBeGreaterThan(0);
    expect(await read()).toBeGreaterThan(first);
  });
});
