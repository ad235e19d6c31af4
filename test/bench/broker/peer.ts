/**
 * A system the broker benchmark measures: ours, and later NATS JetStream and
 * Redis Streams. Each is a small adapter over the same record stream, so the
 * figures compare like with like.
 */
export interface BenchRecord {
  key: string;
  value: Uint8Array;
  timestampMs: number;
}

export interface PeerProcessStats {
  /** Peak resident set of the server process (VmHWM), bytes. */
  peakRssBytes: number;
}

export interface BenchPeer {
  name: string;
  /** Starts the server process (fresh data dir) and connects clients. */
  start(): Promise<void>;
  /** Produces every record to `stream` and resolves once all are acknowledged. */
  produce(stream: string, records: (index: number) => BenchRecord, count: number): Promise<void>;
  /** Consumes `count` records of `stream` from the start (a fresh group); resolves when all are seen. */
  consume(stream: string, count: number): Promise<void>;
  /**
   * Sends `ratePerSecond` records for `seconds` seconds, paced, and returns each
   * record's produce-to-acknowledgement latency in milliseconds.
   */
  produceAtRate(
    stream: string,
    records: (index: number) => BenchRecord,
    ratePerSecond: number,
    seconds: number,
  ): Promise<Float64Array>;
  stats(): PeerProcessStats;
  stop(): Promise<void>;
}

/** VmHWM of a process from /proc, in bytes (0 when unreadable). */
export async function peakRssBytes(pid: number): Promise<number> {
  try {
    const status = await Bun.file(`/proc/${pid}/status`).text();
    const match = /VmHWM:\s+(\d+)\s+kB/.exec(status);
    return match === null ? 0 : Number(match[1]) * 1024;
  } catch {
    return 0;
  }
}
