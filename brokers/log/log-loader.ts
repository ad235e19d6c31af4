import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  unlinkSync,
} from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { isTemporaryFile } from "../files/atomic-file.ts";
import { scanBatches } from "./batch-scanner.ts";
import { parseSegmentFileName, producerStateFileName, Suffix, segmentFilePath } from "./file-names.ts";
import type { LogConfig } from "./log-config.ts";
import { OffsetIndex } from "./offset-index.ts";
import { ProducerState } from "./producer-state.ts";
import { RecoveryPointFile } from "./recovery-point-file.ts";
import { Segment } from "./segment.ts";
import { TimeIndex } from "./time-index.ts";

/**
 * Recovery, run before the live PartitionLog exists (as Kafka's LogLoader): the
 * partition object is built from what this returns and its append path never
 * looks for crash debris.
 *
 * 1. Delete leftover *.deleted and *.tmp files and index files without a .log.
 * 2. Segments before the one holding the recovery point were fsynced when they
 *    rolled: trust them, map their indexes (rebuild an index that fails its checks).
 * 3. From the segment holding the recovery point to the end: re-read every batch,
 *    check header sanity, offset continuity and CRC; truncate at the first bad
 *    byte and drop every later segment; rebuild these segments' indexes.
 * 4. Rebuild producer state: snapshot + batch headers after it (or all headers).
 */

const recoveryChunkBytes = 1024 * 1024;
const headerChunkBytes = 4096;

export interface LoadOptions {
  dir: string;
  config: LogConfig;
  /** Load time on the broker's clock (caps the active segment's roll timestamp). */
  nowMs: number;
  logger?: Logger;
}

export interface LoadedLog {
  /** Sorted by base offset, never empty; the last one is active. */
  segments: Segment[];
  recoveryPoint: number;
  producerState: ProducerState;
  /** Bytes cut from the tail (torn or corrupt batches plus dropped later segments). */
  truncatedBytes: number;
}

export function loadLog(options: LoadOptions): LoadedLog {
  const { dir, config } = options;
  mkdirSync(dir, { recursive: true });
  const baseOffsets = cleanDirectory(dir);
  const recoveryPoint = new RecoveryPointFile(dir).read(options.logger);
  if (baseOffsets.length === 0) baseOffsets.push(0);
  const firstToRecover = firstSegmentToRecover(baseOffsets, recoveryPoint);
  const segments: Segment[] = [];
  let truncatedBytes = 0;
  for (let index = 0; index < baseOffsets.length; index++) {
    const baseOffset = baseOffsets[index]!;
    const isLast = index === baseOffsets.length - 1;
    const nextBase = isLast ? undefined : baseOffsets[index + 1]!;
    const trusted = index < firstToRecover ? openTrustedSegment(dir, baseOffset, nextBase, config) : undefined;
    if (trusted !== undefined) {
      segments.push(trusted);
      continue;
    }
    const expectedBase = segments.at(-1)?.nextOffset ?? baseOffset;
    const recovered = recoverSegment({ dir, baseOffset, expectedBase, config, logger: options.logger });
    truncatedBytes += recovered.truncatedBytes;
    const cutHere =
      recovered.truncatedBytes > 0 || (nextBase !== undefined && recovered.segment.nextOffset !== nextBase);
    if (cutHere || isLast) {
      truncatedBytes += deleteSegmentsFrom(dir, baseOffsets.slice(index + 1), options.logger);
      recovered.segment.capRollTimestamp(options.nowMs);
      segments.push(activate(recovered.segment, dir, config));
      break;
    }
    recovered.segment.sealSync();
    segments.push(recovered.segment);
  }
  const producerState = rebuildProducerState(dir, segments, config, options.logger);
  const report = {
    dir,
    segmentCount: segments.length,
    recoveredSegmentCount: segments.length - Math.min(firstToRecover, segments.length),
    recoveryPoint,
    nextOffset: segments.at(-1)!.nextOffset,
    truncatedBytes,
  };
  if (truncatedBytes > 0) options.logger?.warn(report, "recovery truncated the log tail");
  else options.logger?.info(report, "log loaded");
  return { segments, recoveryPoint, producerState, truncatedBytes };
}

/** Removes crash debris; returns the base offsets of the .log files, sorted. */
function cleanDirectory(dir: string): number[] {
  const names = readdirSync(dir);
  const logs = new Set<number>();
  for (const name of names) {
    if (name.endsWith(Suffix.deleted) || isTemporaryFile(name)) unlinkSync(join(dir, name));
    const base = parseSegmentFileName(name, Suffix.log);
    if (base !== undefined) logs.add(base);
  }
  for (const name of names) {
    const base = parseSegmentFileName(name, Suffix.index) ?? parseSegmentFileName(name, Suffix.timeIndex);
    if (base !== undefined && !logs.has(base)) unlinkSync(join(dir, name));
  }
  return [...logs].sort((a, b) => a - b);
}

/** Index of the last segment whose base is <= recoveryPoint (recover from there on). */
function firstSegmentToRecover(baseOffsets: readonly number[], recoveryPoint: number): number {
  let first = 0;
  for (let index = 0; index < baseOffsets.length; index++) if (baseOffsets[index]! <= recoveryPoint) first = index;
  return first;
}

/** A sealed segment before the recovery point, or undefined when its indexes fail their checks. */
function openTrustedSegment(
  dir: string,
  baseOffset: number,
  nextBase: number | undefined,
  config: LogConfig,
): Segment | undefined {
  if (nextBase === undefined) return undefined;
  const offsetIndex = OffsetIndex.openSealed(
    segmentFilePath(dir, baseOffset, Suffix.index),
    baseOffset,
    config.indexBytesMax,
  );
  if (typeof offsetIndex === "string") return undefined;
  const timeIndex = TimeIndex.openSealed(
    segmentFilePath(dir, baseOffset, Suffix.timeIndex),
    baseOffset,
    config.indexBytesMax,
  );
  if (typeof timeIndex === "string") return releaseAll(offsetIndex);
  const fd = openSync(segmentFilePath(dir, baseOffset, Suffix.log), "r+");
  const sizeBytes = fstatSync(fd).size;
  const lastTime = timeIndex.lastEntry();
  const lastPosition = offsetIndex.lastEntry();
  const sane =
    sizeBytes > 0 &&
    lastTime !== undefined &&
    lastTime.offset < nextBase &&
    (lastPosition?.offset ?? baseOffset) < nextBase &&
    (lastPosition?.position ?? 0) < sizeBytes;
  if (!sane) {
    closeSync(fd);
    return releaseAll(offsetIndex, timeIndex);
  }
  return new Segment({
    baseOffset,
    dir,
    fd,
    offsetIndex,
    timeIndex,
    sizeBytes,
    nextOffset: nextBase,
    maxTimestampMs: lastTime.timestampMs,
    rollTimestampMs: lastTime.timestampMs,
    offsetOfMaxTimestamp: lastTime.offset,
    bytesSinceIndexEntry: 0,
  });
}

function releaseAll(...indexes: Array<OffsetIndex | TimeIndex>): undefined {
  for (const index of indexes) index.release();
  return undefined;
}

interface RecoverOptions {
  dir: string;
  baseOffset: number;
  /** The offset the first batch must carry (the previous segment's next offset). */
  expectedBase: number;
  config: LogConfig;
  logger: Logger | undefined;
}

/** Re-reads a segment, truncating at the first bad batch; its indexes are rebuilt (active state). */
function recoverSegment(options: RecoverOptions): { segment: Segment; truncatedBytes: number } {
  const { dir, baseOffset, config } = options;
  if (options.expectedBase !== baseOffset) {
    throw new Error(`segment ${baseOffset} in ${dir} follows a segment ending at ${options.expectedBase}`);
  }
  const logPath = segmentFilePath(dir, baseOffset, Suffix.log);
  const fd = openSync(logPath, constants.O_RDWR | constants.O_CREAT, 0o644);
  const fileBytes = fstatSync(fd).size;
  const segment = Segment.withFreshIndexes(dir, baseOffset, fd, config);
  let discontinuity: string | undefined;
  const result = scanBatches({
    fd,
    path: logPath,
    startPosition: 0,
    endPosition: fileBytes,
    batchBytesMax: config.batchBytesMax,
    verifyCrc: true,
    chunkBytes: Math.max(recoveryChunkBytes, config.batchBytesMax),
    onBatch: (header, position, sizeBytes) => {
      if (header.baseOffset !== segment.nextOffset) {
        discontinuity = `batch at ${position} has base offset ${header.baseOffset}, expected ${segment.nextOffset}`;
        return false;
      }
      const lastOffset = header.baseOffset + header.lastOffsetDelta;
      segment.indexBatch(
        { position, sizeBytes, baseOffset: header.baseOffset, lastOffset, maxTimestampMs: header.maxTimestampMs },
        config.indexIntervalBytes,
      );
      return true;
    },
  });
  const validBytes = discontinuity === undefined ? result.endPosition : segment.sizeBytes;
  const problem = discontinuity ?? result.problem;
  if (validBytes < fileBytes) {
    options.logger?.warn(
      { path: logPath, validBytes, cutBytes: fileBytes - validBytes, problem },
      "truncating log segment",
    );
    ftruncateSync(fd, validBytes);
    fsyncSync(fd);
  }
  if (segment.sizeBytes !== validBytes) {
    throw new Error(`recovered ${logPath}: indexed ${segment.sizeBytes} bytes but kept ${validBytes}`);
  }
  segment.offsetIndex.writeNewEntries();
  segment.timeIndex.writeNewEntries();
  return { segment, truncatedBytes: fileBytes - validBytes };
}

/** The last segment stays active; its log is fsynced so the recovered state is durable. */
function activate(segment: Segment, dir: string, config: LogConfig): Segment {
  if (segment.isSealed)
    throw new Error(`segment ${segment.logPath} sealed before activation in ${dir} (${config.flush})`);
  segment.flushSync();
  return segment;
}

function deleteSegmentsFrom(dir: string, baseOffsets: readonly number[], logger: Logger | undefined): number {
  let deletedBytes = 0;
  for (const baseOffset of baseOffsets) {
    for (const suffix of [Suffix.log, Suffix.index, Suffix.timeIndex]) {
      const path = segmentFilePath(dir, baseOffset, suffix);
      if (!existsSync(path)) continue;
      if (suffix === Suffix.log) deletedBytes += fileSize(path);
      unlinkSync(path);
    }
    logger?.warn({ dir, baseOffset }, "dropped segment after a truncated one");
  }
  return deletedBytes;
}

function fileSize(path: string): number {
  const fd = openSync(path, "r");
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}

function rebuildProducerState(
  dir: string,
  segments: readonly Segment[],
  config: LogConfig,
  logger: Logger | undefined,
): ProducerState {
  const state = new ProducerState(config.producerIdsMax);
  const logStartOffset = segments[0]!.baseOffset;
  const nextOffset = segments.at(-1)!.nextOffset;
  const loaded = state.loadSnapshot(join(dir, producerStateFileName));
  let fromOffset = logStartOffset;
  if ("offset" in loaded && loaded.offset >= logStartOffset && loaded.offset <= nextOffset) {
    fromOffset = loaded.offset;
  } else {
    if ("offset" in loaded)
      logger?.warn(
        { dir, snapshotOffset: loaded.offset, nextOffset },
        "producer snapshot outside the log, replaying all",
      );
    state.clear();
  }
  for (const segment of segments) {
    if (segment.nextOffset <= fromOffset) continue;
    const start = segment.offsetIndex.lookup(Math.max(fromOffset, segment.baseOffset));
    scanBatches({
      fd: segment.fileDescriptor,
      path: segment.logPath,
      startPosition: start.position,
      endPosition: segment.sizeBytes,
      batchBytesMax: config.batchBytesMax,
      verifyCrc: false,
      chunkBytes: headerChunkBytes,
      onBatch: (header) => {
        if (header.baseOffset >= fromOffset) state.recordHeader(header);
        return true;
      },
    });
  }
  return state;
}
