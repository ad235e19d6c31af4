import {
  closeSync,
  constants,
  fstatSync,
  fsync,
  fsyncSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import {
  type BatchHeader,
  batchLastOffsetAt,
  batchLengthPrefixBytes,
  batchSizeAt,
  dataViewOf,
  forEachRecord,
} from "../../src/broker-protocol/record-batch.ts";
import { readExactly, scanBatches } from "./batch-scanner.ts";
import { whileWriting } from "./errors.ts";
import { Suffix, segmentFilePath } from "./file-names.ts";
import type { LogConfig } from "./log-config.ts";
import { relativeOffsetMax } from "./mmap-index.ts";
import { OffsetIndex } from "./offset-index.ts";
import { TimeIndex } from "./time-index.ts";

/**
 * One segment: a .log file of whole batches starting at `baseOffset`, with its
 * sparse .index and .timeindex. Only the last segment of a partition is active
 * (appended to); the others are sealed (read-only, indexes mapped).
 *
 * Reads are synchronous positioned reads that copy into a fresh buffer, so a
 * result never aliases the file and no read can interleave with a deletion
 * (single-threaded). Deletion renames the files to *.deleted and unlinks them
 * `fileDeleteDelayMs` later: a process outside the broker that opened the file
 * by path keeps reading, and a crash between the two steps leaves only .deleted
 * files, which the loader removes.
 */

/** What the scan of an existing or new segment established; the loader builds a segment from it. */
export interface SegmentState {
  baseOffset: number;
  dir: string;
  fd: number;
  offsetIndex: OffsetIndex;
  timeIndex: TimeIndex;
  sizeBytes: number;
  nextOffset: number;
  /** -1 while the segment is empty. */
  maxTimestampMs: number;
  /**
   * When the segment got its first batch: its age for rolling. Broker clock at the
   * first append; after recovery, the first batch's max timestamp capped at the
   * load time (the append time is not stored). -1 while empty.
   */
  rollTimestampMs: number;
  /** The last offset whose batch set maxTimestampMs (time-index entry at seal). */
  offsetOfMaxTimestamp: number;
  bytesSinceIndexEntry: number;
}

/** A batch being appended: where it sits in the append buffer and what it holds. */
export interface AppendedBatch {
  position: number;
  sizeBytes: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestampMs: number;
}

export interface SegmentRead {
  bytes: Uint8Array;
  nextOffset: number;
  batchCount: number;
}

/** How many bytes a scan reads at a time when locating a batch. */
const locateChunkBytes = 8192;

export class Segment {
  readonly baseOffset: number;
  readonly dir: string;
  readonly logPath: string;
  private fd: number;
  readonly offsetIndex: OffsetIndex;
  readonly timeIndex: TimeIndex;
  private state: Omit<SegmentState, "baseOffset" | "dir" | "fd" | "offsetIndex" | "timeIndex">;
  private sealed = false;
  private deleted = false;
  /** The sealing fsync of the log, once sealed. */
  private logFsync: Promise<void> | undefined;

  constructor(state: SegmentState) {
    this.baseOffset = state.baseOffset;
    this.dir = state.dir;
    this.logPath = segmentFilePath(state.dir, state.baseOffset, Suffix.log);
    this.fd = state.fd;
    this.offsetIndex = state.offsetIndex;
    this.timeIndex = state.timeIndex;
    this.sealed = !state.offsetIndex.isActive;
    if (this.sealed) this.logFsync = Promise.resolve();
    this.state = {
      sizeBytes: state.sizeBytes,
      nextOffset: state.nextOffset,
      maxTimestampMs: state.maxTimestampMs,
      rollTimestampMs: state.rollTimestampMs,
      offsetOfMaxTimestamp: state.offsetOfMaxTimestamp,
      bytesSinceIndexEntry: state.bytesSinceIndexEntry,
    };
    if (state.nextOffset < state.baseOffset) {
      throw new Error(`segment ${this.logPath}: nextOffset ${state.nextOffset} below base ${state.baseOffset}`);
    }
  }

  /** A new empty active segment; refuses to overwrite a non-empty .log. */
  static create(dir: string, baseOffset: number, config: LogConfig): Segment {
    const logPath = segmentFilePath(dir, baseOffset, Suffix.log);
    const fd = whileWriting(
      () => `creating ${logPath}`,
      () => openSync(logPath, constants.O_RDWR | constants.O_CREAT, 0o644),
    );
    const existingBytes = fstatSync(fd).size;
    if (existingBytes !== 0) {
      closeSync(fd);
      throw new Error(`new segment ${logPath} already holds ${existingBytes} bytes`);
    }
    try {
      return Segment.withFreshIndexes(dir, baseOffset, fd, config);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /**
   * An active segment over an open .log whose state starts empty and whose indexes
   * are created anew: a new segment, or one the loader re-reads batch by batch.
   */
  static withFreshIndexes(dir: string, baseOffset: number, fd: number, config: LogConfig): Segment {
    return new Segment({
      baseOffset,
      dir,
      fd,
      offsetIndex: OffsetIndex.createActive(
        segmentFilePath(dir, baseOffset, Suffix.index),
        baseOffset,
        config.indexBytesMax,
      ),
      timeIndex: TimeIndex.createActive(
        segmentFilePath(dir, baseOffset, Suffix.timeIndex),
        baseOffset,
        config.indexBytesMax,
      ),
      sizeBytes: 0,
      nextOffset: baseOffset,
      maxTimestampMs: -1,
      rollTimestampMs: -1,
      offsetOfMaxTimestamp: baseOffset,
      bytesSinceIndexEntry: 0,
    });
  }

  get sizeBytes(): number {
    return this.state.sizeBytes;
  }
  get nextOffset(): number {
    return this.state.nextOffset;
  }
  get maxTimestampMs(): number {
    return this.state.maxTimestampMs;
  }
  get rollTimestampMs(): number {
    return this.state.rollTimestampMs;
  }
  get isSealed(): boolean {
    return this.sealed;
  }
  get isEmpty(): boolean {
    return this.state.sizeBytes === 0;
  }
  get fileDescriptor(): number {
    return this.fd;
  }

  /** Whether an append of `appendBytes` ending at `lastOffset` must go to a new segment. */
  needsRoll(options: {
    appendBytes: number;
    lastOffset: number;
    nowMs: number;
    config: LogConfig;
  }): string | undefined {
    if (this.isEmpty) return undefined;
    const { config } = options;
    if (this.state.sizeBytes + options.appendBytes > config.segmentBytesMax) return "size";
    if (options.nowMs - this.state.rollTimestampMs >= config.segmentMsMax) return "age";
    if (this.offsetIndex.isFull || this.timeIndex.isFull) return "index full";
    if (options.lastOffset - this.baseOffset > relativeOffsetMax) return "relative offset range";
    return undefined;
  }

  /**
   * Writes `bytes` (whole batches, base offsets already stamped) at the end of the
   * log with one write, then indexes them. The caller checked needsRoll.
   */
  append(
    bytes: Uint8Array,
    batches: readonly AppendedBatch[],
    options: { indexIntervalBytes: number; nowMs: number },
  ): void {
    if (this.sealed || this.deleted) throw new Error(`append to sealed segment ${this.logPath}`);
    // Age counts from the broker's clock at the first append, not from record
    // timestamps: a producer replaying old data must not make every append roll.
    if (this.state.rollTimestampMs < 0) this.state.rollTimestampMs = options.nowMs;
    const first = batches[0];
    if (first === undefined || first.baseOffset !== this.state.nextOffset) {
      throw new Error(`append at ${first?.baseOffset} to ${this.logPath}, expected offset ${this.state.nextOffset}`);
    }
    const startPosition = this.state.sizeBytes;
    // A write cut short by a full disk changes nothing: the state still ends at
    // startPosition, the next append writes over the partial bytes, and recovery
    // truncates them should none come.
    whileWriting(
      () => `appending ${bytes.length} bytes to ${this.logPath}`,
      () => {
        let written = 0;
        while (written < bytes.length) {
          written += writeSync(this.fd, bytes, written, bytes.length - written, startPosition + written);
        }
      },
    );
    for (const batch of batches)
      this.indexBatch({ ...batch, position: startPosition + batch.position }, options.indexIntervalBytes);
    this.state.sizeBytes = startPosition + bytes.length;
    this.offsetIndex.writeNewEntries();
    this.timeIndex.writeNewEntries();
  }

  /** After recovery: the segment's age starts no later than now. */
  capRollTimestamp(nowMs: number): void {
    if (this.state.rollTimestampMs > nowMs) this.state.rollTimestampMs = nowMs;
  }

  /** Adds index entries for a batch at file position `batch.position` (append and rebuild share this). */
  indexBatch(batch: AppendedBatch, indexIntervalBytes: number): void {
    const state = this.state;
    if (state.rollTimestampMs < 0) state.rollTimestampMs = batch.maxTimestampMs;
    if (batch.maxTimestampMs > state.maxTimestampMs) {
      state.maxTimestampMs = batch.maxTimestampMs;
      state.offsetOfMaxTimestamp = batch.lastOffset;
    }
    // A full index only gets sparser (lookups scan forward); needsRoll then rolls.
    // The time index keeps its last slot for the entry sealing writes.
    if (state.bytesSinceIndexEntry >= indexIntervalBytes && !this.offsetIndex.isFull) {
      this.offsetIndex.append(batch.baseOffset, batch.position);
      if (!this.timeIndex.isFull) this.timeIndex.maybeAppend(state.maxTimestampMs, batch.lastOffset);
      state.bytesSinceIndexEntry = 0;
    }
    state.bytesSinceIndexEntry += batch.sizeBytes;
    state.nextOffset = batch.lastOffset + 1;
    state.sizeBytes = Math.max(state.sizeBytes, batch.position + batch.sizeBytes);
  }

  /** Position of the batch containing `offset` (which must be in this segment), by index then scan. */
  private positionOf(offset: number, batchBytesMax: number): { position: number; baseOffset: number } {
    const found = this.firstBatchFrom(
      offset,
      batchBytesMax,
      (header) => header.baseOffset + header.lastOffsetDelta >= offset,
    );
    if (found === undefined) throw new Error(`offset ${offset} not found in ${this.logPath} (next ${this.nextOffset})`);
    return found;
  }

  /**
   * The first batch at or after the index entry for `fromOffset` that satisfies `wanted`,
   * scanning headers only (no CRC): the one walk both offset and time lookups need.
   */
  private firstBatchFrom(
    fromOffset: number,
    batchBytesMax: number,
    wanted: (header: BatchHeader) => boolean,
  ): { position: number; sizeBytes: number; baseOffset: number } | undefined {
    const start = this.offsetIndex.lookup(fromOffset);
    let found: { position: number; sizeBytes: number; baseOffset: number } | undefined;
    scanBatches({
      fd: this.fd,
      path: this.logPath,
      startPosition: start.position,
      endPosition: this.state.sizeBytes,
      batchBytesMax,
      verifyCrc: false,
      chunkBytes: locateChunkBytes,
      onBatch: (header, position, sizeBytes) => {
        if (!wanted(header)) return true;
        found = { position, sizeBytes, baseOffset: header.baseOffset };
        return false;
      },
    });
    return found;
  }

  /** Whole batches from the one holding `offset`, up to maxBytes but at least one batch. */
  read(offset: number, maxBytes: number, batchBytesMax: number): SegmentRead {
    if (offset < this.baseOffset || offset >= this.state.nextOffset) {
      return { bytes: new Uint8Array(0), nextOffset: offset, batchCount: 0 };
    }
    const { position } = this.positionOf(offset, batchBytesMax);
    const available = this.state.sizeBytes - position;
    const chunk = readExactly(
      this.fd,
      this.logPath,
      position,
      Math.min(available, Math.max(maxBytes, batchLengthPrefixBytes)),
    );
    const whole = wholeBatchesIn(chunk);
    if (whole.batchCount > 0)
      return { bytes: chunk.subarray(0, whole.bytes), nextOffset: whole.nextOffset, batchCount: whole.batchCount };
    const firstSize = chunk.length >= batchLengthPrefixBytes ? batchSizeAt(dataViewOf(chunk), 0) : 0;
    if (firstSize <= 0 || firstSize > available)
      throw new Error(`bad batch size ${firstSize} at ${position} in ${this.logPath}`);
    const single = readExactly(this.fd, this.logPath, position, firstSize);
    const one = wholeBatchesIn(single);
    return { bytes: single, nextOffset: one.nextOffset, batchCount: one.batchCount };
  }

  /** First offset in this segment whose record timestamp is >= timestampMs, if any. */
  offsetForTimestamp(timestampMs: number, batchBytesMax: number): number | undefined {
    if (this.state.maxTimestampMs < timestampMs) return undefined;
    const entry = this.timeIndex.lastEntryBefore(timestampMs);
    const fromOffset = entry === undefined ? this.baseOffset : Math.min(entry.offset + 1, this.state.nextOffset - 1);
    const batch = this.firstBatchFrom(fromOffset, batchBytesMax, (header) => header.maxTimestampMs >= timestampMs);
    if (batch === undefined) return undefined;
    let result: number | undefined;
    forEachRecord(readExactly(this.fd, this.logPath, batch.position, batch.sizeBytes), (record) => {
      if (result === undefined && record.timestampMs >= timestampMs) result = record.offset;
    });
    return result;
  }

  /** fsync the log without blocking the event loop (group commit awaits this). */
  flushAsync(): Promise<void> {
    const fd = this.fd;
    return new Promise((resolve, reject) => fsync(fd, (error) => (error ? reject(error) : resolve())));
  }

  flushSync(): void {
    fsyncSync(this.fd);
    this.offsetIndex.writeNewEntries();
    this.timeIndex.writeNewEntries();
  }

  /**
   * Ends appends: records the max timestamp in the time index, trims, fsyncs and
   * maps the indexes, and fsyncs the log without blocking the event loop (a rolled
   * segment may hold hundreds of MiB of dirty pages under flush=os). The promise
   * settles when the log is durable.
   */
  seal(): Promise<void> {
    if (this.logFsync !== undefined) return this.logFsync;
    this.sealIndexes();
    this.logFsync = this.flushAsync();
    return this.logFsync;
  }

  /** seal, waiting for the fsync in place (recovery, before the event loop matters). */
  sealSync(): void {
    if (this.sealed) return;
    this.sealIndexes();
    fsyncSync(this.fd);
    this.logFsync = Promise.resolve();
  }

  private sealIndexes(): void {
    if (this.sealed) throw new Error(`segment ${this.logPath} sealed twice`);
    // (A seal that failed on a full disk may have taken the last slot already.)
    if (!this.isEmpty && this.timeIndex.entryCount < this.timeIndex.entriesMax) {
      this.timeIndex.maybeAppend(this.state.maxTimestampMs, this.state.offsetOfMaxTimestamp, { sealing: true });
    }
    // Every entry on disk before either index is trimmed and mapped: on a full disk
    // the segment stays active and whole, and sealing is tried again later.
    this.offsetIndex.assertWritten();
    this.timeIndex.assertWritten();
    this.offsetIndex.seal();
    this.timeIndex.seal();
    this.sealed = true;
  }

  /** A new segment that could not be put to use (its predecessor did not seal): its files go. */
  discardEmpty(): void {
    if (!this.isEmpty || this.sealed) throw new Error(`discarding segment ${this.logPath} that holds data`);
    this.deleted = true;
    this.offsetIndex.release();
    this.timeIndex.release();
    closeSync(this.fd);
    for (const path of [this.logPath, this.offsetIndex.path, this.timeIndex.path]) unlinkQuietly(path);
  }

  /** Clean shutdown: seal (indexes trimmed, log fsynced), then release the files. */
  async close(): Promise<void> {
    if (this.deleted) return;
    this.deleted = true;
    if (this.sealed) await this.logFsync;
    else await this.seal();
    this.offsetIndex.release();
    this.timeIndex.release();
    closeSync(this.fd);
  }

  /**
   * Retention: renames the files to *.deleted now and returns a function that
   * unlinks them, for the caller to run after fileDeleteDelayMs.
   */
  markDeleted(): () => void {
    if (!this.sealed) throw new Error(`deleting active segment ${this.logPath}`);
    if (this.deleted) throw new Error(`segment ${this.logPath} deleted twice`);
    this.deleted = true;
    this.offsetIndex.release();
    this.timeIndex.release();
    // An fsync may still run on the descriptor: close it only after that settles.
    const fd = this.fd;
    const closeFd = () => closeSync(fd);
    if (this.logFsync === undefined) closeFd();
    else this.logFsync.then(closeFd, closeFd);
    const paths = [this.logPath, this.offsetIndex.path, this.timeIndex.path];
    for (const path of paths) renameSync(path, path + Suffix.deleted);
    return () => {
      for (const path of paths) unlinkQuietly(path + Suffix.deleted);
    };
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

/** How many leading bytes of `chunk` are whole batches, and the offset after them. */
function wholeBatchesIn(chunk: Uint8Array): { bytes: number; nextOffset: number; batchCount: number } {
  const view = dataViewOf(chunk);
  let position = 0;
  let batchCount = 0;
  let nextOffset = -1;
  while (position + batchLengthPrefixBytes <= chunk.length) {
    const sizeBytes = batchSizeAt(view, position);
    if (position + sizeBytes > chunk.length) break;
    nextOffset = batchLastOffsetAt(view, position) + 1;
    position += sizeBytes;
    batchCount++;
  }
  return { bytes: position, nextOffset, batchCount };
}
