import { describe, expect, test } from "bun:test";
import { crc32c } from "../../../src/broker/crc32c.ts";

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
