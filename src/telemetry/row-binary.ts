/**
 * ClickHouse's RowBinary encoding, the parts a telemetry record uses: little-endian
 * fixed-width numbers, strings as an unsigned LEB128 byte length then UTF-8 bytes, and
 * a Map as an LEB128 entry count then key, value, key, value...
 * (https://clickhouse.com/docs/interfaces/formats/RowBinary). DateTime64(3) is its
 * Int64 count of milliseconds.
 */

const encoder = new TextEncoder();
/** A UTF-16 code unit becomes at most 3 UTF-8 bytes. */
export const utf8BytesPerCharMax = 3;
const twoTo32 = 2 ** 32;

/** Writes rows into one reused buffer; `take()` copies the bytes written since `reset()`. */
export class RowBinaryWriter {
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private position = 0;

  constructor(readonly capacityBytes: number) {
    if (!Number.isInteger(capacityBytes) || capacityBytes < 64)
      throw new RangeError(`capacityBytes ${capacityBytes} must be an integer ≥ 64`);
    this.bytes = new Uint8Array(capacityBytes);
    this.view = new DataView(this.bytes.buffer);
  }

  reset(): void {
    this.position = 0;
  }

  take(): Uint8Array {
    return this.bytes.slice(0, this.position);
  }

  uint8(value: number): void {
    this.reserve(1);
    this.bytes[this.position++] = value;
  }

  uint16(value: number): void {
    this.reserve(2);
    this.view.setUint16(this.position, value, true);
    this.position += 2;
  }

  float64(value: number): void {
    this.reserve(8);
    this.view.setFloat64(this.position, value, true);
    this.position += 8;
  }

  /** A non-negative safe integer as Int64 (two 32-bit halves: no BigInt on the hot path). */
  int64(value: number): void {
    this.reserve(8);
    writeInt64(this.view, this.position, value);
    this.position += 8;
  }

  varUInt(value: number): void {
    let rest = value;
    while (rest >= 0x80) {
      this.uint8((rest & 0x7f) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    this.uint8(rest);
  }

  /** LEB128 byte length then UTF-8; a lone surrogate becomes U+FFFD, as TextEncoder does. */
  string(text: string): void {
    if (text.length < 0x80 && this.asciiString(text)) return;
    const bytesMax = text.length * utf8BytesPerCharMax;
    // One length byte covers < 128 bytes; reserve two otherwise and close the gap if unneeded.
    const prefixBytes = bytesMax < 0x80 ? 1 : 2;
    if (bytesMax >= 0x4000) throw new RangeError(`string of ${text.length} characters is too long for a record`);
    this.reserve(prefixBytes + bytesMax);
    const start = this.position + prefixBytes;
    const { written } = encoder.encodeInto(text, this.bytes.subarray(start, start + bytesMax));
    if (written < 0x80) {
      if (prefixBytes === 2) this.bytes.copyWithin(this.position + 1, start, start + written);
      this.bytes[this.position] = written;
      this.position += 1 + written;
      return;
    }
    this.bytes[this.position] = (written & 0x7f) | 0x80;
    this.bytes[this.position + 1] = written >>> 7;
    this.position += 2 + written;
  }

  /**
   * Short ASCII text (nearly every DCGM field) byte by byte: several times cheaper than
   * encodeInto on a fresh subarray. False, with nothing written, at the first non-ASCII unit.
   */
  private asciiString(text: string): boolean {
    this.reserve(1 + text.length);
    const start = this.position + 1;
    for (let index = 0; index < text.length; index += 1) {
      const unit = text.charCodeAt(index);
      if (unit >= 0x80) return false;
      this.bytes[start + index] = unit;
    }
    this.bytes[this.position] = text.length;
    this.position = start + text.length;
    return true;
  }

  private reserve(bytes: number): void {
    if (this.position + bytes > this.capacityBytes) {
      throw new RangeError(`row of more than ${this.capacityBytes} bytes (capacityBytes)`);
    }
  }
}

export function writeInt64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % twoTo32, true);
  view.setUint32(offset + 4, Math.floor(value / twoTo32), true);
}

/** An Int64 that holds a non-negative safe integer, else -1. */
export function readSafeInt64(view: DataView, offset: number): number {
  const high = view.getUint32(offset + 4, true);
  if (high > 0x1fffff) return -1;
  return high * twoTo32 + view.getUint32(offset, true);
}
