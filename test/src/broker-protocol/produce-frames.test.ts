import { describe, expect, test } from "bun:test";
import {
  decodeProduceFrames,
  encodeProduceFrames,
  FrameError,
  framedBytes,
  framesPerRequestMax,
} from "../../../src/broker-protocol/produce-frames.ts";

const bytes = (...values: number[]) => new Uint8Array(values);

describe("produce frames", () => {
  test("round-trip several partitions, batches are views into the body", () => {
    const batches = [
      { partition: 0, batch: bytes(1, 2, 3) },
      { partition: 11, batch: bytes(4) },
      { partition: 0, batch: bytes(5, 6) },
    ];
    const body = encodeProduceFrames(batches);
    expect(body.byteLength).toBe(framedBytes(batches));
    const frames = decodeProduceFrames(body);
    expect(frames.map((f) => f.partition)).toEqual([0, 11, 0]);
    expect(frames.map((f) => [...f.batch])).toEqual([[1, 2, 3], [4], [5, 6]]);
    expect(frames[0]!.batch.buffer).toBe(body.buffer);
  });

  test("partition and length are big-endian u32", () => {
    const body = encodeProduceFrames([{ partition: 258, batch: bytes(9) }]);
    expect([...body]).toEqual([0, 0, 1, 2, 0, 0, 0, 1, 9]);
  });

  test("an empty body has no frames", () => {
    expect(decodeProduceFrames(new Uint8Array(0))).toEqual([]);
  });

  test("rejects a truncated header, a short batch and an empty batch", () => {
    const body = encodeProduceFrames([{ partition: 1, batch: bytes(1, 2, 3, 4) }]);
    expect(() => decodeProduceFrames(body.subarray(0, 5))).toThrow(/truncated frame header/);
    expect(() => decodeProduceFrames(body.subarray(0, body.length - 1))).toThrow(/claims 4 bytes, only 3 left/);
    expect(() => decodeProduceFrames(bytes(0, 0, 0, 1, 0, 0, 0, 0))).toThrow(FrameError);
  });

  test("more than framesPerRequestMax frames is an error on both sides", () => {
    const many = Array.from({ length: framesPerRequestMax + 1 }, () => ({ partition: 0, batch: bytes(1) }));
    expect(() => encodeProduceFrames(many)).toThrow(/framesPerRequestMax/);
    const body = encodeProduceFrames(many.slice(1));
    const oneMore = new Uint8Array(body.length + 9);
    oneMore.set(body);
    oneMore.set([0, 0, 0, 0, 0, 0, 0, 1, 7], body.length);
    expect(() => decodeProduceFrames(oneMore)).toThrow(/framesPerRequestMax/);
  });
});
