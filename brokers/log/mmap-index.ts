import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, statSync, writeSync } from "node:fs";
import { DiskFullError, isDiskFull, whileWriting } from "./errors.ts";

/**
 * A segment's file of fixed-width entries sorted by a numeric key, binary-searched:
 * the one implementation behind the offset index and the time index, as Kafka's
 * AbstractIndex. This base owns the file (preallocation, trim, mmap), the entry
 * count, the capacity, the bounds and order checks, offsets relative to the
 * segment's base offset, and the search; a subclass only says how an entry is laid
 * out (`keyAt`, `parseEntry`) and writes its fields between `reserveEntry` and
 * `commitEntry`.
 *
 * Two states:
 * - active (the segment being appended to): the file is preallocated to
 *   `indexBytesMax`; entries live in a growable in-memory buffer and each append
 *   call mirrors the new entries to the file with one positioned write. Mapping a
 *   file that is about to be trimmed is unsafe (Bun crashes when a mapped file is
 *   truncated), hence a buffer while the index still changes.
 * - sealed (rolled segments, loaded segments): the file is trimmed to its entries
 *   and read through `Bun.mmap`, so a broker with many segments holds their
 *   indexes in the page cache, not in the JS heap.
 *
 * The log is the truth and an index can always be rebuilt from it (log-loader.ts).
 */

const initialBufferBytes = 4096;
/** Entries store offsets as u32 relative to the segment's base offset. */
export const relativeOffsetMax = 0xffffffff;

export interface IndexFileOptions {
  path: string;
  /** The segment's first offset; entries hold offsets relative to it. */
  baseOffset: number;
  /** Preallocated size of an active index; also the most entries it can hold. */
  indexBytesMax: number;
}

export abstract class MmapIndex<Entry> {
  readonly path: string;
  readonly baseOffset: number;
  readonly entryBytes: number;
  readonly indexBytesMax: number;
  protected bytes: Uint8Array;
  protected view: DataView;
  private count = 0;
  private fd: number | undefined;
  /** Entries already mirrored to the file (active state only). */
  private writtenCount = 0;

  protected constructor(options: IndexFileOptions, entryBytes: number) {
    if (!Number.isSafeInteger(options.baseOffset) || options.baseOffset < 0) {
      throw new RangeError(`base offset ${options.baseOffset} of ${options.path} is not a non-negative integer`);
    }
    if (!Number.isInteger(entryBytes) || entryBytes < 1) throw new RangeError(`entryBytes ${entryBytes}`);
    if (!Number.isSafeInteger(options.indexBytesMax) || options.indexBytesMax < entryBytes) {
      throw new Error(`indexBytesMax ${options.indexBytesMax} below one entry of ${entryBytes} at ${options.path}`);
    }
    this.path = options.path;
    this.baseOffset = options.baseOffset;
    this.entryBytes = entryBytes;
    this.indexBytesMax = options.indexBytesMax;
    this.bytes = new Uint8Array(0);
    this.view = new DataView(this.bytes.buffer);
  }

  /** The key entry `index` is sorted by (index < entryCount, checked by the caller). */
  protected abstract keyAt(index: number): number;

  /** Entry `index` as an object (index < entryCount, checked by the caller). */
  protected abstract parseEntry(index: number): Entry;

  get entryCount(): number {
    return this.count;
  }

  get isActive(): boolean {
    return this.fd !== undefined;
  }

  /** Entries the file can hold. */
  get entriesMax(): number {
    return Math.floor(this.indexBytesMax / this.entryBytes);
  }

  /** No room for another ordinary entry (the time index keeps one slot for sealing). */
  get isFull(): boolean {
    return this.count >= this.entriesMax;
  }

  /** Truncates the file and starts an empty active index preallocated to indexBytesMax. */
  protected startActive(): this {
    this.fd = whileWriting(
      () => `creating ${this.path}`,
      () => openSync(this.path, "w+"),
    );
    ftruncateSync(this.fd, this.indexBytesMax);
    this.bytes = new Uint8Array(Math.min(initialBufferBytes, this.indexBytesMax));
    this.view = new DataView(this.bytes.buffer);
    this.count = 0;
    this.writtenCount = 0;
    return this;
  }

  /** This index over its sealed file, or the reason the file cannot be trusted (nothing held then). */
  protected openSealedOrReason(): this | string {
    const reason = this.mapSealed();
    if (reason === undefined) return this;
    this.release();
    return reason;
  }

  /**
   * Maps a sealed index file. Returns a reason when the file cannot be trusted
   * (size not a multiple of the entry size, keys not sorted) so the caller rebuilds it.
   */
  private mapSealed(): string | undefined {
    if (!existsSync(this.path)) return "missing";
    const sizeBytes = statSync(this.path).size;
    if (sizeBytes % this.entryBytes !== 0) return `size ${sizeBytes} not a multiple of ${this.entryBytes}`;
    if (sizeBytes > this.indexBytesMax) return `size ${sizeBytes} above indexBytesMax ${this.indexBytesMax}`;
    this.bytes = sizeBytes === 0 ? new Uint8Array(0) : Bun.mmap(this.path, { shared: false });
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    this.count = sizeBytes / this.entryBytes;
    for (let index = 1; index < this.count; index++) {
      if (this.keyAt(index) < this.keyAt(index - 1)) return `entry ${index} out of order`;
    }
    return undefined;
  }

  /** `offset` relative to the base offset, as entries store it; throws when it does not fit. */
  protected relativeOffset(offset: number): number {
    const relative = offset - this.baseOffset;
    if (!Number.isSafeInteger(offset) || relative < 0 || relative > relativeOffsetMax) {
      throw new RangeError(`offset ${offset} not representable relative to ${this.baseOffset} in ${this.path}`);
    }
    return relative;
  }

  /** Byte position in the buffer for a new entry; the subclass fills it, then calls commitEntry. */
  protected reserveEntry(): number {
    if (this.fd === undefined) throw new Error(`append to sealed index ${this.path}`);
    if (this.count >= this.entriesMax) throw new Error(`index ${this.path} full at ${this.count} entries`);
    const needed = (this.count + 1) * this.entryBytes;
    if (needed > this.bytes.length) this.grow(needed);
    return this.count * this.entryBytes;
  }

  /** Counts the entry written at the reserved position, once its key is known to keep the order. */
  protected commitEntry(): void {
    const count = this.count + 1;
    if (count > 1 && this.keyAt(count - 1) < this.keyAt(count - 2)) {
      throw new Error(`index ${this.path}: key ${this.keyAt(count - 1)} after ${this.keyAt(count - 2)}`);
    }
    this.count = count;
  }

  private grow(neededBytes: number): void {
    let size = this.bytes.length;
    while (size < neededBytes) size *= 2;
    const grown = new Uint8Array(Math.min(size, this.indexBytesMax));
    grown.set(this.bytes);
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  /**
   * Mirrors entries added since the last call to the file with one positioned write.
   * On a full disk the entries stay in memory and the next call writes them: the
   * append they index has happened, and an index never fails it (the log is the truth).
   */
  writeNewEntries(): void {
    if (this.fd === undefined || this.writtenCount === this.count) return;
    const start = this.writtenCount * this.entryBytes;
    const end = this.count * this.entryBytes;
    let written = 0;
    try {
      while (written < end - start) {
        written += writeSync(this.fd, this.bytes, start + written, end - start - written, start + written);
      }
    } catch (error) {
      if (isDiskFull(error)) return;
      throw error;
    }
    this.writtenCount = this.count;
  }

  /** Writes what is pending; a DiskFullError when the file still lacks entries (sealing must wait). */
  assertWritten(): void {
    this.writeNewEntries();
    if (this.fd !== undefined && this.writtenCount < this.count) {
      throw new DiskFullError(`writing ${this.count - this.writtenCount} entries to ${this.path}`);
    }
  }

  entryAt(index: number): Entry {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) {
      throw new RangeError(`entry ${index} of ${this.path}, which holds ${this.count}`);
    }
    return this.parseEntry(index);
  }

  lastEntry(): Entry | undefined {
    return this.count === 0 ? undefined : this.parseEntry(this.count - 1);
  }

  /** The last entry whose key is <= `key`, or undefined when every key is above it. */
  protected floorEntry(key: number): Entry | undefined {
    const index = this.floorEntryIndex(key);
    return index < 0 ? undefined : this.parseEntry(index);
  }

  /** Largest entry index whose key is <= target, or -1 when every key is above it. */
  private floorEntryIndex(target: number): number {
    let low = 0;
    let high = this.count - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.keyAt(middle) <= target) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  /** Trims the file to its entries, fsyncs it and switches to reading through mmap. */
  seal(): void {
    if (this.fd === undefined) return;
    this.writeNewEntries();
    const sizeBytes = this.count * this.entryBytes;
    ftruncateSync(this.fd, sizeBytes);
    fsyncSync(this.fd);
    const statBytes = fstatSync(this.fd).size;
    closeSync(this.fd);
    this.fd = undefined;
    if (statBytes !== sizeBytes) throw new Error(`index ${this.path} trimmed to ${statBytes}, expected ${sizeBytes}`);
    const reason = this.mapSealed();
    if (reason !== undefined) throw new Error(`index ${this.path} unreadable right after sealing: ${reason}`);
  }

  flush(): void {
    if (this.fd === undefined) return;
    this.writeNewEntries();
    fsyncSync(this.fd);
  }

  /** Releases the file and the mapping (the mapping is unmapped when collected). */
  release(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.bytes = new Uint8Array(0);
    this.view = new DataView(this.bytes.buffer);
    this.count = 0;
  }
}
