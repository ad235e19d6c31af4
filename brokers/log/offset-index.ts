import { MmapIndex } from "./mmap-index.ts";

/**
 * Sparse map from offset to file position in a segment's .log: 8-byte entries
 * (relativeOffset u32, position u32, little-endian), one per `indexIntervalBytes`.
 * A lookup gives the last indexed batch at or before an offset; the segment scans
 * forward from there.
 */
export const offsetIndexEntryBytes = 8;

export interface OffsetPosition {
  offset: number;
  position: number;
}

export class OffsetIndex extends MmapIndex {
  readonly baseOffset: number;

  private constructor(path: string, baseOffset: number, indexBytesMax: number) {
    super({ path, entryBytes: offsetIndexEntryBytes, indexBytesMax });
    this.baseOffset = baseOffset;
  }

  static createActive(path: string, baseOffset: number, indexBytesMax: number): OffsetIndex {
    const index = new OffsetIndex(path, baseOffset, indexBytesMax);
    index.startActive();
    return index;
  }

  /** A sealed index from its file, or the reason it cannot be trusted. */
  static openSealed(path: string, baseOffset: number, indexBytesMax: number): OffsetIndex | string {
    const index = new OffsetIndex(path, baseOffset, indexBytesMax);
    const reason = index.openSealed();
    if (reason === undefined) return index;
    index.release();
    return reason;
  }

  protected keyAt(index: number): number {
    return this.view.getUint32(index * offsetIndexEntryBytes, true);
  }

  append(offset: number, position: number): void {
    const relativeOffset = offset - this.baseOffset;
    if (relativeOffset < 0 || relativeOffset > 0xffffffff) {
      throw new RangeError(`offset ${offset} not representable relative to ${this.baseOffset} in ${this.path}`);
    }
    const at = this.reserveEntry();
    this.view.setUint32(at, relativeOffset, true);
    this.view.setUint32(at + 4, position, true);
    this.commitEntry();
  }

  /** The last entry at or before `offset`; the segment start when there is none. */
  lookup(offset: number): OffsetPosition {
    const index = this.floorEntryIndex(offset - this.baseOffset);
    if (index < 0) return { offset: this.baseOffset, position: 0 };
    return this.entryAt(index);
  }

  entryAt(index: number): OffsetPosition {
    const at = index * offsetIndexEntryBytes;
    return { offset: this.baseOffset + this.view.getUint32(at, true), position: this.view.getUint32(at + 4, true) };
  }

  lastEntry(): OffsetPosition | undefined {
    return this.entryCount === 0 ? undefined : this.entryAt(this.entryCount - 1);
  }
}
