import type { Logger } from "../../src/observability/logger.ts";
import { sleep } from "../../src/runtime/sleep.ts";
import type { BatchProducer, OwnershipView } from "./batch-producer.ts";
import type { StreamerMetrics } from "./metrics.ts";
import type { DcgmExporterSource, ScrapeRound } from "./sources/dcgm-exporter-source.ts";

/**
 * The live source through the same produce path as the CSV: every scrape round's
 * samples are filtered by ownership, rate-limited and stamped like CSV rows.
 */

export interface ExporterLoopOptions {
  source: DcgmExporterSource;
  batchProducer: BatchProducer;
  ownership: OwnershipView;
  metrics: StreamerMetrics;
  logger: Logger;
  signal: AbortSignal;
  retryWaitMs: number;
}

/** Restarts of the scrape loop after an unexpected error; a named bound no real run reaches. */
export const restartsMax = Number.MAX_SAFE_INTEGER;

export async function runExporterLoop(options: ExporterLoopOptions): Promise<void> {
  for (let restart = 0; restart < restartsMax && !options.signal.aborted; restart += 1) {
    try {
      await options.source.run(
        (batch) => options.batchProducer.produceOwned(batch, options.ownership).then(() => undefined),
        options.signal,
        (round) => reportRound(options, round),
      );
    } catch (error) {
      options.logger.error({ err: error, retryWaitMs: options.retryWaitMs }, "scrape loop failed; restarting");
      await sleep(options.retryWaitMs, options.signal);
    }
  }
}

function reportRound(options: ExporterLoopOptions, round: ScrapeRound): void {
  const { metrics, logger } = options;
  metrics.loops.inc();
  for (const target of round.targets) {
    metrics.countRejected(target.rejectedByReason);
    const rejected = Object.values(target.rejectedByReason).reduce((sum, count) => sum + (count ?? 0), 0);
    metrics.rowsRead.inc(rejected);
    if (!target.ok) {
      metrics.scrapeFailures.inc();
      logger.warn(
        { target: target.target, error: target.error, durationMs: Math.round(target.durationMs) },
        "scrape failed",
      );
    }
    if (target.parseErrorCount > 0) {
      logger.warn(
        { target: target.target, parseErrors: target.parseErrors, count: target.parseErrorCount },
        "unparsable exporter lines",
      );
    }
  }
  logger.debug({ accepted: round.accepted, failedTargets: round.failedTargets }, "scrape round");
}
