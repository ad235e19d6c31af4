import type { Logger } from "../../src/observability/logger.ts";
import { sleep } from "../../src/runtime/sleep.ts";
import type { BatchProducer, OwnershipView } from "./batch-producer.ts";
import type { StreamerMetrics } from "./metrics.ts";
import { type CsvFileSource, CsvFormatError, type CsvPassSummary } from "./sources/csv-source.ts";

/**
 * Replays the CSV file: one pass (mode once) or pass after pass (mode loop) until
 * `signal` aborts. A pass that produced nothing (this streamer owns no GPU of the
 * file now) waits `idleWaitMs` before the next, so an idle streamer does not spin.
 * An unreadable file is logged and retried after `retryWaitMs`: bad data never
 * stops the streamer.
 */

export interface CsvLoopOptions {
  source: CsvFileSource;
  path: string;
  mode: "loop" | "once";
  batchProducer: BatchProducer;
  ownership: OwnershipView;
  metrics: StreamerMetrics;
  logger: Logger;
  signal: AbortSignal;
  idleWaitMs: number;
  retryWaitMs: number;
  /** Rejected rows logged per parse (all are counted). */
  rejectionsLoggedMax: number;
}

/** Thrown from the batch callback to end a pass early on shutdown. */
class PassStopped extends Error {
  override name = "PassStopped";
}

/** Passes `loop` mode makes at most: a named bound no real run reaches. */
export const passesMax = Number.MAX_SAFE_INTEGER;

/** Returns true when the last pass read the whole file (once mode's exit status). */
export async function runCsvLoop(options: CsvLoopOptions): Promise<boolean> {
  for (let passIndex = 0; passIndex < passesMax && !options.signal.aborted; passIndex += 1) {
    const result = await onePass(options);
    if (options.mode === "once" && result !== "stopped") return result !== "failed";
    if (result === "failed") await sleep(options.retryWaitMs, options.signal);
    else if (result === "idle") await sleep(options.idleWaitMs, options.signal);
  }
  return false;
}

type PassResult = "produced" | "idle" | "failed" | "stopped";

async function onePass(options: CsvLoopOptions): Promise<PassResult> {
  let produced = 0;
  try {
    const summary = await options.source.pass(async (batch) => {
      if (options.signal.aborted) throw new PassStopped("shutting down");
      produced += await options.batchProducer.produceOwned(batch, options.ownership);
      // Between batches timers and sockets get their turn (heartbeats, HTTP), even
      // when every send was buffered at once.
      await new Promise<void>((resolve) => setImmediate(resolve));
    });
    reportPass(options, summary);
    return produced > 0 ? "produced" : "idle";
  } catch (error) {
    if (error instanceof PassStopped) return "stopped";
    const level = error instanceof CsvFormatError ? "unusable CSV file" : "CSV pass failed";
    options.logger.error({ err: error, path: options.path, retryWaitMs: options.retryWaitMs }, level);
    return "failed";
  }
}

function reportPass(options: CsvLoopOptions, summary: CsvPassSummary): void {
  options.metrics.loops.inc();
  if (summary.fromCache) return;
  // Rejections are counted and logged when the file is parsed, not on every cached replay.
  options.metrics.countRejected(summary.rejectedByReason);
  options.metrics.rowsRead.inc(summary.rejectedCount);
  for (const rejection of summary.rejections.slice(0, options.rejectionsLoggedMax)) {
    options.logger.warn(
      { path: options.path, line: rejection.line, reason: rejection.reason, detail: rejection.detail },
      "row rejected",
    );
  }
  options.logger.info(
    {
      path: options.path,
      accepted: summary.accepted,
      rejected: summary.rejectedByReason,
      rejectedCount: summary.rejectedCount,
      lines: summary.lines,
      bytes: summary.bytes,
    },
    "CSV parsed",
  );
}
