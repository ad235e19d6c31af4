/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of a record
 * batch. Bun has no native CRC32C (`Bun.hash.crc32` is the IEEE polynomial), so this
 * is slicing-by-8 in JS: eight 256-entry tables let the loop consume 8 bytes per
 * iteration with table lookups only, which JSC compiles to tight integer code.
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
