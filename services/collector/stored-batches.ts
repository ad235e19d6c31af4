import {
  type BatchView,
  batchBytesLimit,
  type DecodedRecord,
  forEachRecord,
  headerProblem,
  iterateBatches,
} from "../../src/broker-protocol/record-batch.ts";
import { recordsProblem } from "../../src/broker-protocol/record-validator.ts";

/**
 * Reading what the broker stored without trusting it to be well formed. A batch whose
 * records cannot be decoded (written before the broker checked records, or damaged on
 * disk behind a valid CRC) would make every read of its partition throw, forever; here
 * it is set aside whole instead: the caller dead-letters it once, and each of its
 * offsets is handed on as a placeholder record, so offsets stay contiguous, ranges are
 * cut as usual and the committed offset passes it.
 */

/** The value of a placeholder record: recognised by identity, never inserted, never dead-lettered again. */
export const setAsideValue = new Uint8Array(0);
const noKey = new Uint8Array(0);

export interface SetAsideBatch {
  baseOffset: number;
  lastOffset: number;
  /** Why its records cannot be decoded. */
  problem: string;
  /** The whole batch as stored (a view of the fetched bytes). */
  bytes: Uint8Array;
}

export function isSetAside(record: DecodedRecord): boolean {
  return record.value === setAsideValue;
}

/**
 * Calls `onRecord` for every record at or after `fromOffset` of the whole batches in
 * `bytes`. A batch that fails the record check goes to `onSetAside` once, then each of
 * its offsets (at or after `fromOffset`) to `onRecord` as a placeholder.
 */
export function forEachStoredRecord(
  bytes: Uint8Array,
  fromOffset: number,
  onRecord: (record: DecodedRecord) => void,
  onSetAside: (batch: SetAsideBatch) => void,
): void {
  for (const batch of iterateBatches(bytes)) {
    const lastOffset = batch.header.baseOffset + batch.header.lastOffsetDelta;
    if (lastOffset < fromOffset) continue;
    const batchBytes = bytes.subarray(batch.position, batch.position + batch.sizeBytes);
    const problem = problemOf(batchBytes, batch);
    if (problem === undefined) {
      forEachRecord(batchBytes, (record) => {
        if (record.offset >= fromOffset) onRecord(record);
      });
      continue;
    }
    onSetAside({ baseOffset: batch.header.baseOffset, lastOffset, problem, bytes: batchBytes });
    for (let offset = Math.max(fromOffset, batch.header.baseOffset); offset <= lastOffset; offset++) {
      onRecord({ offset, timestampMs: batch.header.firstTimestampMs, key: noKey, value: setAsideValue });
    }
  }
}

function problemOf(batchBytes: Uint8Array, batch: BatchView): string | undefined {
  const local = { ...batch, position: 0 };
  return headerProblem(batch.header, batchBytes.byteLength, batchBytesLimit) ?? recordsProblem(batchBytes, local);
}

/**
 * A range reader's decoder: an undecodable batch reads as placeholders, dead-lettered
 * by the owner that first read it, so a recovery replay never stalls on it either.
 */
export function decodeStoredRecords(
  bytes: Uint8Array,
  fromOffset: number,
  onRecord: (record: DecodedRecord) => void,
): void {
  forEachStoredRecord(bytes, fromOffset, onRecord, () => undefined);
}
