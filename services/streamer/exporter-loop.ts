import type { Logger } from "../../src/observability/logger.ts";
import { sleep } from "../../src/runtime/sleep.ts";
import type { BatchProducer, OwnershipView } from "./batch-producer.ts";
import type { ExporterTarget } from "./discovery/exporter-target.ts";
import type { StreamerMetrics } from "./metrics.ts";
import type { DcgmExporterSource, TargetScrape } from "./sources/dcgm-exporter-source.ts";
import type { RowBatch } from "./sources/row-batch.ts";
import type { TargetClaims } from "./target-claims.ts";

/**
 * The live source through the same produce path as the CSV. Every `intervalMs` each
 * target this streamer owns (target-claims.ts) is queued for a scrape, unless its last
 * scrape is still running (then it is skipped and counted as an overrun); at most
 * `concurrencyMax` scrapes run at once. A scrape's samples are rate-limited and
 * stamped like CSV rows and sent whole (see BatchProducer.produceScraped).
 *
 * A failing target is logged when it starts failing and when it recovers, not on
 * every interval; every failure is counted.
 */

export interface ExporterLoopOptions {
  source: DcgmExporterSource;
  /** The current targets (discovery). */
  targets: () => readonly ExporterTarget[];
  claims: TargetClaims;
  batchProducer: BatchProducer;
  ownership: OwnershipView;
  metrics: StreamerMetrics;
  logger: Logger;
  signal: AbortSignal;
  intervalMs: number;
  concurrencyMax: number;
}

/** Intervals the loop runs, and scrapes one worker makes, at most: named bounds no real run reaches. */
export const ticksMax = Number.MAX_SAFE_INTEGER;
export const scrapesPerWorkerMax = Number.MAX_SAFE_INTEGER;

export class ExporterLoop {
  private queue: ExporterTarget[] = [];
  private readonly queued = new Set<string>();
  private readonly sleepers = new Set<() => void>();
  /** URL → the error it failed with last (absent: its last scrape was fine). */
  private readonly failing = new Map<string, string>();
  private gpusThisTick = new Set<string>();
  private gpusLastTick = 0;

  constructor(private readonly options: ExporterLoopOptions) {
    if (!Number.isInteger(options.concurrencyMax) || options.concurrencyMax < 1) {
      throw new Error(`concurrencyMax ${options.concurrencyMax} must be an integer >= 1`);
    }
  }

  /** Distinct GPUs in the scrapes of the last full interval. */
  get gpuCount(): number {
    return this.gpusLastTick;
  }

  async run(): Promise<void> {
    const workers = Array.from({ length: this.options.concurrencyMax }, () => this.work());
    const { signal, intervalMs } = this.options;
    for (let tick = 0; tick < ticksMax && !signal.aborted; tick += 1) {
      this.enqueueOwned();
      await sleep(intervalMs, signal);
      this.gpusLastTick = this.gpusThisTick.size;
      this.gpusThisTick = new Set();
      this.options.metrics.loops.inc();
    }
    this.wakeAll();
    await Promise.all(workers);
  }

  private enqueueOwned(): void {
    const { claims, metrics } = this.options;
    const targets = this.options.targets();
    this.forgetGone(targets);
    for (const target of targets) {
      if (!claims.owns(target.url)) continue;
      if (this.queued.has(target.url) || claims.isScraping(target.url)) {
        metrics.scrapeOverruns.inc();
        continue;
      }
      this.queued.add(target.url);
      this.queue.push(target);
    }
    this.wakeAll();
  }

  /** Failure states of targets discovery no longer lists: the map stays as big as the target set. */
  private forgetGone(targets: readonly ExporterTarget[]): void {
    if (this.failing.size === 0) return;
    const current = new Set(targets.map((target) => target.url));
    for (const url of this.failing.keys()) if (!current.has(url)) this.failing.delete(url);
  }

  private wakeAll(): void {
    for (const wake of this.sleepers) wake();
    this.sleepers.clear();
  }

  private async work(): Promise<void> {
    const { signal } = this.options;
    for (let step = 0; step < scrapesPerWorkerMax && !signal.aborted; step += 1) {
      const target = this.queue.shift();
      if (target === undefined) {
        await new Promise<void>((resolve) => this.sleepers.add(resolve));
        continue;
      }
      this.queued.delete(target.url);
      await this.scrapeOne(target);
    }
  }

  private async scrapeOne(target: ExporterTarget): Promise<void> {
    const { claims, source, signal } = this.options;
    // Ownership may have moved since it was queued: claim checks it again.
    const claim = claims.claim(target);
    if (claim === undefined) return;
    try {
      const scrape = await source.scrapeTarget(target.url, (batch) => this.produce(batch), {
        signal: AbortSignal.any([claim.signal, signal]),
        onFetched: () => claim.fetched(),
      });
      this.report(target, scrape);
    } catch (error) {
      // The producer gave up on records (delivery timeout): counted and logged; the next interval tries again.
      this.options.metrics.produceErrors.inc();
      this.options.logger.error({ err: error, target: target.url }, "producing a scrape failed");
    } finally {
      claim.end();
    }
  }

  private async produce(batch: RowBatch): Promise<void> {
    for (let index = batch.start; index < batch.end; index += 1) this.gpusThisTick.add(batch.keys[index] as string);
    await this.options.batchProducer.produceScraped(batch, this.options.ownership);
  }

  private report(target: ExporterTarget, scrape: TargetScrape): void {
    const { metrics, logger } = this.options;
    metrics.scrapeDuration.observe(scrape.durationMs / 1000);
    metrics.countRejected(scrape.rejectedByReason);
    const rejected = Object.values(scrape.rejectedByReason).reduce((sum, count) => sum + (count ?? 0), 0);
    metrics.rowsRead.inc(rejected);
    if (scrape.parseErrorCount > 0) {
      logger.warn(
        { target: target.url, parseErrors: scrape.parseErrors, count: scrape.parseErrorCount },
        "unparsable exporter lines",
      );
    }
    if (scrape.ok) {
      if (this.failing.delete(target.url))
        logger.info({ target: target.url, origin: target.origin }, "scrape recovered");
      return;
    }
    // A hand-over aborts fetches on purpose: not a failure of the target.
    if (scrape.error === "aborted") return;
    metrics.scrapeFailures.inc();
    if (this.failing.get(target.url) === scrape.error) return;
    this.failing.set(target.url, scrape.error ?? "");
    logger.warn(
      { target: target.url, origin: target.origin, error: scrape.error, durationMs: Math.round(scrape.durationMs) },
      "scrape failed",
    );
  }
}
