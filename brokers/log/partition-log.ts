import { join } from "node:path";
import type { Logger } from "pino";
import {
  type BatchView,
  CorruptBatchError,
  headerProblem,
  stampBaseOffset,
  validateBatches,
} from "../../src/broker-protocol/record-batch.ts";
import { fsyncDirectory, writeFileAtomic, writeFileAtomicAsync } from "../files/atomic-file.ts";
import { AppendWaiters } from "./append-waiters.ts";
import { BatchTooLargeError, isDiskFull, LogClosedError, OffsetOutOfRangeError } from "./errors.ts";
import { producerStateFileName } from "./file-names.ts";
import type { AppendResult, Clock, PartitionLogApi, PartitionLogInfo, ReadResult } from "./log-api.ts";
import type { LogConfig } from "./log-config.ts";
import { loadLog } from "./log-loader.ts";
import type { ProducerState, SequenceCheck } from "./producer-state.ts";
import { RecoveryPointFile } from "./recovery-point-file.ts";
import { expiredSegmentCount } from "./retention.ts";
import { type AppendedBatch, Segment } from "./segment.ts";

export interface PartitionLogOptions {
  topic: string;
  partition: number;
  dir: string;
  config: LogConfig;
  clock: Clock;
  logger?: Logger;
}

interface DurableWaiter {
  offset: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * The live log of one partition: the ordered segments, the append path (validate,
 * deduplicate, stamp offsets, one write), reads, durability (group commit),
 * checkpoints and retention. Built from the result of loadLog (recovery first).
 */
export class PartitionLog implements PartitionLogApi {
  readonly topic: string;
  readonly partition: number;
  readonly dir: string;
  private readonly config: LogConfig;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly segments: Segment[];
  private readonly producerState: ProducerState;
  private readonly appendWaiters: AppendWaiters;
  private readonly durableWaiters: DurableWaiter[] = [];
  /** Every offset below this is fsynced. */
  private flushedOffset: number;
  private flushInFlight: Promise<void> | undefined;
  /** fsyncs of rolled segments still running. */
  private readonly pendingSeals = new Set<Promise<void>>();
  private readonly recoveryPointFile: RecoveryPointFile;
  private checkpointedSnapshotOffset = -1;
  private readonly pendingDeletes = new Map<ReturnType<typeof setTimeout>, () => void>();
  private failure: Error | undefined;
  private fsyncs = 0;
  private checkpointInFlight: Promise<void> | undefined;
  private closed = false;

  private constructor(options: PartitionLogOptions, loaded: ReturnType<typeof loadLog>) {
    this.topic = options.topic;
    this.partition = options.partition;
    this.dir = options.dir;
    this.config = options.config;
    this.clock = options.clock;
    this.logger = options.logger;
    this.segments = loaded.segments;
    this.producerState = loaded.producerState;
    this.flushedOffset = this.highWatermark;
    // Not written by this process yet: the first checkpoint (at open) writes it.
    this.recoveryPointFile = new RecoveryPointFile(options.dir);
    this.appendWaiters = new AppendWaiters(options.config.appendWaitersMax);
  }

  /** Recovers the partition directory, then returns the live log. */
  static open(options: PartitionLogOptions): PartitionLog {
    const loaded = loadLog({
      dir: options.dir,
      config: options.config,
      nowMs: options.clock.nowMs(),
      logger: options.logger,
    });
    const log = new PartitionLog(options, loaded);
    log.checkpointWhereSpaceAllows();
    return log;
  }

  get logStartOffset(): number {
    return this.segments[0]!.baseOffset;
  }

  get highWatermark(): number {
    return this.activeSegment.nextOffset;
  }

  get sizeBytes(): number {
    let total = 0;
    for (const segment of this.segments) total += segment.sizeBytes;
    return total;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Base offsets of the segments, oldest first (tests and the admin API). */
  segmentBaseOffsets(): number[] {
    return this.segments.map((segment) => segment.baseOffset);
  }

  /** fsyncs of the log started by group commit or flush (one may cover many appends). */
  get fsyncCount(): number {
    return this.fsyncs;
  }

  lastSequence(producerId: number): number | undefined {
    return this.producerState.lastSequence(producerId);
  }

  private get activeSegment(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  info(): PartitionLogInfo {
    return {
      topic: this.topic,
      partition: this.partition,
      logStartOffset: this.logStartOffset,
      highWatermark: this.highWatermark,
      sizeBytes: this.sizeBytes,
      segmentCount: this.segments.length,
    };
  }

  async append(bytes: Uint8Array, verified?: readonly BatchView[]): Promise<AppendResult> {
    this.assertWritable();
    if (bytes.length > this.config.appendBytesMax) {
      throw new BatchTooLargeError(
        `append of ${bytes.length} bytes above appendBytesMax ${this.config.appendBytesMax}`,
      );
    }
    const limits = { batchBytesMax: this.config.batchBytesMax, batchesMax: this.config.appendBatchesMax };
    const batches = verified === undefined ? validateBatches(bytes, limits) : checkVerified(bytes, verified, limits);
    if (batches.length === 0) throw new CorruptBatchError("append without batches");
    const checks = this.producerState.check(batches.map((batch) => batch.header));
    const duplicate = duplicateResult(checks);
    if (duplicate !== undefined) {
      await this.waitDurable(duplicate.lastOffset);
      return duplicate;
    }
    const result = this.appendNew(bytes, batches);
    this.appendWaiters.notify(this.highWatermark);
    await this.waitDurable(result.lastOffset);
    return result;
  }

  private appendNew(bytes: Uint8Array, batches: readonly BatchView[]): AppendResult {
    let nextOffset = this.highWatermark;
    const appended: AppendedBatch[] = batches.map((batch) => {
      const baseOffset = nextOffset;
      nextOffset += batch.header.recordCount;
      stampBaseOffset(bytes, batch.position, baseOffset);
      return {
        position: batch.position,
        sizeBytes: batch.sizeBytes,
        baseOffset,
        lastOffset: nextOffset - 1,
        maxTimestampMs: batch.header.maxTimestampMs,
      };
    });
    const nowMs = this.clock.nowMs();
    this.maybeRoll({ appendBytes: bytes.length, lastOffset: nextOffset - 1, nowMs });
    this.activeSegment.append(bytes, appended, { indexIntervalBytes: this.config.indexIntervalBytes, nowMs });
    batches.forEach((batch, index) => {
      const offsets = appended[index]!;
      this.producerState.record({ ...batch.header, baseOffset: offsets.baseOffset, lastOffset: offsets.lastOffset });
    });
    return { baseOffset: appended[0]!.baseOffset, lastOffset: nextOffset - 1, duplicate: false };
  }

  private maybeRoll(options: { appendBytes: number; lastOffset: number; nowMs: number }): void {
    const active = this.activeSegment;
    const reason = active.needsRoll({ ...options, config: this.config });
    if (reason === undefined) return;
    // The rolled log is fsynced in the background; the recovery point passes it
    // once that fsync (and any earlier roll's) is done.
    const rollOffset = active.nextOffset;
    // The next segment exists before the active one seals: either can fail on a full
    // disk, and then nothing has changed (the active segment goes on, unsealed).
    const next = Segment.create(this.dir, active.nextOffset, this.config);
    let sealing: Promise<void>;
    try {
      sealing = active.seal();
    } catch (error) {
      next.discardEmpty();
      throw error;
    }
    const sealed = Promise.all([sealing, ...this.pendingSeals]).then(() => undefined);
    this.pendingSeals.add(sealed);
    sealed
      .then(() => {
        this.flushedOffset = Math.max(this.flushedOffset, rollOffset);
      })
      .catch((error: Error) => this.fail(error))
      .finally(() => this.pendingSeals.delete(sealed));
    this.segments.push(next);
    // The new file's directory entry must be durable before any fsync of its data counts.
    fsyncDirectory(this.dir);
    this.logger?.info(
      { topic: this.topic, partition: this.partition, reason, baseOffset: active.nextOffset },
      "rolled segment",
    );
  }

  /** Resolves once `offset` is durable per the flush policy (only `always` waits). */
  private waitDurable(offset: number): Promise<void> {
    if (this.config.flush !== "always" || offset < this.flushedOffset) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.durableWaiters.push({ offset, resolve, reject });
      this.startFlush();
    });
  }

  /**
   * Group commit: one fsync covers every append written before it started; appends
   * arriving meanwhile wait for the next fsync, which starts when this one ends.
   */
  private startFlush(): void {
    if (this.flushInFlight !== undefined) return;
    const target = this.highWatermark;
    this.fsyncs++;
    this.flushInFlight = Promise.all([this.activeSegment.flushAsync(), ...this.pendingSeals])
      .then(() => {
        this.flushedOffset = Math.max(this.flushedOffset, target);
        this.settleDurableWaiters();
      })
      .catch((error: Error) => this.fail(error))
      .finally(() => {
        this.flushInFlight = undefined;
        if (this.durableWaiters.length > 0 && this.failure === undefined) this.startFlush();
      });
  }

  private settleDurableWaiters(): void {
    let kept = 0;
    for (const waiter of this.durableWaiters) {
      if (waiter.offset < this.flushedOffset) waiter.resolve();
      else this.durableWaiters[kept++] = waiter;
    }
    this.durableWaiters.length = kept;
  }

  /** An fsync failed: the page cache may have dropped data, so stop accepting writes (as Kafka halts). */
  private fail(error: Error): void {
    this.failure = error;
    this.logger?.error({ err: error, topic: this.topic, partition: this.partition }, "fsync failed, partition stopped");
    for (const waiter of this.durableWaiters.splice(0)) waiter.reject(error);
  }

  /** fsync what has been written (interval policy, shutdown, tests); shares the group commit. */
  async flush(): Promise<void> {
    if (this.closed || this.failure !== undefined) return;
    if (this.flushedOffset >= this.highWatermark && this.pendingSeals.size === 0) return;
    const offset = this.highWatermark - 1;
    await new Promise<void>((resolve, reject) => {
      this.durableWaiters.push({ offset, resolve, reject });
      this.startFlush();
    });
  }

  read(offset: number, maxBytes: number): ReadResult {
    if (this.closed) throw new LogClosedError(`${this.topic}-${this.partition} is closed`);
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1)
      throw new RangeError(`maxBytes ${maxBytes} must be a positive integer`);
    const highWatermark = this.highWatermark;
    const logStartOffset = this.logStartOffset;
    if (!Number.isSafeInteger(offset) || offset < logStartOffset || offset > highWatermark) {
      throw new OffsetOutOfRangeError(offset, logStartOffset, highWatermark, `${this.topic}-${this.partition}`);
    }
    if (offset === highWatermark)
      return { bytes: new Uint8Array(0), nextOffset: offset, batchCount: 0, highWatermark, logStartOffset };
    const segment = this.segments[this.segmentIndexFor(offset)]!;
    const result = segment.read(offset, Math.min(maxBytes, this.config.readBytesMax), this.config.batchBytesMax);
    if (result.batchCount === 0)
      throw new Error(`offset ${offset} below ${highWatermark} but nothing read from ${segment.logPath}`);
    return { ...result, highWatermark, logStartOffset };
  }

  /** Index of the last segment whose base offset is <= offset. */
  private segmentIndexFor(offset: number): number {
    let low = 0;
    let high = this.segments.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (this.segments[middle]!.baseOffset <= offset) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  offsetForTimestamp(timestampMs: number): number {
    for (const segment of this.segments) {
      const offset = segment.offsetForTimestamp(timestampMs, this.config.batchBytesMax);
      if (offset !== undefined) return offset;
    }
    return this.highWatermark;
  }

  waitForAppend(afterOffset: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.highWatermark > afterOffset) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return this.appendWaiters.wait(afterOffset, Math.min(timeoutMs, this.config.waitMsMax), signal);
  }

  /**
   * Writes the recovery point (everything below it is fsynced) and the producer
   * snapshot, each atomically, when they moved; in the background, one at a time.
   */
  async checkpoint(): Promise<void> {
    while (this.checkpointInFlight !== undefined) await this.checkpointInFlight.catch(() => undefined);
    if (this.closed) return;
    const pending = this.pendingCheckpoint();
    if (pending === undefined) return;
    this.checkpointInFlight = Promise.all([
      pending.recoveryPoint === undefined ? undefined : this.recoveryPointFile.write(pending.recoveryPoint),
      pending.snapshot === undefined
        ? undefined
        : writeFileAtomicAsync(join(this.dir, producerStateFileName), pending.snapshot.text),
    ])
      .then(() => this.markCheckpointed(pending))
      .finally(() => {
        this.checkpointInFlight = undefined;
      });
    await this.checkpointInFlight;
  }

  /**
   * The checkpoint at open and close. A full disk must not keep the broker from
   * starting or stopping: it only means recovery starts further back next time.
   */
  private checkpointWhereSpaceAllows(): void {
    try {
      this.checkpointSync();
    } catch (error) {
      if (!isDiskFull(error)) throw error;
      this.logger?.warn(
        { err: error, topic: this.topic, partition: this.partition },
        "checkpoint postponed: disk full",
      );
    }
  }

  /** The synchronous checkpoint, at open and close (nothing else runs then). */
  private checkpointSync(): void {
    const pending = this.pendingCheckpoint();
    if (pending === undefined) return;
    if (pending.recoveryPoint !== undefined) this.recoveryPointFile.writeSync(pending.recoveryPoint);
    if (pending.snapshot !== undefined) writeFileAtomic(join(this.dir, producerStateFileName), pending.snapshot.text);
    this.markCheckpointed(pending);
  }

  private pendingCheckpoint(): { recoveryPoint?: number; snapshot?: { offset: number; text: string } } | undefined {
    const recoveryPoint = this.recoveryPointFile.differsFrom(this.flushedOffset) ? this.flushedOffset : undefined;
    const snapshotOffset = this.highWatermark;
    const snapshot =
      snapshotOffset !== this.checkpointedSnapshotOffset
        ? { offset: snapshotOffset, text: this.producerState.snapshotText(snapshotOffset) }
        : undefined;
    if (recoveryPoint === undefined && snapshot === undefined) return undefined;
    return { recoveryPoint, snapshot };
  }

  private markCheckpointed(done: { snapshot?: { offset: number } }): void {
    if (done.snapshot !== undefined) this.checkpointedSnapshotOffset = done.snapshot.offset;
  }

  /** Deletes whole sealed segments past retention, oldest first; returns how many. */
  applyRetention(nowMs: number): number {
    if (this.closed) return 0;
    const count = expiredSegmentCount(this.segments, {
      nowMs,
      retentionMs: this.config.retentionMs,
      retentionBytes: this.config.retentionBytes,
    });
    for (const segment of this.segments.splice(0, count)) {
      const unlink = segment.markDeleted();
      const timer = setTimeout(() => {
        this.pendingDeletes.delete(timer);
        unlink();
      }, this.config.fileDeleteDelayMs);
      this.pendingDeletes.set(timer, unlink);
      this.logger?.info(
        { topic: this.topic, partition: this.partition, baseOffset: segment.baseOffset },
        "retention deleted segment",
      );
    }
    return count;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } catch (error) {
      this.logger?.error({ err: error, topic: this.topic, partition: this.partition }, "flush on close failed");
    }
    this.closed = true;
    await this.checkpointInFlight?.catch(() => undefined);
    this.appendWaiters.closeAll();
    for (const waiter of this.durableWaiters.splice(0)) waiter.reject(new LogClosedError("log closed before fsync"));
    if (this.failure === undefined) this.checkpointWhereSpaceAllows();
    for (const segment of this.segments) await segment.close();
    for (const [timer, unlink] of this.pendingDeletes) {
      clearTimeout(timer);
      unlink();
    }
    this.pendingDeletes.clear();
  }

  private assertWritable(): void {
    if (this.closed) throw new LogClosedError(`${this.topic}-${this.partition} is closed`);
    if (this.failure !== undefined)
      throw new LogClosedError(`${this.topic}-${this.partition} stopped after fsync failure: ${this.failure.message}`);
  }
}

/** The append's result when every batch is a retry; throws when retries and new batches mix. */
function duplicateResult(checks: readonly SequenceCheck[]): AppendResult | undefined {
  const first = checks[0];
  const last = checks.at(-1);
  if (first === undefined || last === undefined || first.kind !== "duplicate") {
    if (checks.some((check) => check.kind === "duplicate"))
      throw new CorruptBatchError("append mixes retried and new batches");
    return undefined;
  }
  if (last.kind !== "duplicate" || checks.some((check) => check.kind !== "duplicate")) {
    throw new CorruptBatchError("append mixes retried and new batches");
  }
  return { baseOffset: first.baseOffset, lastOffset: last.lastOffset, duplicate: true };
}

/** Batches a caller verified (CRCs, records): they must tile `bytes` exactly and pass this log's header limits. */
function checkVerified(
  bytes: Uint8Array,
  batches: readonly BatchView[],
  limits: { batchBytesMax: number; batchesMax: number },
): readonly BatchView[] {
  if (batches.length > limits.batchesMax) {
    throw new CorruptBatchError(`more than ${limits.batchesMax} batches in one append`);
  }
  let position = 0;
  for (const batch of batches) {
    if (batch.position !== position)
      throw new CorruptBatchError(`verified batch at ${batch.position}, expected ${position}`);
    const problem = headerProblem(batch.header, bytes.length - position, limits.batchBytesMax);
    if (problem !== undefined) throw new CorruptBatchError(`batch at ${position}: ${problem}`);
    position += batch.sizeBytes;
  }
  if (position !== bytes.length) throw new CorruptBatchError(`verified batches end at ${position} of ${bytes.length}`);
  return batches;
}
