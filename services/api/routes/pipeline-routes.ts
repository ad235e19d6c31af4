import { Elysia } from "elysia";
import { type ApiContext, apiModelsPlugin, jsonRoute } from "../api-context.ts";
import { errorResponses, type PipelineStatus, readAccess } from "../api-models.ts";
import type { LiveTail } from "../live/live-tail.ts";
import { type PipelineMonitor, type PipelineSample, ratePerSecond } from "../pipeline/pipeline-monitor.ts";
import { formatRfc3339 } from "../time-parsing.ts";

/** Freshness is reported over this many recent seconds. */
const freshnessWindowS = 60;
/** Rates are averaged over this many recent samples. */
const rateSamples = 5;

export interface PipelineRoutesOptions {
  monitor: PipelineMonitor;
  /** Undefined when the API runs without the broker. */
  tail: LiveTail | undefined;
}

/** GET /api/v1/pipeline: what the pipeline page shows, from the same public API everyone calls. */
export function pipelineRoutes(context: ApiContext, options: PipelineRoutesOptions) {
  return new Elysia({ name: "pipeline-routes" })
    .use(apiModelsPlugin)
    .get("/api/v1/pipeline", (): PipelineStatus => pipelineStatus(context.clock(), options), {
      ...jsonRoute,
      response: { 200: "PipelineStatus", 401: errorResponses[401] },
      detail: {
        ...readAccess,
        tags: ["operations"],
        summary: "Throughput, lag, dead letters, freshness and process health",
        description:
          "Sampled about once a second by this API instance from the broker's public API (topic high watermarks, " +
          "the collectors' group, the dead-letter topic) and the /ready of the configured peers. Rows inserted are " +
          "the collectors' committed offsets (they commit after inserting). Freshness is the time from a " +
          "datapoint's timestamp until this API saw its collector's commit, i.e. until it could be queried.",
      },
    });
}

export function pipelineStatus(nowMs: number, options: PipelineRoutesOptions): PipelineStatus {
  const samples = options.monitor.history();
  const last = samples[samples.length - 1];
  const earlier = samples[Math.max(0, samples.length - 1 - rateSamples)];
  const broker = options.monitor.brokerView();
  const freshness = options.tail?.freshness.quantiles(nowMs - freshnessWindowS * 1_000);
  const tail = options.tail?.status();
  return {
    generated_at: formatRfc3339(nowMs),
    broker_reachable: broker.reachable,
    rates: {
      produced_per_s: ratePerSecond(earlier, last, "produced") ?? null,
      inserted_per_s: ratePerSecond(earlier, last, "inserted") ?? null,
      dead_letters_per_s: ratePerSecond(earlier, last, "deadLetters") ?? null,
    },
    totals: {
      produced: last?.produced ?? null,
      inserted: last?.inserted ?? null,
      dead_letters: last?.deadLetters ?? null,
    },
    history: samples.map((sample, index) => historyEntry(samples[index - 1], sample)),
    lag: {
      total: broker.lag?.totalLag ?? null,
      partitions: (broker.lag?.partitions ?? []).map((partition) => ({
        partition: partition.partition,
        committed: partition.committed,
        high_watermark: partition.highWatermark,
        lag: partition.lag,
        owner: partition.memberId,
      })),
    },
    groups: broker.groups.map((group) => ({ group: group.group, state: group.state, members: group.memberCount })),
    freshness: {
      window_s: freshnessWindowS,
      p50_ms: freshness?.p50Ms ?? null,
      p99_ms: freshness?.p99Ms ?? null,
      samples: freshness?.samples ?? 0,
    },
    live_tail: {
      state: tail?.state ?? "off",
      horizon: tail?.horizonMs === undefined ? null : formatRfc3339(tail.horizonMs),
      rows: tail?.rows ?? 0,
      gpus: tail?.gpus ?? 0,
    },
    processes: options.monitor.peerHealth().map((peer) => ({
      name: peer.name,
      status: peer.status,
      checked_at: peer.checkedAtMs === undefined ? null : formatRfc3339(peer.checkedAtMs),
      latency_ms: peer.latencyMs ?? null,
    })),
  };
}

function historyEntry(previous: PipelineSample | undefined, sample: PipelineSample) {
  const lag =
    sample.produced === undefined || sample.inserted === undefined
      ? null
      : Math.max(0, sample.produced - sample.inserted);
  return {
    timestamp: formatRfc3339(sample.atMs),
    produced_per_s: ratePerSecond(previous, sample, "produced") ?? null,
    inserted_per_s: ratePerSecond(previous, sample, "inserted") ?? null,
    lag,
  };
}
