import { labelCountMax } from "../../../src/domain/telemetry.ts";
import { readBodyBounded } from "../../../src/http/bounded-body.ts";
import { extraLabels, type Labels } from "../../../src/telemetry/labels.ts";
import {
  type PrometheusParseError,
  type PrometheusSample,
  parsePrometheusText,
} from "../../../src/telemetry/prometheus-text.ts";
import { encodeRecordTail } from "../../../src/telemetry/record-codec.ts";
import {
  buildSourcePoint,
  type RowRejectionReason,
  type SourcePointResult,
} from "../../../src/telemetry/source-point.ts";
import { type OnRowBatch, RowBatcher } from "./row-batch.ts";

/**
 * The live source: scrapes one dcgm-exporter Prometheus endpoint
 * (`http://host:9400/metrics`) and turns each `DCGM_FI_*` sample into the same
 * datapoint a CSV row gives. Which targets are scraped and when is the exporter
 * loop's business; a target that is down or slow is reported to it, never thrown.
 */

export interface DcgmExporterSourceOptions {
  /** Per-target deadline for connecting and reading the whole body. */
  timeoutMs: number;
  bodyBytesMax: number;
  samplesPerScrapeMax: number;
  batchRowsMax: number;
  /** Parse errors kept per scrape (all are counted). */
  errorsKeptMax: number;
  /** Sent as User-Agent, so an exporter's logs say which streamer scraped it. */
  userAgent: string;
  /** UTC epoch ms: the source timestamp of samples that carry none. Injected for tests. */
  clock: () => number;
}

export const dcgmNamePrefix = "DCGM_FI_";

export interface TargetScrape {
  target: string;
  ok: boolean;
  /** Why the scrape failed (connection, status, timeout, size, aborted); undefined when ok. */
  error: string | undefined;
  accepted: number;
  rejectedByReason: Partial<Record<RowRejectionReason, number>>;
  parseErrorCount: number;
  parseErrors: PrometheusParseError[];
  durationMs: number;
}

export interface ScrapeHooks {
  /** Aborts the fetch (shutdown, or the target was handed over before its body arrived). */
  signal?: AbortSignal | undefined;
  /** Called once the whole body was read, before any of it is handed on. */
  onFetched?: () => void;
}

export class DcgmExporterSource {
  constructor(private readonly options: DcgmExporterSourceOptions) {
    if (!(options.timeoutMs > 0)) throw new Error(`timeoutMs ${options.timeoutMs} must be > 0`);
  }

  /** Scrapes `target` once and hands on its valid samples in batches. */
  async scrapeTarget(target: string, onBatch: OnRowBatch, hooks: ScrapeHooks = {}): Promise<TargetScrape> {
    const startedMs = this.options.clock();
    const body = await this.fetchBody(target, hooks.signal);
    const scrape = newTargetScrape(target, body.durationMs, body.error);
    if (body.text === undefined) return scrape;
    hooks.onFetched?.();
    const batcher = new RowBatcher(this.options.batchRowsMax, onBatch);
    await this.convert(body.text, scrape, batcher, startedMs);
    await batcher.flush();
    return scrape;
  }

  private async convert(text: string, scrape: TargetScrape, batcher: RowBatcher, scrapeMs: number): Promise<void> {
    const parsed = parsePrometheusText(text, {
      namePrefix: dcgmNamePrefix,
      samplesMax: this.options.samplesPerScrapeMax,
      errorsKeptMax: this.options.errorsKeptMax,
    });
    scrape.parseErrorCount = parsed.errorCount;
    scrape.parseErrors = parsed.errors;
    const targetUrl = new URL(scrape.target);
    for (const sample of parsed.samples) {
      const result = sampleToPoint(sample, { host: targetUrl.hostname, instance: targetUrl.host, scrapeMs });
      if (!result.ok) {
        scrape.rejectedByReason[result.reason] = (scrape.rejectedByReason[result.reason] ?? 0) + 1;
        continue;
      }
      scrape.accepted += 1;
      if (batcher.add(result.point.uuid, encodeRecordTail(result.point))) await batcher.flush();
    }
  }

  private async fetchBody(target: string, signal: AbortSignal | undefined): Promise<FetchedBody> {
    const started = performance.now();
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    try {
      const response = await fetch(target, {
        signal: combined,
        headers: { accept: "text/plain", "user-agent": this.options.userAgent },
      });
      if (!response.ok) {
        await response.body?.cancel();
        return { text: undefined, error: `HTTP ${response.status}`, durationMs: performance.now() - started };
      }
      const text = await readBodyBounded(response, this.options.bodyBytesMax);
      return { text, error: undefined, durationMs: performance.now() - started };
    } catch (error) {
      const message = timeout.aborted
        ? `timed out after ${this.options.timeoutMs} ms`
        : signal?.aborted === true
          ? "aborted"
          : errorMessage(error);
      return { text: undefined, error: message, durationMs: performance.now() - started };
    }
  }
}

interface FetchedBody {
  text: string | undefined;
  error: string | undefined;
  durationMs: number;
}

interface SampleContext {
  /** The target's host name: the Hostname of samples that lack one. */
  host: string;
  /** host:port, as Prometheus would label the scrape. */
  instance: string;
  scrapeMs: number;
}

/** One exporter sample to a datapoint with the same fields a CSV row has. */
export function sampleToPoint(sample: PrometheusSample, context: SampleContext): SourcePointResult {
  const labels = sample.labels;
  const extra: Labels = extraLabels(labels);
  if (extra.instance === undefined && Object.keys(extra).length < labelCountMax) extra.instance = context.instance;
  return buildSourcePoint({
    source_ts: sample.timestampMs ?? context.scrapeMs,
    uuid: labels.UUID ?? "",
    hostname: labels.Hostname ?? context.host,
    gpu_index: labels.gpu ?? "",
    device: labels.device ?? "",
    model: labels.modelName ?? "",
    metric: sample.name,
    value: sample.value,
    container: labels.container ?? "",
    pod: labels.pod ?? "",
    namespace: labels.namespace ?? "",
    labels: extra,
  });
}

function newTargetScrape(target: string, durationMs: number, error: string | undefined): TargetScrape {
  return {
    target,
    ok: error === undefined,
    error,
    accepted: 0,
    rejectedByReason: {},
    parseErrorCount: 0,
    parseErrors: [],
    durationMs,
  };
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 200);
  return String(error).slice(0, 200);
}
