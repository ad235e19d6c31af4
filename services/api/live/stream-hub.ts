import { findMetric } from "../../../src/domain/metric-catalog.ts";
import type { Logger } from "../../../src/observability/logger.ts";
import { Counter, Gauge, type Registry } from "../../../src/observability/metrics.ts";
import { formatRfc3339 } from "../time-parsing.ts";
import { EventStream, type EventStreamCloseReason } from "./event-stream.ts";
import type { ArrivedRows } from "./live-tail.ts";
import type { TailRow } from "./tail-store.ts";

export interface StreamHubOptions {
  /** Streams open at once, of every kind; one more is refused (503). */
  streamsMax: number;
  /** Bytes queued per client before it is dropped. */
  bufferBytesMax: number;
  /** A comment line this often on every stream. */
  heartbeatMs: number;
  registry: Registry;
  logger: Logger;
}

export type StreamKind = "datapoints" | "fleet";

interface DatapointSubscription {
  stream: EventStream;
  metrics: ReadonlySet<string> | undefined;
}

/**
 * Every open event stream: the cap on how many, heartbeats, the datapoint
 * subscriptions by GPU, and closing them all at shutdown.
 */
export class StreamHub {
  private readonly open = new Map<EventStream, StreamKind>();
  private readonly byGpu = new Map<string, Set<DatapointSubscription>>();
  private readonly subscriptions = new Map<EventStream, { subscription: DatapointSubscription; uuids: string[] }>();
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private closing = false;
  private readonly dropped: Counter<"kind" | "reason">;
  private readonly events: Counter<"kind">;

  constructor(private readonly options: StreamHubOptions) {
    for (const [name, value] of Object.entries({ streamsMax: options.streamsMax, heartbeatMs: options.heartbeatMs })) {
      if (!Number.isSafeInteger(value) || value < 1)
        throw new RangeError(`StreamHub ${name} must be positive: ${value}`);
    }
    const registers = [options.registry];
    const hub = this;
    new Gauge({
      name: "api_open_streams",
      help: "server-sent event streams open, by kind",
      labelNames: ["kind"],
      registers,
      collect() {
        this.reset();
        for (const kind of ["datapoints", "fleet"] as const) this.set({ kind }, hub.count(kind));
      },
    });
    this.dropped = new Counter({
      name: "api_streams_closed_total",
      help: "event streams that ended, by kind and reason (client, overflow: it fell behind, server: shutdown)",
      labelNames: ["kind", "reason"],
      registers,
    });
    this.events = new Counter({
      name: "api_stream_events_total",
      help: "events sent on event streams, by kind",
      labelNames: ["kind"],
      registers,
    });
    this.heartbeat = setInterval(() => this.beat(), options.heartbeatMs);
    // Streams keep the process busy while they are open; the timer alone must not.
    this.heartbeat.unref();
  }

  get size(): number {
    return this.open.size;
  }

  count(kind: StreamKind): number {
    let count = 0;
    for (const open of this.open.values()) if (open === kind) count += 1;
    return count;
  }

  /** A new stream, or undefined when streamsMax are open or the hub is closing. */
  openStream(kind: StreamKind, onClose: () => void = () => undefined): EventStream | undefined {
    if (this.closing || this.open.size >= this.options.streamsMax) return undefined;
    const stream: EventStream = new EventStream({
      bufferBytesMax: this.options.bufferBytesMax,
      onClose: (reason) => {
        this.forget(stream, kind, reason);
        onClose();
      },
    });
    this.open.set(stream, kind);
    return stream;
  }

  /** Sends one event and counts it; false when the stream is gone. */
  send(stream: EventStream, event: string, data: string): boolean {
    const kind = this.open.get(stream);
    if (kind === undefined) return false;
    this.events.inc({ kind });
    return stream.send(event, data);
  }

  /**
   * The datapoints of these GPUs or MIG instances (by API id: UUID or UUID:migN; and of
   * these metrics, when given) go to `stream` as they arrive.
   */
  subscribeDatapoints(stream: EventStream, uuids: readonly string[], metrics: readonly string[]): void {
    const subscription: DatapointSubscription = {
      stream,
      metrics: metrics.length === 0 ? undefined : new Set(metrics),
    };
    this.subscriptions.set(stream, { subscription, uuids: [...uuids] });
    for (const uuid of uuids) {
      let subscribers = this.byGpu.get(uuid);
      if (subscribers === undefined) {
        subscribers = new Set();
        this.byGpu.set(uuid, subscribers);
      }
      subscribers.add(subscription);
    }
  }

  /** Rows as the live tail reads them: only those of followed series become objects. */
  publishArrived(arrived: ArrivedRows): void {
    if (this.byGpu.size === 0) return;
    const { columns, names } = arrived;
    const rows: TailRow[] = [];
    for (let index = arrived.from; index < arrived.to; index += 1) {
      const gpu = names.seriesName(columns.series[index] as number);
      if (!this.byGpu.has(gpu)) continue;
      const workload = names.workload(columns.workload[index] as number);
      rows.push({
        gpu,
        tsMs: columns.ts[index] as number,
        metric: names.metricName(columns.metric[index] as number),
        sourceTsMs: columns.sourceTs[index] as number,
        value: columns.value[index] as number,
        ...workload,
      });
    }
    if (rows.length > 0) this.publish(rows);
  }

  /** Rows that just arrived: one `datapoints` event per subscribed stream. */
  publish(rows: readonly TailRow[]): void {
    if (this.byGpu.size === 0) return;
    const batches = new Map<EventStream, TailRow[]>();
    for (const row of rows) {
      const subscribers = this.byGpu.get(row.gpu);
      if (subscribers === undefined) continue;
      for (const subscription of subscribers) {
        if (subscription.metrics !== undefined && !subscription.metrics.has(row.metric)) continue;
        let batch = batches.get(subscription.stream);
        if (batch === undefined) {
          batch = [];
          batches.set(subscription.stream, batch);
        }
        batch.push(row);
      }
    }
    for (const [stream, batch] of batches) this.send(stream, "datapoints", datapointsEvent(batch));
  }

  /** Ends every stream with a last `end` event; new streams are refused from now on. */
  closeAll(reason: string): void {
    this.closing = true;
    clearInterval(this.heartbeat);
    const data = JSON.stringify({ reason });
    for (const stream of [...this.open.keys()]) stream.close({ event: "end", data });
    this.options.logger.info({ reason }, "event streams closed");
  }

  private beat(): void {
    for (const stream of [...this.open.keys()]) stream.heartbeat();
  }

  private forget(stream: EventStream, kind: StreamKind, reason: EventStreamCloseReason): void {
    if (!this.open.delete(stream)) return;
    this.dropped.inc({ kind, reason });
    if (reason === "overflow") this.options.logger.warn({ kind }, "event stream client fell behind; dropped");
    const subscribed = this.subscriptions.get(stream);
    if (subscribed === undefined) return;
    this.subscriptions.delete(stream);
    for (const uuid of subscribed.uuids) {
      const subscribers = this.byGpu.get(uuid);
      subscribers?.delete(subscribed.subscription);
      if (subscribers?.size === 0) this.byGpu.delete(uuid);
    }
  }
}

/** The `datapoints` event: the rows as the telemetry endpoint shows them, with the GPU they belong to. */
export function datapointsEvent(rows: readonly TailRow[]): string {
  const items = rows.map((row) => ({
    gpu: row.gpu,
    timestamp: formatRfc3339(row.tsMs),
    metric: row.metric,
    value: row.value,
    unit: findMetric(row.metric)?.unit ?? "",
    source_timestamp: formatRfc3339(row.sourceTsMs),
    namespace: row.namespace ?? "",
    pod: row.pod ?? "",
    container: row.container ?? "",
  }));
  return JSON.stringify({ items });
}
