import { describe, expect, test } from "bun:test";
import { TailColumns } from "../../../../services/api/live/tail-columns.ts";
import { TailDictionary } from "../../../../services/api/live/tail-dictionary.ts";
import { TailRecordReader } from "../../../../services/api/live/tail-record-reader.ts";
import type { TelemetryPoint } from "../../../../src/domain/telemetry.ts";
import { encodeTelemetryRecord, scheduledRecordTag } from "../../../../src/telemetry/record-codec.ts";

const point: TelemetryPoint = {
  ts: 1_763_790_000_123,
  source_ts: 1_752_871_354_000,
  uuid: "GPU-5fd4f087-86f3-7a43-b711-4771313afc50",
  hostname: "host-01",
  gpu_index: 0,
  device: "nvidia0",
  model: "NVIDIA H100 80GB HBM3",
  metric: "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
  value: 0.25,
  namespace: "ml",
  pod: "train-7",
  container: "main",
  labels: { GPU_I_ID: "3", GPU_I_PROFILE: "1g.10gb" },
};

/** What the tail keeps of one record, by name; undefined when it refused the record. */
function readOne(record: Uint8Array) {
  const names = new TailDictionary();
  const columns = new TailColumns(10);
  if (!new TailRecordReader().read(record, 42, names, columns)) return undefined;
  expect(columns.size).toBe(1);
  return {
    offset: columns.offset[0],
    series: names.seriesName(columns.series[0] as number),
    ts: columns.ts[0],
    sourceTs: columns.sourceTs[0],
    value: columns.value[0],
    metric: names.metricName(columns.metric[0] as number),
    workload: names.workload(columns.workload[0] as number),
  };
}

describe("TailRecordReader", () => {
  test("reads a MIG instance's record in place: its series, times, value, metric and pod", () => {
    const row = readOne(encodeTelemetryRecord(point));
    expect(row).toMatchObject({
      offset: 42,
      ts: point.ts,
      sourceTs: point.source_ts,
      value: 0.25,
      metric: "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
      workload: { namespace: "ml", pod: "train-7", container: "main" },
    });
    expect(row?.series).toContain(point.uuid);
    expect(row?.series).toContain("3");
  });

  test("a record of the streamers' schedule (tag 0x02) enters the tail like a plain one, as the collectors insert it", () => {
    const plain = encodeTelemetryRecord(point);
    const scheduled = plain.slice();
    scheduled[0] = scheduledRecordTag;
    expect(readOne(scheduled)).toEqual(readOne(plain));
  });

  test("a record the collectors would dead-letter is refused", () => {
    const unknownTag = encodeTelemetryRecord(point);
    unknownTag[0] = 0x03;
    expect(readOne(unknownTag)).toBeUndefined();
    expect(readOne(encodeTelemetryRecord(point).subarray(0, 20))).toBeUndefined();
  });
});
