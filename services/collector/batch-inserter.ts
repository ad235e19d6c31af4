import type { ClickHouseClient } from "@clickhouse/client";
import { insertDatapointRows } from "../../src/clickhouse/datapoints-insert.ts";
import type { Logger } from "../../src/observability/logger.ts";
import { type BackoffOptions, backoffDelayMs } from "../../src/runtime/backoff.ts";
import { sleep } from "../../src/runtime/sleep.ts";
import type { CollectorMetrics } from "./metrics.ts";

/** Inserts waiting for a slot; one per partition handler, so more means a handler leak. */
export const insertWaitersMax = 65_536;
/** A retry backoff re-checks whether to give up this often. */
const backoffSliceMs = 250;

/** The insert was given up because the partition is going away (shutdown or rebalance); it is not committed. */
export class InsertAbandonedError extends Error {
  override name = "InsertAbandonedError";
}

export interface BatchInserterOptions {
  client: ClickHouseClient;
  backoff: BackoffOptions;
  insertsInFlightMax: number;
  metrics: CollectorMetrics;
  logger: Logger;
}

export interface InsertRequest {
  /** Datapoints rows, each followed by its source columns. */
  body: Uint8Array;
  rows: number;
  dedupToken: string;
  /** Checked after every failure: true gives the insert up (an attempt under way always finishes). */
  abandon: () => boolean;
  /** Wakes a backoff sleep early (shutdown). */
  signal: AbortSignal;
}

/**
 * Inserts batches into ClickHouse, at most `insertsInFlightMax` at once, retrying a
 * failed one with capped exponential backoff and jitter until it succeeds or is
 * abandoned. Every failure is retried (a refused insert is not dropped: losing rows is
 * worse than a stalled partition, and the validation in front of it is meant to make
 * data errors impossible); `failing` drives /ready meanwhile.
 */
export class BatchInserter {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private consecutiveFailures = 0;

  constructor(private readonly options: BatchInserterOptions) {
    if (!(options.insertsInFlightMax >= 1))
      throw new RangeError(`insertsInFlightMax must be ≥ 1, got ${options.insertsInFlightMax}`);
  }

  /** True while the last insert attempt failed and none has succeeded since. */
  get failing(): boolean {
    return this.consecutiveFailures > 0;
  }

  async insert(request: InsertRequest): Promise<void> {
    await this.acquire();
    try {
      await this.insertWithRetries(request);
    } finally {
      this.release();
    }
  }

  private async insertWithRetries(request: InsertRequest): Promise<void> {
    const { metrics, logger } = this.options;
    for (let attempt = 1; ; attempt++) {
      const startedMs = performance.now();
      try {
        await insertDatapointRows(this.options.client, request.body, {
          dedupToken: request.dedupToken,
          withSource: true,
        });
        metrics.insertDurationSeconds.observe((performance.now() - startedMs) / 1000);
        metrics.insertBatchRows.observe(request.rows);
        metrics.rowsInserted.inc(request.rows);
        this.consecutiveFailures = 0;
        return;
      } catch (error) {
        this.consecutiveFailures += 1;
        metrics.insertRetries.inc();
        const delayMs = backoffDelayMs(this.options.backoff, attempt);
        logger.warn(
          { err: error, token: request.dedupToken, rows: request.rows, attempt, delayMs },
          "ClickHouse insert failed; retrying",
        );
        await this.backoff(request, delayMs, attempt);
      }
    }
  }

  /** Sleeps in short slices so a rebalance (abandon) does not wait out a long backoff. */
  private async backoff(request: InsertRequest, delayMs: number, attempt: number): Promise<void> {
    const endMs = performance.now() + delayMs;
    for (let slices = 0; slices <= delayMs / backoffSliceMs + 1; slices++) {
      if (request.abandon())
        throw new InsertAbandonedError(`insert ${request.dedupToken} abandoned after attempt ${attempt}`);
      const remainingMs = endMs - performance.now();
      if (remainingMs <= 0) return;
      await sleep(Math.min(remainingMs, backoffSliceMs), request.signal);
    }
  }

  private async acquire(): Promise<void> {
    while (this.running >= this.options.insertsInFlightMax) {
      if (this.waiting.length >= insertWaitersMax) {
        throw new Error(
          `${this.waiting.length} inserts already wait for a slot (insertWaitersMax ${insertWaitersMax})`,
        );
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.running += 1;
  }

  private release(): void {
    this.running -= 1;
    this.waiting.shift()?.();
  }
}
