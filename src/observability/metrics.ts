import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

export { Counter, Gauge, Histogram, Registry };

/** A registry with process metrics and the service/instance labels on every series. */
export function createMetricsRegistry(options: { service: string; instanceId: string }): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service, instance: options.instanceId });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Latency buckets in seconds, from 0.5 ms to 10 s. */
export const latencyBucketsSeconds = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Batch-size buckets in records or rows. */
export const batchSizeBuckets = [1, 10, 100, 500, 1_000, 5_000, 10_000, 50_000, 100_000];
