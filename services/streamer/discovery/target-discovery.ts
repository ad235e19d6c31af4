import type { Logger } from "../../../src/observability/logger.ts";
import type { BackoffOptions } from "../../../src/runtime/backoff.ts";
import { RetryAbortedError, retry } from "../../../src/runtime/retry.ts";
import { sleep } from "../../../src/runtime/sleep.ts";
import { type ExporterTarget, targetsMax } from "./exporter-target.ts";

/**
 * Keeps the current set of exporter targets: discovers them, then again every
 * `refreshMs`. A failed discovery is retried with backoff up to `attemptsMax` times;
 * when those run out the last good set stays in use (an API server restart must not
 * stop the scrapes) and the next refresh tries again. Until the first success the set
 * is empty and `ready` is false (the streamer's /ready says why).
 */

export interface TargetDiscoveryOptions {
  /** One discovery: the whole set as it is now. */
  discover: (signal: AbortSignal) => Promise<ExporterTarget[]>;
  /** 0: discover once (a static list). */
  refreshMs: number;
  attemptsMax: number;
  backoff: BackoffOptions;
  logger: Logger;
  /** Told of every discovery that ends in failure (after its retries). */
  onFailure: () => void;
  /** URLs logged per change (added, removed); all are counted. */
  urlsLoggedMax: number;
}

/** Refreshes the loop makes at most: a named bound no real run reaches. */
export const refreshesMax = Number.MAX_SAFE_INTEGER;

export class TargetDiscovery {
  private targets: readonly ExporterTarget[] = [];
  private succeeded = false;
  private lastErrorText: string | undefined;

  constructor(private readonly options: TargetDiscoveryOptions) {
    if (!(options.refreshMs >= 0)) throw new Error(`refreshMs ${options.refreshMs} must be >= 0`);
  }

  /** The targets now (sorted by URL). */
  current(): readonly ExporterTarget[] {
    return this.targets;
  }

  /** True once a discovery succeeded. */
  get ready(): boolean {
    return this.succeeded;
  }

  /** Why the last discovery failed, while it is the latest word. */
  get lastError(): string | undefined {
    return this.lastErrorText;
  }

  /** Discovers now and then every refreshMs until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    for (let refresh = 0; refresh < refreshesMax && !signal.aborted; refresh += 1) {
      await this.refresh(signal);
      if (this.options.refreshMs === 0 && this.succeeded) return;
      await sleep(this.options.refreshMs === 0 ? this.options.backoff.backoffMsMax : this.options.refreshMs, signal);
    }
  }

  /** One discovery with its retries; true when it succeeded. */
  async refresh(signal: AbortSignal): Promise<boolean> {
    const { logger } = this.options;
    try {
      const found = await retry(() => this.options.discover(signal), {
        attemptsMax: this.options.attemptsMax,
        backoff: this.options.backoff,
        signal,
        onRetry: ({ error, attempt, delayMs }) =>
          logger.warn({ err: error, attempt, waitMs: delayMs }, "exporter discovery failed; retrying"),
      });
      this.accept(found);
      return true;
    } catch (error) {
      if (error instanceof RetryAbortedError) return false;
      this.lastErrorText = error instanceof Error ? error.message : String(error);
      this.options.onFailure();
      logger.error(
        { err: error, keptTargets: this.targets.length, attempts: this.options.attemptsMax },
        "exporter discovery failed; keeping the last targets",
      );
      return false;
    }
  }

  private accept(found: ExporterTarget[]): void {
    let targets = found;
    if (targets.length > targetsMax) {
      this.options.logger.error(
        { found: targets.length, targetsMax },
        "too many exporter targets; the rest are ignored",
      );
      targets = targets.slice(0, targetsMax);
    }
    const before = new Set(this.targets.map((target) => target.url));
    const after = new Set(targets.map((target) => target.url));
    const added = [...after].filter((url) => !before.has(url));
    const removed = [...before].filter((url) => !after.has(url));
    this.targets = targets;
    this.succeeded = true;
    this.lastErrorText = undefined;
    if (added.length === 0 && removed.length === 0) return;
    const logged = this.options.urlsLoggedMax;
    this.options.logger.info(
      {
        targets: targets.length,
        addedCount: added.length,
        removedCount: removed.length,
        added: added.slice(0, logged),
        removed: removed.slice(0, logged),
      },
      "exporter targets changed",
    );
  }
}
