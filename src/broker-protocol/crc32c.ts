import { loadHardwareCrc32c } from "./crc32c-hardware.ts";

/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of a record
 * batch. Bun has no native CRC32C (`Bun.hash.crc32` is the IEEE polynomial). The
 * checksum runs on every produced and every appended batch, so on x86-64 it uses the
 * SSE4.2 instruction through bun:ffi (crc32c-hardware.ts); elsewhere, slicing-by-8 in
 * JS: eight 256-entry tables consume 8 bytes per iteration with lookups only.
 */

const polynomialReflected = 0x82f63b78;
const tableCount = 8;
const tables = buildTables();

function buildTables(): Uint32Array {
  const result = new Uint32Array(256 * tableCount);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ polynomialReflected : crc >>> 1;
    result[byte] = crc >>> 0;
  }
  for (let byte = 0; byte < 256; byte++) {
    let crc = result[byte]!;
    for (let table = 1; table < tableCount; table++) {
      crc = (crc >>> 8) ^ result[crc & 0xff]!;
      result[table * 256 + byte] = crc >>> 0;
    }
  }
  return result;
}

/**
 * CRC32C of `bytes[start, end)`. `crc` continues a previous checksum (pass the
 * result of an earlier call) so a caller can checksum discontiguous pieces.
 */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length, crc = 0): number {
  if (start < 0 || end > bytes.length || start > end) {
    throw new RangeError(`crc32c range [${start}, ${end}) outside 0..${bytes.length}`);
  }
  if (hardware === undefined || end - start < hardwareBytesMin) return crc32cTables(bytes, start, end, crc);
  const piece = start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end);
  return hardware(crc, piece, end - start);
}

/** Below this length a call into native code costs more than the table loop. */
const hardwareBytesMin = 64;
const hardware = loadHardwareCrc32c();

/** Which implementation serves crc32c in this process ("sse4.2" or "js"). */
export const crc32cImplementation = hardware === undefined ? "js" : "sse4.2";

/** The table-driven implementation; exported so tests can compare the two. */
export function crc32cTables(bytes: Uint8Array, start = 0, end = bytes.length, crc = 0): number {
  const t = tables;
  let c = ~crc >>> 0;
  let i = start;
  const end8 = start + ((end - start) & ~7);
  while (i < end8) {
    const low = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    c =
      t[1792 + (low & 0xff)]! ^
      t[1536 + ((low >>> 8) & 0xff)]! ^
      t[1280 + ((low >>> 16) & 0xff)]! ^
      t[1024 + (low >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^
      t[512 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
    i += 8;
  }
  while (i < end) {
    c = (c >>> 8) ^ t[(c ^ bytes[i]!) & 0xff]!;
    i++;
  }
  return ~c >>> 0;
}
