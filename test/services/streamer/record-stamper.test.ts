import { describe, expect, test } from "bun:test";
import { RecordStamper } from "../../../services/streamer/record-stamper.ts";
import { encodeRecordTail, stampRecord } from "../../../src/telemetry/record-codec.ts";

const tail = (model: string, padding = 0) =>
  encodeRecordTail({
    source_ts: 1_752_871_354_000,
    uuid: "GPU-1",
    hostname: "h",
    gpu_index: 0,
    device: "nvidia0",
    model,
    metric: "DCGM_FI_DEV_GPU_UTIL",
    value: 1.5,
    container: "",
    pod: "",
    namespace: "",
    labels: { pad: "p".repeat(padding) },
  });

describe("RecordStamper", () => {
  test("writes exactly the bytes of stampRecord, non-ASCII included", () => {
    const stamper = new RecordStamper(1024);
    for (const [index, model] of ["H100", "Tesla ä – 東京 🚀", ""].entries()) {
      const nowMs = 1_763_000_000_000 + index;
      expect(stamper.stamp(nowMs, tail(model))).toEqual(stampRecord(nowMs, tail(model)));
    }
  });

  test("earlier values stay intact when the slab fills and a new one is taken", () => {
    const stamper = new RecordStamper(1024);
    const padded = tail("m", 200);
    const values = Array.from({ length: 20 }, (_, index) => stamper.stamp(1_000 + index, padded));
    for (const [index, value] of values.entries()) expect(value).toEqual(stampRecord(1_000 + index, padded));
  });

  test("a tail larger than the slab gets a slab of its own", () => {
    const stamper = new RecordStamper(1024);
    const large = new Uint8Array(5_000).fill(7);
    expect(stamper.stamp(7, large)).toEqual(stampRecord(7, large));
  });

  test("refuses a slab below 1 KiB", () => {
    expect(() => new RecordStamper(10)).toThrow("slabBytes 10");
  });
});
