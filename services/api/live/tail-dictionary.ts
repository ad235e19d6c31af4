import { ByteInterner, InternerFullError } from "./byte-interner.ts";

/**
 * The live tail's ids for everything that repeats: series (a GPU, or one of its MIG
 * instances), metrics and workloads (namespace, pod, container). A row in memory is
 * then a handful of numbers (tail-columns.ts, tail-store.ts), and a record is read
 * into one without making a string (byte-interner.ts).
 *
 * A series is named like the API names it: the GPU's UUID, or `UUID:migN` for MIG
 * instance N (`GPU_I_ID`). Ids live until the tail starts over (TailStore.reset), which
 * also bounds them: an interner that fills up makes the tail start over.
 */

/** Series, metrics and each workload field at most; the live tail starts over past any of them. */
export const tailDictionaryLimits = {
  gpusMax: 1_000_000,
  gpuInstancesMax: 1_024,
  metricsMax: 65_535,
  workloadTextsMax: 131_071,
} as const;

export const migSeparator = ":mig";

/** The API's name for a series: the GPU's UUID, or UUID:migN for a MIG instance. */
export function seriesName(uuid: string, gpuInstance: string): string {
  return gpuInstance === "" ? uuid : `${uuid}${migSeparator}${gpuInstance}`;
}

export interface TailWorkload {
  namespace: string;
  pod: string;
  container: string;
}

const textEncoder = new TextEncoder();
const noWorkload: TailWorkload = Object.freeze({ namespace: "", pod: "", container: "" });
const workloadFieldFactor = 2 ** 17;

export class TailDictionary {
  readonly gpus = new ByteInterner("gpus", tailDictionaryLimits.gpusMax);
  /** GPU_I_ID texts; id 0 is "" (the GPU itself). */
  readonly gpuInstances = new ByteInterner("gpu instances", tailDictionaryLimits.gpuInstancesMax);
  readonly metrics = new ByteInterner("metrics", tailDictionaryLimits.metricsMax);
  readonly namespaces = new ByteInterner("namespaces", tailDictionaryLimits.workloadTextsMax);
  readonly pods = new ByteInterner("pods", tailDictionaryLimits.workloadTextsMax);
  readonly containers = new ByteInterner("containers", tailDictionaryLimits.workloadTextsMax);
  /** Series id of each GPU's own series (gpu id → series id + 1; 0: none yet). */
  private readonly gpuSeries: number[] = [];
  /** Series id of each MIG instance, by gpu id × gpuInstancesMax + instance id. */
  private readonly instanceSeries = new Map<number, number>();
  private readonly names: string[] = [];
  private readonly seriesByName = new Map<string, number>();
  /** Workload id by its three field ids packed in one number; id 0 is the empty workload. */
  private readonly workloadIds = new Map<number, number>([[0, 0]]);
  private readonly workloads: TailWorkload[] = [noWorkload];
  /** Each metric's rank in UTF-8 byte order of the names (ClickHouse's String order). */
  private metricRanks: number[] = [];
  private sortedMetrics: string[] = [];

  constructor() {
    for (const interner of [this.gpuInstances, this.namespaces, this.pods, this.containers]) interner.idOfText("");
  }

  get seriesCount(): number {
    return this.names.length;
  }

  /** The series of a GPU (instance id 0) or one of its MIG instances. */
  seriesOf(gpuId: number, instanceId: number): number {
    if (instanceId === 0) {
      const known = this.gpuSeries[gpuId] ?? 0;
      if (known > 0) return known - 1;
      const id = this.newSeries(seriesName(this.gpus.text(gpuId), ""));
      this.gpuSeries[gpuId] = id + 1;
      return id;
    }
    const key = gpuId * tailDictionaryLimits.gpuInstancesMax + instanceId;
    const known = this.instanceSeries.get(key);
    if (known !== undefined) return known;
    const id = this.newSeries(seriesName(this.gpus.text(gpuId), this.gpuInstances.text(instanceId)));
    this.instanceSeries.set(key, id);
    return id;
  }

  seriesName(seriesId: number): string {
    const name = this.names[seriesId];
    if (name === undefined) throw new RangeError(`no series ${seriesId}`);
    return name;
  }

  /** The id of a series by its API name, when the tail has seen it. */
  findSeries(name: string): number | undefined {
    return this.seriesByName.get(name);
  }

  /** A workload by the ids of its three fields (0, 0, 0: none). */
  workloadOf(namespaceId: number, podId: number, containerId: number): number {
    const key = (namespaceId * workloadFieldFactor + podId) * workloadFieldFactor + containerId;
    const known = this.workloadIds.get(key);
    if (known !== undefined) return known;
    const id = this.workloads.length;
    this.workloads.push({
      namespace: this.namespaces.text(namespaceId),
      pod: this.pods.text(podId),
      container: this.containers.text(containerId),
    });
    this.workloadIds.set(key, id);
    return id;
  }

  workload(workloadId: number): TailWorkload {
    const workload = this.workloads[workloadId];
    if (workload === undefined) throw new RangeError(`no workload ${workloadId}`);
    return workload;
  }

  /** A metric's id by its UTF-8 bytes; a new one re-ranks the (few) metrics. */
  metricOfBytes(bytes: Uint8Array, offset: number, length: number): number {
    const size = this.metrics.size;
    const id = this.metrics.idOfBytes(bytes, offset, length);
    if (this.metrics.size !== size) this.rankMetrics();
    return id;
  }

  metricOfText(name: string): number {
    const bytes = textEncoder.encode(name);
    return this.metricOfBytes(bytes, 0, bytes.length);
  }

  metricName(metricId: number): string {
    return this.metrics.text(metricId);
  }

  metricRank(metricId: number): number {
    return this.metricRanks[metricId] ?? 0;
  }

  /** A metric name's rank; a name never seen sits between the ranks around it (for cursors). */
  rankOfName(name: string): number {
    const id = this.metrics.find(name);
    if (id !== undefined) return this.metricRank(id);
    let below = 0;
    while (below < this.sortedMetrics.length && compareUtf8(this.sortedMetrics[below] ?? "", name) < 0) below += 1;
    return below - 0.5;
  }

  private newSeries(name: string): number {
    if (this.names.length >= tailDictionaryLimits.gpusMax * 2) {
      throw new InternerFullError(`series: more than ${tailDictionaryLimits.gpusMax * 2}`);
    }
    const id = this.names.length;
    this.names.push(name);
    this.seriesByName.set(name, id);
    return id;
  }

  private rankMetrics(): void {
    const names = Array.from({ length: this.metrics.size }, (_, id) => this.metrics.text(id));
    this.sortedMetrics = [...names].sort(compareUtf8);
    const rankOf = new Map(this.sortedMetrics.map((name, rank) => [name, rank]));
    this.metricRanks = names.map((name) => rankOf.get(name) ?? 0);
  }
}

/** ClickHouse orders String by bytes: UTF-8 order, which differs from UTF-16 order above U+FFFF. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
