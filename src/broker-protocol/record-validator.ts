/**
 * The record check behind a batch's CRC, after Kafka's LogValidator: a CRC only proves
 * the bytes are the ones the producer sent, not that they are well formed. A batch whose
 * records run past its end, leave bytes over, or carry timestamps the header does not
 * account for would be stored and then stop every reader of its partition, so the
 * broker refuses it before appending and a reader uses the same check to set such a
 * batch aside (written before the broker checked records, or damaged behind a valid CRC).
 *
 * The record layout has fixed-width fields (no varints): recordLength u32 | timestampDeltaMs
 * i32 | keyLength u16 | key | value. Checked per record: the 10-byte header fits, the length
 * covers the delta and key-length fields, the record ends inside the batch, the key fits the
 * record, the timestamp lies in [timestampMsMin, maxTimestampMs]. Checked per batch: the
 * header's timestamps are in bounds, the records fill the batch exactly, and
 * maxTimestampMs is the largest record timestamp (the time index is built from it).
 */

import {
  type BatchView,
  batchHeaderBytes,
  CorruptBatchError,
  dataViewOf,
  recordHeaderBytes,
  validateBatches,
} from "./record-batch.ts";

/** Earliest record timestamp accepted: the Unix epoch. */
export const timestampMsMin = 0;
/** Latest record timestamp accepted: 9999-12-31T23:59:59.999Z, the last instant RFC 3339 can write. */
export const timestampMsMax = 253_402_300_799_999;
/** Bytes of the timestamp delta and key length: the least a recordLength can cover. */
const recordLengthMin = recordHeaderBytes - 4;

/**
 * Why the records of `batch` (a batch of `bytes` whose header headerProblem accepted) are
 * not well formed, or undefined when every one is.
 */
export function recordsProblem(bytes: Uint8Array, batch: BatchView): string | undefined {
  const view = dataViewOf(bytes);
  const { firstTimestampMs: firstMs, maxTimestampMs: maxMs, recordCount } = batch.header;
  if (firstMs < timestampMsMin || firstMs > timestampMsMax) return `firstTimestampMs ${firstMs} out of bounds`;
  if (maxMs < firstMs || maxMs > timestampMsMax) return `maxTimestampMs ${maxMs} out of bounds`;
  const batchEnd = batch.position + batch.sizeBytes;
  if (batchEnd > bytes.byteLength) return `batch end ${batchEnd} past the buffer end ${bytes.byteLength}`;
  let position = batch.position + batchHeaderBytes;
  let largestMs = Number.NEGATIVE_INFINITY;
  for (let index = 0; index < recordCount; index++) {
    if (position + recordHeaderBytes > batchEnd) return `record ${index}: header runs past the batch end`;
    const recordLength = view.getUint32(position, true);
    const recordEnd = position + 4 + recordLength;
    if (recordLength < recordLengthMin) return `record ${index}: length ${recordLength} below ${recordLengthMin}`;
    if (recordEnd > batchEnd) return `record ${index}: length ${recordLength} runs past the batch end`;
    const keyLength = view.getUint16(position + 8, true);
    if (keyLength > recordLength - recordLengthMin) {
      return `record ${index}: key length ${keyLength} exceeds the record's ${recordLength - recordLengthMin} bytes`;
    }
    const timestampMs = firstMs + view.getInt32(position + 4, true);
    if (timestampMs < timestampMsMin || timestampMs > maxMs) {
      return `record ${index}: timestamp ${timestampMs} outside [${timestampMsMin}, maxTimestampMs ${maxMs}]`;
    }
    if (timestampMs > largestMs) largestMs = timestampMs;
    position = recordEnd;
  }
  if (position !== batchEnd) return `${batchEnd - position} bytes left after ${recordCount} records`;
  if (largestMs !== maxMs) return `maxTimestampMs ${maxMs} but the largest record timestamp is ${largestMs}`;
  return undefined;
}

/**
 * validateBatches (framing, headers, CRCs) plus every record of every batch. Throws
 * CorruptBatchError naming the batch position and the problem at the first bad one.
 */
export function validateBatchesAndRecords(
  bytes: Uint8Array,
  options: { batchBytesMax: number; batchesMax: number },
): BatchView[] {
  const batches = validateBatches(bytes, options);
  for (const batch of batches) {
    const problem = recordsProblem(bytes, batch);
    if (problem !== undefined) throw new CorruptBatchError(`batch at ${batch.position}: ${problem}`);
  }
  return batches;
}

/** The producer ids of the batches (without -1), for the broker's allocation check. */
export function producerIdsOf(batches: readonly BatchView[]): Set<number> {
  const ids = new Set<number>();
  for (const batch of batches) if (batch.header.producerId >= 0) ids.add(batch.header.producerId);
  return ids;
}
