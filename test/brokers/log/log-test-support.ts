import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LogConfig, makeLogConfig } from "../../../brokers/log/log-config.ts";
import { PartitionLog } from "../../../brokers/log/partition-log.ts";
import { encodeBatch, producerIdNone, sequenceNone } from "../../../src/broker-protocol/record-batch.ts";

/** A clock the test moves by hand. */
export class ManualClock {
  constructor(public ms = 1_750_000_000_000) {}
  nowMs(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Small limits so a few KiB of data exercise rolls and sparse indexes. */
export function smallConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  return makeLogConfig({
    segmentBytesMax: 16 * 1024,
    indexIntervalBytes: 256,
    batchBytesMax: 4096,
    appendBytesMax: 8192,
    flush: "os",
    ...overrides,
  });
}

export interface BatchSpec {
  records: number;
  timestampMs: number;
  /** Value bytes per record. */
  valueBytes?: number;
  producerId?: number;
  baseSequence?: number;
  /** Distinguishes the values of different batches. */
  tag?: string;
}

export function makeBatch(spec: BatchSpec): Uint8Array {
  const records = [];
  for (let index = 0; index < spec.records; index++) {
    const value = `${spec.tag ?? "v"}-${index}-`.padEnd(spec.valueBytes ?? 40, "x");
    records.push({ key: `key-${index % 7}`, value, timestampMs: spec.timestampMs + index });
  }
  const producerId = spec.producerId ?? producerIdNone;
  return encodeBatch({
    records,
    producerId,
    baseSequence: producerId === producerIdNone ? sequenceNone : (spec.baseSequence ?? 0),
    nowMs: spec.timestampMs,
  });
}

export function openPartition(dir: string, config: LogConfig, clock: ManualClock): PartitionLog {
  return PartitionLog.open({ topic: "test", partition: 0, dir, config, clock });
}
