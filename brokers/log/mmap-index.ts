import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, statSync, writeSync } from "node:fs";
import { DiskFullError, isDiskFull, whileWriting } from "./errors.ts";

/**
 * A file of fixed-width entries sorted by a numeric key, binary-searched. The one
 * implementation behind the offset index and the time index (thin subclasses say
 * how an entry is laid out and which field is the key).
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

export interface IndexFileOptions {
  path: string;
  entryBytes: number;
  /** Preallocated size of an active index; also the most entries it can hold. */
  indexBytesMax: number;
}

export abstract class MmapIndex {
  readonly path: string;
  readonly entryBytes: number;
  readonly indexBytesMax: number;
  protected bytes: Uint8Array;
  protected view: DataView;
  private count = 0;
  private fd: number | undefined;
  /** Entries already mirrored to the file (active state only). */
  private writtenCount = 0;

  protected constructor(options: IndexFileOptions) {
    if (options.indexBytesMax < options.entryBytes) {
      throw new Error(
        `indexBytesMax ${options.indexBytesMax} below one entry of ${options.entryBytes} at ${options.path}`,
      );
    }
    this.path = options.path;
    this.entryBytes = options.entryBytes;
    this.indexBytesMax = options.indexBytesMax;
    this.bytes = new Uint8Array(0);
    this.view = new DataView(this.bytes.buffer);
  }

  /** The key entry `index` is sorted by. */
  protected abstract keyAt(index: number): number;

  get entryCount(): number {
    return this.count;
  }

  get isActive(): boolean {
    return this.fd !== undefined;
  }

  get entriesMax(): number {
    return Math.floor(this.indexBytesMax / this.entryBytes);
  }

  get isFull(): boolean {
    return this.count >= this.entriesMax;
  }

  /** Truncates the file and starts an empty active index preallocated to indexBytesMax. */
  protected startActive(): void {
    this.fd = whileWriting(
      () => `creating ${this.path}`,
      () => openSync(this.path, "w+"),
    );
    ftruncateSync(this.fd, this.indexBytesMax);
    this.bytes = new Uint8Array(Math.min(initialBufferBytes, this.indexBytesMax));
    this.view = new DataView(this.bytes.buffer);
    this.count = 0;
    this.writtenCount = 0;
  }

  /**
   * Maps a sealed index file. Returns a reason when the file cannot be trusted
   * (size not a multiple of the entry size, keys not sorted) so the caller rebuilds it.
   */
  protected openSealed(): string | undefined {
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

  /** Position in the buffer for a new entry; the subclass fills it, then calls commitEntry. */
  protected reserveEntry(): number {
    if (this.fd === undefined) throw new Error(`append to sealed index ${this.path}`);
    if (this.isFull) throw new Error(`index ${this.path} full at ${this.count} entries`);
    const needed = (this.count + 1) * this.entryBytes;
    if (needed > this.bytes.length) this.grow(needed);
    return this.count * this.entryBytes;
  }

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

  /** Largest entry index whose key is <= target, or -1 when every key is above it. */
  floorEntryIndex(target: number): number {
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
    const reason = this.openSealed();
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
