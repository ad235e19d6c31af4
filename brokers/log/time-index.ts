import { readInt64, writeInt64 } from "../../src/broker-protocol/record-batch.ts";
import { MmapIndex } from "./mmap-index.ts";

/**
 * Sparse map from time to offset: 12-byte entries (timestampMs i64, relativeOffset
 * u32). An entry (T, O) says: the largest timestamp among records up to offset O is
 * T. Entries are added only when T grows, so keys are sorted and a binary search
 * finds where records newer than a given time can start. The last entry of a
 * sealed segment carries the segment's largest timestamp (used by retention).
 */
export const timeIndexEntryBytes = 12;

export interface TimestampOffset {
  timestampMs: number;
  offset: number;
}

export class TimeIndex extends MmapIndex {
  readonly baseOffset: number;

  private constructor(path: string, baseOffset: number, indexBytesMax: number) {
    super({ path, entryBytes: timeIndexEntryBytes, indexBytesMax });
    this.baseOffset = baseOffset;
  }

  static createActive(path: string, baseOffset: number, indexBytesMax: number): TimeIndex {
    const index = new TimeIndex(path, baseOffset, indexBytesMax);
    index.startActive();
    return index;
  }

  static openSealed(path: string, baseOffset: number, indexBytesMax: number): TimeIndex | string {
    const index = new TimeIndex(path, baseOffset, indexBytesMax);
    const reason = index.openSealed();
    if (reason === undefined) return index;
    index.release();
    return reason;
  }

  protected keyAt(index: number): number {
    return readInt64(this.view, index * timeIndexEntryBytes);
  }

  /** Adds (timestampMs, offset) when timestampMs is above the last entry's; returns whether it did. */
  maybeAppend(timestampMs: number, offset: number): boolean {
    const last = this.lastEntry();
    if (last !== undefined && timestampMs <= last.timestampMs) return false;
    const relativeOffset = offset - this.baseOffset;
    if (relativeOffset < 0 || relativeOffset > 0xffffffff) {
      throw new RangeError(`offset ${offset} not representable relative to ${this.baseOffset} in ${this.path}`);
    }
    const at = this.reserveEntry();
    writeInt64(this.view, at, timestampMs);
    this.view.setUint32(at + 8, relativeOffset, true);
    this.commitEntry();
    return true;
  }

  entryAt(index: number): TimestampOffset {
    const at = index * timeIndexEntryBytes;
    return { timestampMs: readInt64(this.view, at), offset: this.baseOffset + this.view.getUint32(at + 8, true) };
  }

  lastEntry(): TimestampOffset | undefined {
    return this.entryCount === 0 ? undefined : this.entryAt(this.entryCount - 1);
  }

  /**
   * The last entry with a timestamp strictly below `timestampMs`: records at or
   * after `timestampMs` all sit after its offset. Undefined means scan from the start.
   */
  lastEntryBefore(timestampMs: number): TimestampOffset | undefined {
    const index = this.floorEntryIndex(timestampMs - 1);
    return index < 0 ? undefined : this.entryAt(index);
  }
}
