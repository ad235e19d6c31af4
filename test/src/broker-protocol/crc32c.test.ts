import { describe, expect, test } from "bun:test";
import { crc32c } from "../../../src/broker-protocol/crc32c.ts";

/** Bit-by-bit reference: slow, obviously correct. */
function referenceCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

describe("crc32c", () => {
  test("matches the standard check value for '123456789'", () => {
    expect(crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283);
  });

  test("matches RFC 3720 vectors (32 zero bytes, 32 0xff bytes)", () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
  });

  test("agrees with a bitwise reference for every length and alignment up to 70", () => {
    const bytes = new Uint8Array(90).map((_, index) => (index * 37 + 11) & 0xff);
    for (let start = 0; start < 9; start++) {
      for (let length = 0; length <= 70; length++) {
        expect(crc32c(bytes, start, start + length)).toBe(referenceCrc32c(bytes.subarray(start, start + length)));
      }
    }
  });

  test("continues a checksum across pieces", () => {
    const bytes = new Uint8Array(1000).map((_, index) => index & 0xff);
    const whole = crc32c(bytes);
    expect(crc32c(bytes, 333, 1000, crc32c(bytes, 0, 333))).toBe(whole);
  });

  test("rejects a range outside the buffer", () => {
    expect(() => crc32c(new Uint8Array(4), 2, 8)).toThrow(RangeError);
  });
});

describe("crc32c implementations agree", () => {
  test("the hardware kernel is in use on x86-64 Linux with SSE4.2", async () => {
    const { crc32cImplementation } = await import("../../../src/broker-protocol/crc32c.ts");
    const sse42 = /\bsse4_2\b/.test(
      await Bun.file("/proc/cpuinfo")
        .text()
        .catch(() => ""),
    );
    expect(crc32cImplementation).toBe(process.arch === "x64" && sse42 ? "sse4.2" : "js");
  });

  test("random buffers, ranges and continuations give the same checksum both ways", async () => {
    const { crc32c, crc32cTables } = await import("../../../src/broker-protocol/crc32c.ts");
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    for (let round = 0; round < 300; round += 1) {
      const bytes = new Uint8Array(Math.floor(random() * 5_000));
      for (let index = 0; index < bytes.length; index += 1) bytes[index] = Math.floor(random() * 256);
      const start = Math.floor(random() * bytes.length);
      const end = start + Math.floor(random() * (bytes.length - start));
      const middle = start + Math.floor((end - start) / 2);
      expect(crc32c(bytes, start, end)).toBe(crc32cTables(bytes, start, end));
      expect(crc32c(bytes, middle, end, crc32c(bytes, start, middle))).toBe(crc32cTables(bytes, start, end));
    }
  });
});
