import { MmapIndex } from "./mmap-index.ts";

/**
 * Sparse map from offset to file position in a segment's .log: 8-byte entries
 * (relativeOffset u32, position u32, little-endian), one per `indexIntervalBytes`.
 * A lookup gives the last indexed batch at or before an offset; the segment scans
 * forward from there. The file, the checks and the search are MmapIndex's.
 */
export const offsetIndexEntryBytes = 8;
/** Positions are u32: a segment's .log never reaches this size (segmentBytesMax is far below). */
const positionMax = 0xffffffff;

export interface OffsetPosition {
  offset: number;
  position: number;
}

export class OffsetIndex extends MmapIndex<OffsetPosition> {
  private constructor(path: string, baseOffset: number, indexBytesMax: number) {
    super({ path, baseOffset, indexBytesMax }, offsetIndexEntryBytes);
  }

  static createActive(path: string, baseOffset: number, indexBytesMax: number): OffsetIndex {
    return new OffsetIndex(path, baseOffset, indexBytesMax).startActive();
  }

  /** A sealed index from its file, or the reason it cannot be trusted. */
  static openSealed(path: string, baseOffset: number, indexBytesMax: number): OffsetIndex | string {
    return new OffsetIndex(path, baseOffset, indexBytesMax).openSealedOrReason();
  }

  protected keyAt(index: number): number {
    return this.view.getUint32(index * offsetIndexEntryBytes, true);
  }

  protected parseEntry(index: number): OffsetPosition {
    const at = index * offsetIndexEntryBytes;
    return { offset: this.baseOffset + this.view.getUint32(at, true), position: this.view.getUint32(at + 4, true) };
  }

  append(offset: number, position: number): void {
    const relativeOffset = this.relativeOffset(offset);
    if (!Number.isSafeInteger(position) || position < 0 || position > positionMax) {
      throw new RangeError(`position ${position} of offset ${offset} does not fit ${this.path}`);
    }
    const at = this.reserveEntry();
    this.view.setUint32(at, relativeOffset, true);
    this.view.setUint32(at + 4, position, true);
    this.commitEntry();
  }

  /** The last entry at or before `offset`; the segment start when there is none. */
  lookup(offset: number): OffsetPosition {
    return this.floorEntry(offset - this.baseOffset) ?? { offset: this.baseOffset, position: 0 };
  }
}
