import { readSync } from "node:fs";
import {
  type BatchHeader,
  batchHeaderBytes,
  batchLengthPrefixBytes,
  dataViewOf,
  headerProblem,
  readBatchHeader,
  verifyBatch,
} from "../../src/broker-protocol/record-batch.ts";

/**
 * Walks the batches of a .log file between two positions with positioned reads
 * into one reused buffer. Used by recovery (with CRC checks), by reads to find the
 * batch holding an offset, and to replay producer state (headers only).
 */

export interface ScanOptions {
  fd: number;
  path: string;
  startPosition: number;
  /** File position the scan must not pass (the end of complete data). */
  endPosition: number;
  batchBytesMax: number;
  verifyCrc: boolean;
  /** Bytes read at a time; a batch larger than this is read whole when its CRC is checked. */
  chunkBytes: number;
  /** Return false to stop after this batch. */
  onBatch: (header: BatchHeader, position: number, sizeBytes: number) => boolean;
}

export interface ScanResult {
  /** Position after the last good batch visited. */
  endPosition: number;
  /** Why the scan stopped before endPosition (torn or corrupt batch), if it did. */
  problem?: string;
}

class FileWindow {
  bytes = new Uint8Array(0);
  view = dataViewOf(this.bytes);
  start = 0;
  length = 0;

  constructor(
    private readonly fd: number,
    private readonly path: string,
  ) {}

  covers(position: number, bytes: number): boolean {
    return position >= this.start && position + bytes <= this.start + this.length;
  }

  load(position: number, bytes: number): void {
    if (this.bytes.length < bytes) {
      this.bytes = new Uint8Array(bytes);
      this.view = dataViewOf(this.bytes);
    }
    let filled = 0;
    while (filled < bytes) {
      const got = readSync(this.fd, this.bytes, filled, bytes - filled, position + filled);
      if (got === 0) throw new Error(`${this.path}: unexpected end of file at ${position + filled}`);
      filled += got;
    }
    this.start = position;
    this.length = bytes;
  }
}

export function scanBatches(options: ScanOptions): ScanResult {
  const window = new FileWindow(options.fd, options.path);
  let position = options.startPosition;
  while (position < options.endPosition) {
    const available = options.endPosition - position;
    if (available < batchHeaderBytes) return { endPosition: position, problem: `torn header: ${available} bytes left` };
    if (!window.covers(position, batchHeaderBytes)) window.load(position, Math.min(options.chunkBytes, available));
    const header = readBatchHeader(window.view, position - window.start);
    const problem = headerProblem(header, available, options.batchBytesMax);
    if (problem !== undefined) return { endPosition: position, problem };
    const sizeBytes = batchLengthPrefixBytes + header.batchLength;
    if (options.verifyCrc) {
      if (!window.covers(position, sizeBytes))
        window.load(position, Math.min(Math.max(options.chunkBytes, sizeBytes), available));
      if (!verifyBatch(window.bytes, position - window.start, sizeBytes)) {
        return { endPosition: position, problem: `CRC mismatch in batch at ${position}` };
      }
    }
    const keepGoing = options.onBatch(header, position, sizeBytes);
    position += sizeBytes;
    if (!keepGoing) break;
  }
  return { endPosition: position };
}

/** Reads `length` bytes at `position` into a new buffer (a copy the file can no longer change). */
export function readExactly(fd: number, path: string, position: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const got = readSync(fd, bytes, filled, length - filled, position + filled);
    if (got === 0) throw new Error(`${path}: unexpected end of file at ${position + filled}, wanted ${length} bytes`);
    filled += got;
  }
  return bytes;
}
