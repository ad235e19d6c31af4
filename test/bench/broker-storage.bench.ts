/**
 * Append and read throughput of the storage engine alone (no HTTP): DCGM-shaped
 * records of about 200 bytes, 1000 per batch, spread over 12 partitions.
 * `bun run bench:broker-storage [--seconds=N]`; prints figures, then one JSON line.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FlushPolicy, makeLogConfig } from "../../brokers/log/log-config.ts";
import { LogManager } from "../../brokers/log/log-manager.ts";
import { encodeBatch, producerIdNone, sequenceNone } from "../../src/broker-protocol/record-batch.ts";

const partitionCount = 12;
const recordsPerBatch = 1000;
const secondsArgument = process.argv.find((argument) => argument.startsWith("--seconds="));
const secondsPerMode = secondsArgument === undefined ? 3 : Number(secondsArgument.slice("--seconds=".length));

function makeBatch(seed: number): Uint8Array {
  const nowMs = Date.now();
  const records = [];
  for (let index = 0; index < recordsPerBatch; index++) {
    const uuid = `GPU-${(seed * 7919 + index) % 247}-5f3a-4c1e-9d2b-0a1b2c3d4e5f`;
    const value = JSON.stringify({
      ts: nowMs + index,
      metric: "DCGM_FI_DEV_GPU_UTIL",
      gpu: index % 8,
      uuid,
      device: `nvidia${index % 8}`,
      host: `host-${index % 31}`,
      value: (index * 13) % 100,
      model: "NVIDIA H100 80GB HBM3",
    });
    records.push({ key: uuid, value, timestampMs: nowMs + index });
  }
  return encodeBatch({ records, producerId: producerIdNone, baseSequence: sequenceNone, nowMs });
}

interface ModeResult {
  flush: FlushPolicy;
  recordsPerSecond: number;
  /** Records per second of this process's CPU time: steadier than wall time on a shared machine. */
  recordsPerCpuSecond: number;
  megabytesPerSecond: number;
  readMegabytesPerSecond: number;
}

async function runMode(flush: FlushPolicy, batches: Uint8Array[]): Promise<ModeResult> {
  const dataDir = mkdtempSync(join(tmpdir(), "bench-storage-"));
  const manager = await LogManager.open({ dataDir, config: makeLogConfig({ flush }) });
  try {
    await manager.createTopic("telemetry", partitionCount);
    const logs = manager.partitions("telemetry");
    const deadlineMs = performance.now() + secondsPerMode * 1000;
    let records = 0;
    let bytes = 0;
    const startMs = performance.now();
    const startCpu = process.cpuUsage();
    // One producer loop per partition, as concurrent produce requests would arrive.
    await Promise.all(
      logs.map(async (log, partition) => {
        for (let round = 0; performance.now() < deadlineMs; round++) {
          const batch = batches[(partition + round) % batches.length]!;
          await log.append(batch);
          records += recordsPerBatch;
          bytes += batch.length;
        }
      }),
    );
    const seconds = (performance.now() - startMs) / 1000;
    const cpu = process.cpuUsage(startCpu);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const readStartMs = performance.now();
    let readBytes = 0;
    for (const log of logs) {
      for (let offset = log.logStartOffset; offset < log.highWatermark; ) {
        const result = log.read(offset, 1024 * 1024);
        readBytes += result.bytes.length;
        offset = result.nextOffset;
      }
    }
    const readSeconds = (performance.now() - readStartMs) / 1000;
    return {
      flush,
      recordsPerSecond: Math.round(records / seconds),
      recordsPerCpuSecond: Math.round(records / cpuSeconds),
      megabytesPerSecond: Math.round(bytes / seconds / 1e6),
      readMegabytesPerSecond: Math.round(readBytes / readSeconds / 1e6),
    };
  } finally {
    await manager.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const batches = [makeBatch(1), makeBatch(2), makeBatch(3)];
console.log(
  `batch: ${recordsPerBatch} records, ${batches[0]!.length} bytes (${Math.round(batches[0]!.length / recordsPerBatch)} B/record)`,
);
const results: ModeResult[] = [];
for (const flush of ["os", "interval", "always"] as const) {
  const result = await runMode(flush, batches);
  results.push(result);
  console.log(
    `flush=${flush}: append ${result.recordsPerSecond.toLocaleString()} records/s (${result.recordsPerCpuSecond.toLocaleString()} per CPU-second), ${result.megabytesPerSecond} MB/s; read ${result.readMegabytesPerSecond} MB/s`,
  );
}
console.log(JSON.stringify({ bench: "broker-storage", partitions: partitionCount, recordsPerBatch, results }));
