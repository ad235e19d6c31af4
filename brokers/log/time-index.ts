import { readInt64, writeInt64 } from "../../src/broker-protocol/record-batch.ts";
import { MmapIndex } from "./mmap-index.ts";

/**
 * Sparse map from time to offset: 12-byte entries (timestampMs i64, relativeOffset
 * u32). An entry (T, O) says: the largest timestamp among records up to offset O is
 * T. Entries are added only when T grows, so keys are sorted and a binary search
 * finds where records newer than a given time can start. The last entry of a
 * sealed segment carries the segment's largest timestamp (used by retention), so
 * the last slot is kept for it (as Kafka's TimeIndex): `isFull` one entry early.
 */
export const timeIndexEntryBytes = 12;

export interface TimestampOffset {
  timestampMs: number;
  offset: number;
}

export class TimeIndex extends MmapIndex<TimestampOffset> {
  private constructor(path: string, baseOffset: number, indexBytesMax: number) {
    super({ path, baseOffset, indexBytesMax }, timeIndexEntryBytes);
  }

  static createActive(path: string, baseOffset: number, indexBytesMax: number): TimeIndex {
    return new TimeIndex(path, baseOffset, indexBytesMax).startActive();
  }

  /** A sealed index from its file, or the reason it cannot be trusted. */
  static openSealed(path: string, baseOffset: number, indexBytesMax: number): TimeIndex | string {
    return new TimeIndex(path, baseOffset, indexBytesMax).openSealedOrReason();
  }

  /** Room for ordinary entries is gone; the last slot is the sealing entry's. */
  override get isFull(): boolean {
    return this.entryCount >= this.entriesMax - 1;
  }

  protected keyAt(index: number): number {
    return readInt64(this.view, index * timeIndexEntryBytes);
  }

  protected parseEntry(index: number): TimestampOffset {
    const at = index * timeIndexEntryBytes;
    return { timestampMs: readInt64(this.view, at), offset: this.baseOffset + this.view.getUint32(at + 8, true) };
  }

  /**
   * Adds (timestampMs, offset) when timestampMs is above the last entry's; returns
   * whether it did. Only the sealing entry (`sealing`) may take the last slot.
   */
  maybeAppend(timestampMs: number, offset: number, options: { sealing: boolean } = { sealing: false }): boolean {
    const last = this.lastEntry();
    if (last !== undefined && timestampMs <= last.timestampMs) return false;
    if (!options.sealing && this.isFull) throw new Error(`time index ${this.path} full at ${this.entryCount} entries`);
    const relativeOffset = this.relativeOffset(offset);
    const at = this.reserveEntry();
    writeInt64(this.view, at, timestampMs);
    this.view.setUint32(at + 8, relativeOffset, true);
    this.commitEntry();
    return true;
  }

  /**
   * The last entry with a timestamp strictly below `timestampMs`: records at or
   * after `timestampMs` all sit after its offset. Undefined means scan from the start.
   */
  lastEntryBefore(timestampMs: number): TimestampOffset | undefined {
    return this.floorEntry(timestampMs - 1);
  }
}
