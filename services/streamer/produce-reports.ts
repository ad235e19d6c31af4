import type { ProduceRefusal, ProducerOptions } from "../../src/broker-client/producer.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { StreamerMetrics } from "./metrics.ts";

/** While the broker keeps refusing, a summary line at most this often (the first refusal is logged at once). */
export const refusalLogIntervalMs = 5_000;

/**
 * What the producer tells the streamer, counted and logged: acknowledged records,
 * refused attempts (disk full, slow down, shutting down, unreachable: retried) and
 * batches given up. A broker that refuses for a minute gives a handful of lines,
 * not one per retry, and never silence.
 */
export function produceReports(
  metrics: StreamerMetrics,
  logger: Logger,
  clock: () => number,
): Pick<ProducerOptions, "onAcked" | "onRefused" | "onDropped"> {
  let lastLoggedMs = Number.NEGATIVE_INFINITY;
  let refusedSince = 0;
  return {
    onAcked: (ack) => metrics.countAcked(ack.records),
    onRefused: (refusal: ProduceRefusal) => {
      metrics.produceRefused.inc({ code: refusal.code });
      refusedSince += 1;
      const nowMs = clock();
      if (nowMs - lastLoggedMs < refusalLogIntervalMs) return;
      logger.warn(
        { ...refusal, refusedSinceLastLine: refusedSince },
        "the broker refused a produce request; retrying (nothing is dropped)",
      );
      lastLoggedMs = nowMs;
      refusedSince = 0;
    },
    onDropped: (drop) => {
      metrics.rowsDropped.inc({ reason: "given_up" }, drop.records);
      logger.error({ err: drop.error, partition: drop.partition, records: drop.records }, "records given up");
    },
  };
}
