import {
  batchSizeBuckets,
  Counter,
  Gauge,
  Histogram,
  latencyBucketsSeconds,
  type Registry,
} from "../../src/observability/metrics.ts";

export type RequestKind = "query" | "insert" | "ping" | "other";

export interface EndpointMetrics {
  requests: Counter<"kind" | "status">;
  durationSeconds: Histogram<"kind">;
  insertRows: Histogram;
  rowsWritten: Counter;
  rowsRead: Counter;
}

/** Prometheus series of the embedded endpoint; the queue gauges read the executor on scrape. */
export function createEndpointMetrics(
  registry: Registry,
  queue: { queueLength: () => number; busy: () => boolean },
): EndpointMetrics {
  new Gauge({
    name: "clickhouse_embedded_queued_queries",
    help: "Queries waiting for the chdb connection",
    registers: [registry],
    collect() {
      this.set(queue.queueLength());
    },
  });
  new Gauge({
    name: "clickhouse_embedded_running_queries",
    help: "Queries running on the chdb connection (one connection: 0 or 1)",
    registers: [registry],
    collect() {
      this.set(queue.busy() ? 1 : 0);
    },
  });
  return {
    requests: new Counter({
      name: "clickhouse_embedded_requests_total",
      help: "HTTP requests by kind and response status",
      labelNames: ["kind", "status"],
      registers: [registry],
    }),
    durationSeconds: new Histogram({
      name: "clickhouse_embedded_request_duration_seconds",
      help: "Time from request arrival to response, queue wait included",
      labelNames: ["kind"],
      buckets: latencyBucketsSeconds,
      registers: [registry],
    }),
    insertRows: new Histogram({
      name: "clickhouse_embedded_insert_rows",
      help: "Rows written per insert request",
      buckets: batchSizeBuckets,
      registers: [registry],
    }),
    rowsWritten: new Counter({
      name: "clickhouse_embedded_rows_written_total",
      help: "Rows written by inserts",
      registers: [registry],
    }),
    rowsRead: new Counter({
      name: "clickhouse_embedded_rows_read_total",
      help: "Rows read by queries",
      registers: [registry],
    }),
  };
}
