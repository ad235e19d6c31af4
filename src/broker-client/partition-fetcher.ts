import { type BackoffOptions, backoffDelayMs } from "../runtime/backoff.ts";
import { sleep } from "../runtime/sleep.ts";
import type { ByteBudget } from "./byte-budget.ts";
import { ConsumedBatch } from "./consumed-batch.ts";
import { BrokerClientError, type BrokerHttp } from "./http-client.ts";
import { type FetchedBytes, fetchPartition } from "./partition-fetch.ts";

export interface PartitionFetcherOptions {
  http: BrokerHttp;
  topic: string;
  partition: number;
  startOffset: number;
  fetchBytesMax: number;
  fetchWaitMs: number;
  budget: ByteBudget;
  backoff: BackoffOptions;
  handler: (batch: ConsumedBatch) => Promise<void> | void;
  /** Called after the handler succeeded, with the offset to commit (one past the last record). */
  onProcessed: (nextOffset: number) => void;
  onError: (error: unknown, where: string) => void;
}

/**
 * The fetch loop of one assigned partition: long-poll, hand the batch to the
 * handler, advance only when the handler succeeded (it is retried with backoff
 * otherwise). `stop` ends the loop between batches: an in-flight fetch is aborted,
 * an in-flight handler is awaited, never interrupted.
 */
export class PartitionFetcher {
  private position: number;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;

  constructor(private readonly options: PartitionFetcherOptions) {
    this.position = options.startOffset;
  }

  get nextOffset(): number {
    return this.position;
  }

  start(): void {
    if (this.running !== undefined) throw new Error(`${this.options.topic}/${this.options.partition} already started`);
    this.running = this.loop();
  }

  /** Resolves once no fetch and no handler of this partition is running. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      await this.options.budget.waitForRoom(this.abort.signal);
      if (this.stopped) return;
      try {
        const batch = await this.fetchOnce();
        failures = 0;
        if (batch !== undefined) await this.handle(batch);
      } catch (error) {
        if (this.stopped) return;
        failures += 1;
        this.options.onError(error, `fetch ${this.options.topic}/${this.options.partition}@${this.position}`);
        const retryAfterMs = error instanceof BrokerClientError ? error.retryAfterMs : 0;
        await sleep(backoffDelayMs(this.options.backoff, failures, retryAfterMs), this.abort.signal);
      }
    }
  }

  private async fetchOnce(): Promise<ConsumedBatch | undefined> {
    const { topic, partition, fetchBytesMax, fetchWaitMs } = this.options;
    let fetched: FetchedBytes;
    try {
      fetched = await fetchPartition(this.options.http, {
        topic,
        partition,
        offset: this.position,
        fetchBytesMax,
        waitMs: fetchWaitMs,
        signal: this.abort.signal,
      });
    } catch (error) {
      if (error instanceof BrokerClientError && error.code === "offset_out_of_range")
        return this.resetOutOfRange(error);
      throw error;
    }
    const { bytes, nextOffset, highWatermark } = fetched;
    if (bytes.byteLength === 0 || !(nextOffset > this.position)) return undefined;
    return new ConsumedBatch(topic, partition, bytes, this.position, nextOffset, highWatermark, this.abort.signal);
  }

  /** Below the log start (retention passed us) go to the start; past the end go to the end. */
  private resetOutOfRange(error: BrokerClientError): undefined {
    const start = error.body?.logStartOffset ?? 0;
    const end = error.body?.highWatermark ?? 0;
    const reset = this.position < start ? start : end;
    this.options.onError(
      error,
      `${this.options.topic}/${this.options.partition}: offset ${this.position} reset to ${reset}`,
    );
    this.position = reset;
    return undefined;
  }

  private async handle(batch: ConsumedBatch): Promise<void> {
    const { budget } = this.options;
    budget.take(batch.bytes.byteLength);
    try {
      for (let attempt = 1; ; attempt += 1) {
        try {
          await this.options.handler(batch);
          break;
        } catch (error) {
          this.options.onError(error, `handler ${batch.topic}/${batch.partition}@${batch.firstOffset}`);
          // A revoked partition's unhandled batch is the next owner's to process.
          if (this.stopped) return;
          await sleep(backoffDelayMs(this.options.backoff, attempt), this.abort.signal);
          if (this.stopped) return;
        }
      }
      this.position = batch.nextOffset;
      this.options.onProcessed(batch.nextOffset);
    } finally {
      budget.release(batch.bytes.byteLength);
    }
  }
}
