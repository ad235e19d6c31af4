import { describe, expect, test } from "bun:test";
import { stampRecord } from "../../../src/telemetry/record-codec.ts";
import { RecordStamper } from "../../../services/streamer/record-stamper.ts";

const decoder = new TextDecoder();

describe("RecordStamper", () => {
  test("writes exactly the bytes of stampRecord, non-ASCII included", () => {
    const stamper = new RecordStamper(1024);
    const tails = [',"uuid":"GPU-1","value":1}', ',"model":"Tesla ä – 東京 🚀","value":2}', ',"x":""}'];
    for (const [index, tail] of tails.entries()) {
      const nowMs = 1_763_000_000_000 + index;
      expect(decoder.decode(stamper.stamp(nowMs, tail))).toBe(stampRecord(nowMs, tail));
    }
  });

  test("earlier values stay intact when the slab fills and a new one is taken", () => {
    const stamper = new RecordStamper(1024);
    const tail = `,"pad":"${"p".repeat(300)}"}`;
    const values = Array.from({ length: 20 }, (_, index) => stamper.stamp(1_000 + index, tail));
    values.forEach((value, index) => expect(decoder.decode(value)).toBe(stampRecord(1_000 + index, tail)));
  });

  test("a tail larger than the slab gets a slab of its own", () => {
    const stamper = new RecordStamper(1024);
    const tail = `,"pad":"${"q".repeat(5_000)}"}`;
    expect(decoder.decode(stamper.stamp(7, tail))).toBe(stampRecord(7, tail));
  });

  test("refuses a slab below 1 KiB", () => {
    expect(() => new RecordStamper(10)).toThrow("slabBytes 10");
  });
});
