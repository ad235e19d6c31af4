import { labelCountMax } from "../../../src/domain/telemetry.ts";
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
 * The live source: scrapes dcgm-exporter's Prometheus endpoints (`http://host:9400/metrics`)
 * every `intervalMs` and turns each `DCGM_FI_*` sample into the same datapoint a CSV
 * row gives. A target that is down or slow is counted and logged by the caller;
 * the other targets are still scraped.
 */

export interface DcgmExporterSourceOptions {
  targets: readonly string[];
  intervalMs: number;
  /** Per-target deadline for connecting and reading the whole body. */
  timeoutMs: number;
  bodyBytesMax: number;
  samplesPerScrapeMax: number;
  batchRowsMax: number;
  /** Parse errors and rejections kept per target and round (all are counted). */
  errorsKeptMax: number;
  /** UTC epoch ms: the source timestamp of samples that carry none. Injected for tests. */
  clock: () => number;
}

export const targetsMax = 1_000;
export const dcgmNamePrefix = "DCGM_FI_";

export interface TargetScrape {
  target: string;
  ok: boolean;
  /** Why the scrape failed (connection, status, timeout, size); undefined when ok. */
  error: string | undefined;
  accepted: number;
  rejectedByReason: Partial<Record<RowRejectionReason, number>>;
  parseErrorCount: number;
  parseErrors: PrometheusParseError[];
  durationMs: number;
}

export interface ScrapeRound {
  startedMs: number;
  accepted: number;
  failedTargets: number;
  targets: TargetScrape[];
}

export class DcgmExporterSource {
  constructor(private readonly options: DcgmExporterSourceOptions) {
    if (options.targets.length === 0) throw new Error("no dcgm-exporter targets");
    if (options.targets.length > targetsMax)
      throw new Error(`${options.targets.length} targets exceed targetsMax ${targetsMax}`);
    for (const target of options.targets) new URL(target); // throws on a malformed URL at start-up
  }

  /** Scrapes every target once (concurrently) and hands on the valid samples. */
  async scrapeOnce(onBatch: OnRowBatch, signal?: AbortSignal): Promise<ScrapeRound> {
    const startedMs = this.options.clock();
    const bodies = await Promise.all(this.options.targets.map((target) => this.fetchBody(target, signal)));
    const batcher = new RowBatcher(this.options.batchRowsMax, onBatch);
    const round: ScrapeRound = { startedMs, accepted: 0, failedTargets: 0, targets: [] };
    for (const [index, body] of bodies.entries()) {
      const target = this.options.targets[index] as string;
      const scrape = newTargetScrape(target, body.durationMs, body.error);
      if (body.text !== undefined) await this.convert(body.text, scrape, batcher, startedMs);
      round.accepted += scrape.accepted;
      if (!scrape.ok) round.failedTargets += 1;
      round.targets.push(scrape);
    }
    await batcher.flush();
    return round;
  }

  /** Scrapes every `intervalMs` until `signal` aborts; `onRound` reports each round. */
  async run(onBatch: OnRowBatch, signal: AbortSignal, onRound: (round: ScrapeRound) => void): Promise<void> {
    while (!signal.aborted) {
      const startedAt = performance.now();
      onRound(await this.scrapeOnce(onBatch, signal));
      const waitMs = this.options.intervalMs - (performance.now() - startedAt);
      if (waitMs > 0) await abortableSleep(waitMs, signal);
    }
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
      const response = await fetch(target, { signal: combined, headers: { accept: "text/plain" } });
      if (!response.ok) {
        await response.body?.cancel();
        return { text: undefined, error: `HTTP ${response.status}`, durationMs: performance.now() - started };
      }
      const text = await readBounded(response, this.options.bodyBytesMax);
      return { text, error: undefined, durationMs: performance.now() - started };
    } catch (error) {
      const message = timeout.aborted ? `timed out after ${this.options.timeoutMs} ms` : errorMessage(error);
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

async function readBounded(response: Response, bytesMax: number): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > bytesMax) {
    await response.body?.cancel();
    throw new Error(`body of ${declared} bytes exceeds bodyBytesMax ${bytesMax}`);
  }
  if (response.body === null) return "";
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  const reader = response.body.getReader();
  // Each read returns at least one byte, so bytesMax also bounds the loop.
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    bytes += value.byteLength;
    if (bytes > bytesMax) {
      await reader.cancel();
      throw new Error(`body exceeds bodyBytesMax ${bytesMax}`);
    }
    text += decoder.decode(value, { stream: true });
  }
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 200);
  return String(error).slice(0, 200);
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
