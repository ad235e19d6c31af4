import { Counter, Gauge, Histogram, Registry } from "prom-client";

export { Counter, Gauge, Histogram, Registry };

/**
 * The labels every series of a process carries. Not `service` and `instance`:
 * Prometheus sets those on every target it scrapes (`instance` always, `service` under
 * the Prometheus Operator) and renames clashing ones `exported_*`.
 */
export const defaultLabelNames = { service: "pipeline_service", instance: "pipeline_instance" } as const;

/**
 * A registry with cheap process metrics and the pipeline_service/pipeline_instance
 * labels on every series. prom-client's collectDefaultMetrics is not used: on Bun its
 * heap metrics walk the whole heap, costing 10–100 ms of CPU per scrape in a busy process.
 */
export function createMetricsRegistry(options: { service: string; instanceId: string }): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({
    [defaultLabelNames.service]: options.service,
    [defaultLabelNames.instance]: options.instanceId,
  });
  registerProcessMetrics(registry);
  return registry;
}

function registerProcessMetrics(registry: Registry): void {
  const startTimeSeconds = Math.round(Date.now() / 1_000 - process.uptime());
  let cpuSecondsCounted = 0;
  new Counter({
    name: "process_cpu_seconds_total",
    help: "User and system CPU time spent, in seconds",
    registers: [registry],
    collect() {
      const usage = process.cpuUsage();
      const cpuSeconds = (usage.user + usage.system) / 1e6;
      this.inc(Math.max(0, cpuSeconds - cpuSecondsCounted));
      cpuSecondsCounted = Math.max(cpuSecondsCounted, cpuSeconds);
    },
  });
  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes",
    registers: [registry],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Gauge({
    name: "process_heap_used_bytes",
    help: "JavaScript heap in use, in bytes",
    registers: [registry],
    collect() {
      this.set(process.memoryUsage().heapUsed);
    },
  });
  const start = new Gauge({
    name: "process_start_time_seconds",
    help: "Start time since the Unix epoch, in seconds",
    registers: [registry],
  });
  start.set(startTimeSeconds);
}

/** Latency buckets in seconds, from 0.5 ms to 10 s. */
export const latencyBucketsSeconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Batch-size buckets in records or rows. */
export const batchSizeBuckets = [1, 10, 100, 500, 1_000, 5_000, 10_000, 50_000, 100_000];
