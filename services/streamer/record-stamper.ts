import { recordFormatTag, recordHeadBytes, writeRecordHead } from "../../src/telemetry/record-codec.ts";

/**
 * Stamps record tails with the processing time straight into a shared slab: the
 * same bytes as `stampRecord(nowMs, tail)` without an allocation per record, and
 * the record value is a view of the slab. A slab is never written again once full
 * (views of it may still wait in the producer); a new one is taken.
 */
export class RecordStamper {
  private slab: Uint8Array;
  private position = 0;

  constructor(private readonly slabBytes: number) {
    if (!Number.isInteger(slabBytes) || slabBytes < 1024)
      throw new Error(`slabBytes ${slabBytes} must be an integer >= 1024`);
    this.slab = new Uint8Array(slabBytes);
  }

  /** Tag, `nowMs` and the tail: a record value. */
  stamp(nowMs: number, tail: Uint8Array, tag = recordFormatTag): Uint8Array {
    const recordBytes = recordHeadBytes + tail.byteLength;
    if (this.position + recordBytes > this.slab.length) {
      this.slab = new Uint8Array(Math.max(this.slabBytes, recordBytes));
      this.position = 0;
    }
    const start = this.position;
    writeRecordHead(this.slab, start, nowMs, tag);
    this.slab.set(tail, start + recordHeadBytes);
    this.position = start + recordBytes;
    return this.slab.subarray(start, this.position);
  }
}
