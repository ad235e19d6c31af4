import { crc32c } from "../../src/broker-protocol/crc32c.ts";
import { batchHeaderBytes, dataViewOf } from "../../src/broker-protocol/record-batch.ts";

/**
 * Byte-level edits of an encoded batch for tests that must get a malformed batch past
 * the CRC: change a field, then `reseal` recomputes the CRC (and, when asked, the batch
 * length) so only the record check can catch it.
 */
export const batchField = {
  batchLength: 8,
  crc: 13,
  crcStart: 17,
  firstTimestampMs: 23,
  maxTimestampMs: 31,
  producerId: 39,
  recordCount: 51,
} as const;

/** Offset of record `index`'s recordLength field (walks the lengths as written). */
export function recordStart(batch: Uint8Array, index: number): number {
  const view = dataViewOf(batch);
  let position = batchHeaderBytes;
  for (let at = 0; at < index; at++) position += 4 + view.getUint32(position, true);
  return position;
}

/** Sets batchLength to the buffer's size and recomputes the CRC over everything after it. */
export function reseal(batch: Uint8Array): Uint8Array {
  const view = dataViewOf(batch);
  view.setUint32(batchField.batchLength, batch.byteLength - 12, true);
  view.setUint32(batchField.crc, crc32c(batch, batchField.crcStart, batch.byteLength), true);
  return batch;
}
