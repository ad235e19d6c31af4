import { BrokerClientError, type BrokerHttp } from "../../../src/broker-client/http-client.ts";
import type { GroupDescription, GroupLag, GroupListing } from "../../../src/broker-protocol/group-protocol.ts";
import { brokerRoutes, routeRequest } from "../../../src/broker-protocol/routes.ts";
import type { Logger } from "../../../src/observability/logger.ts";
import type { WallClock } from "../../../src/runtime/clock.ts";
import { sleep } from "../../../src/runtime/sleep.ts";
import { describeTopic } from "../live/broker-reads.ts";
import { type Peer, type PeerHealth, probe } from "./peer-probes.ts";

/**
 * What the pipeline page shows, sampled once a second from the broker's public API
 * (topic watermarks, the collectors' group and its lag, the dead-letter topic) and
 * the peers' /ready: rows produced (the topic's high watermarks) and inserted (the
 * collectors' committed offsets: they commit after inserting) per second, over the
 * last `historyMax` samples.
 */

export interface PipelineMonitorOptions {
  /** Undefined: no broker configured; only the peers are probed. */
  http: BrokerHttp | undefined;
  topic: string;
  group: string;
  deadLetterTopic: string;
  peers: readonly Peer[];
  /** This process, reported first: ready when its own dependencies answer. */
  self?: { name: string; ready: () => Promise<boolean> };
  sampleMs: number;
  /** Peers are probed this often (a multiple of sampleMs makes sense); their last answer is reported in between. */
  probeEveryMs: number;
  historyMax: number;
  probeTimeoutMs: number;
  clock: WallClock;
  logger: Logger;
}

export interface PipelineSample {
  atMs: number;
  /** Records ever produced to the topic (sum of high watermarks); undefined when the broker did not answer. */
  produced: number | undefined;
  /** Records the collectors committed (sum of committed offsets). */
  inserted: number | undefined;
  deadLetters: number | undefined;
}

export interface BrokerView {
  reachable: boolean;
  lag: GroupLag | undefined;
  groups: GroupListing["groups"];
  members: GroupDescription["members"];
}

export class PipelineMonitor {
  private readonly samples: PipelineSample[] = [];
  private broker: BrokerView = { reachable: false, lag: undefined, groups: [], members: [] };
  private peers: PeerHealth[];
  private lastProbeMs = Number.NEGATIVE_INFINITY;
  private readonly stopping = new AbortController();
  private running: Promise<void> | undefined;

  constructor(private readonly options: PipelineMonitorOptions) {
    if (!Number.isInteger(options.historyMax) || options.historyMax < 2)
      throw new RangeError(`PipelineMonitor historyMax must be an integer >= 2, got ${options.historyMax}`);
    const unknown = { status: "unknown" as const, checkedAtMs: undefined, latencyMs: undefined };
    const self = options.self === undefined ? [] : [{ name: options.self.name, url: "", ...unknown }];
    this.peers = [...self, ...options.peers.map((peer) => ({ ...peer, ...unknown }))];
  }

  start(): void {
    if (this.running !== undefined) throw new Error("PipelineMonitor already started");
    this.running = this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
  }

  history(): readonly PipelineSample[] {
    return this.samples;
  }

  brokerView(): BrokerView {
    return this.broker;
  }

  peerHealth(): readonly PeerHealth[] {
    return this.peers;
  }

  /** One sample now (the loop calls it; tests may too); the peers too when their time has come. */
  async sample(): Promise<void> {
    const nowMs = performance.now();
    const probing = nowMs - this.lastProbeMs >= this.options.probeEveryMs;
    if (probing) this.lastProbeMs = nowMs;
    const [broker, peers] = await Promise.all([this.readBroker(), probing ? this.probePeers() : this.peers]);
    this.peers = peers;
    this.broker = broker.view;
    this.samples.push(broker.sample);
    if (this.samples.length > this.options.historyMax) this.samples.shift();
  }

  private async run(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      const startedMs = performance.now();
      await this.sample().catch((error: unknown) =>
        this.options.logger.warn({ err: error instanceof Error ? error.message : String(error) }, "pipeline sample"),
      );
      await sleep(Math.max(0, this.options.sampleMs - (performance.now() - startedMs)), this.stopping.signal);
    }
  }

  private probePeers(): Promise<PeerHealth[]> {
    const { peers, probeTimeoutMs, clock, self } = this.options;
    const probes = peers.map((peer) => probe(peer, probeTimeoutMs, clock));
    if (self !== undefined) probes.unshift(probeSelf(self, probeTimeoutMs, clock));
    return Promise.all(probes);
  }

  private async readBroker(): Promise<{ sample: PipelineSample; view: BrokerView }> {
    const atMs = this.options.clock();
    const { http, topic, group, deadLetterTopic } = this.options;
    const none: PipelineSample = { atMs, produced: undefined, inserted: undefined, deadLetters: undefined };
    if (http === undefined)
      return { sample: none, view: { reachable: false, lag: undefined, groups: [], members: [] } };
    try {
      const [described, detail, letters, listing] = await Promise.all([
        describeTopic(http, topic),
        describeGroup(http, group),
        describeTopic(http, deadLetterTopic),
        http.json(routeRequest(brokerRoutes.listGroups)),
      ]);
      const produced = described?.partitions.reduce((sum, partition) => sum + partition.highWatermark, 0) ?? 0;
      const lag = detail?.lag;
      const inserted = lag?.partitions.reduce((sum, partition) => sum + (partition.committed ?? 0), 0) ?? 0;
      const deadLetters = letters?.partitions.reduce((sum, partition) => sum + partition.highWatermark, 0) ?? 0;
      return {
        sample: { atMs, produced, inserted, deadLetters },
        view: { reachable: true, lag, groups: listing.groups, members: detail?.members ?? [] },
      };
    } catch (error) {
      this.options.logger.debug({ err: error instanceof Error ? error.message : String(error) }, "broker unreachable");
      return { sample: none, view: { reachable: false, lag: undefined, groups: [], members: [] } };
    }
  }
}

async function probeSelf(
  self: { name: string; ready: () => Promise<boolean> },
  timeoutMs: number,
  clock: WallClock,
): Promise<PeerHealth> {
  const startedMs = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const ready = await Promise.race([self.ready().catch(() => false), expired]).finally(() => clearTimeout(timer));
  const latencyMs = Math.round(performance.now() - startedMs);
  return { name: self.name, url: "", status: ready ? "ready" : "not_ready", checkedAtMs: clock(), latencyMs };
}

async function describeGroup(
  http: BrokerHttp,
  group: string,
): Promise<(GroupDescription & { lag: GroupLag }) | undefined> {
  try {
    return await http.json(routeRequest(brokerRoutes.describeGroup, { group }));
  } catch (error) {
    if (error instanceof BrokerClientError && error.status === 404) return undefined;
    throw error;
  }
}

/** Per-second rate of a counter between two samples; undefined when either lacks it or time did not pass. */
export function ratePerSecond(
  from: PipelineSample | undefined,
  to: PipelineSample | undefined,
  field: "produced" | "inserted" | "deadLetters",
): number | undefined {
  const start = from?.[field];
  const end = to?.[field];
  if (from === undefined || to === undefined || start === undefined || end === undefined) return undefined;
  const seconds = (to.atMs - from.atMs) / 1_000;
  if (!(seconds > 0)) return undefined;
  return Math.max(0, (end - start) / seconds);
}
