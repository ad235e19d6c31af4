import type { Logger } from "../../src/observability/logger.ts";
import type { LogManagerApi } from "../log/log-api.ts";
import type { BrokerMetrics } from "./broker-metrics.ts";
import type { ServerLimits } from "./config.ts";
import type { InFlightGate } from "./in-flight-gate.ts";
import type { ProducerIdAllocator } from "./producer-ids.ts";

/** What every route needs: the log, the limits, the watermarks and the metrics. */
export interface BrokerContext {
  log: LogManagerApi;
  limits: ServerLimits;
  gate: InFlightGate;
  metrics: BrokerMetrics;
  logger: Logger;
  producerIds: ProducerIdAllocator;
  /**
   * Check every record of a produced batch before appending (always, in production).
   * Only the broker benchmark turns it off, to measure what the check costs.
   */
  checkRecords: boolean;
  topicDefaults: { partitions: number; autoCreate: boolean };
  /** Topics a delete refuses without force (BROKER_PROTECTED_TOPICS). */
  protectedTopics: ReadonlySet<string>;
  /** Flipped by the disk watcher; produce answers 503 disk_full while true. */
  disk: {
    belowWatermark: boolean;
    freeBytes: number;
    totalBytes: number;
    /** Set when a write failed with ENOSPC. */
    fullReason?: string;
  };
  /** Set at shutdown: produce answers 503 and long-polls end. */
  lifecycle: { stopping: boolean; abort: AbortController };
}
