import { BatchBuilder, batchHeaderBytes, recordHeaderBytes } from "../broker-protocol/record-batch.ts";

/** What the broker said about one appended batch. */
export interface BatchAck {
  topic: string;
  partition: number;
  baseOffset: number;
  lastOffset: number;
  /** True when the broker had appended this batch already (a retry after a lost answer). */
  duplicate: boolean;
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

export function deferred<T>(): Deferred<T> {
  const { promise, resolve, reject } = Promise.withResolvers<T>();
  // A caller may never await a batch's ack: failures surface through flush() instead.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** Records bound for one partition, sent together as one batch. */
export interface PendingBatch {
  partition: number;
  /** The records, encoded as they were added; header and CRC are written on first send. */
  builder: BatchBuilder;
  /** Encoded record bytes, also what the batch holds of the producer's buffer. */
  bytes: number;
  ack: Deferred<BatchAck>;
  createdMs: number;
  /** Set on first send and kept for every retry, so the broker can spot the duplicate. */
  encoded: Uint8Array | undefined;
  sequence: number;
  /** The producer id the batch was encoded with (sequences are per id). */
  producerId: number;
  attempts: number;
  /** The last attempt may have reached the broker (network error, timeout). */
  ambiguous: boolean;
}

/** A partition's queue: one open batch collecting records, then sealed batches in order. */
export interface PartitionQueue {
  open: PendingBatch | undefined;
  sealed: PendingBatch[];
  inFlight: boolean;
  retryAtMs: number;
  nextSequence: number;
}

/** A batch's first buffer: most linger-sealed batches fit, and a partition with few records pins little. */
const openBufferBytesInitial = 64 * 1024;

/** Idle buffers kept per size: at 512 KiB batches, 8 MiB that spare steady producing its allocations. */
const buffersPooledMax = 16;

/** Bytes a record takes in a batch beyond its key and value bytes (its header). */
export const recordOverheadBytes = recordHeaderBytes;

/**
 * Per-partition batching by bytes. Records are encoded into the open batch's
 * buffer as they are added; a batch seals when the next record does not fit in
 * `batchBytesMax` record bytes, or when the producer seals it (linger, flush).
 * A batch starts in a small buffer (many partitions, few records each, must not
 * pin a full buffer apiece) and moves to a full-size one when it outgrows it.
 * Buffers of both sizes are reused, so steady producing allocates (and
 * page-faults) almost nothing per batch.
 */
export class RecordAccumulator {
  readonly queues: PartitionQueue[];
  private readonly bufferBytes: number;
  private readonly bufferBytesInitial: number;
  /** Idle buffers of each size, at most `buffersPooledMax` each. */
  private readonly poolFull: Uint8Array[] = [];
  private readonly poolInitial: Uint8Array[] = [];

  constructor(
    partitionCount: number,
    batchBytesMax: number,
    /** Read only when a batch opens (for its delivery deadline), not per record. */
    private readonly clock: () => number,
  ) {
    if (partitionCount < 1) throw new Error(`partitionCount must be positive, got ${partitionCount}`);
    this.bufferBytes = batchHeaderBytes + batchBytesMax;
    this.bufferBytesInitial = Math.min(this.bufferBytes, openBufferBytesInitial);
    this.queues = Array.from({ length: partitionCount }, () => ({
      open: undefined,
      sealed: [],
      inFlight: false,
      retryAtMs: 0,
      nextSequence: 0,
    }));
  }

  /**
   * Encodes the record into its partition's open batch (sealing a full one first)
   * and returns that batch with the bytes the record took, or undefined when the
   * record does not fit even in an empty batch.
   */
  add(partition: number, key: Uint8Array, value: Uint8Array | string, timestampMs: number): PendingBatch | undefined {
    const queue = this.queues[partition];
    if (queue === undefined) throw new Error(`partition ${partition} outside 0..${this.queues.length - 1}`);
    let batch = queue.open;
    if (batch !== undefined) {
      if (this.append(batch, key, value, timestampMs)) return batch;
      this.seal(queue);
    }
    batch = this.newBatch(partition);
    if (!this.append(batch, key, value, timestampMs)) {
      this.recycle(batch.builder.buffer);
      return undefined;
    }
    queue.open = batch;
    return batch;
  }

  /** Appends to the batch, moving it to a full-size buffer first if it needs one. */
  private append(batch: PendingBatch, key: Uint8Array, value: Uint8Array | string, timestampMs: number): boolean {
    let bytes = batch.builder.tryAppend(key, value, timestampMs);
    if (bytes < 0 && batch.builder.buffer.length < this.bufferBytes) {
      const small = batch.builder.buffer;
      batch.builder = batch.builder.copyTo(this.poolFull.pop() ?? new Uint8Array(this.bufferBytes));
      this.recycle(small);
      bytes = batch.builder.tryAppend(key, value, timestampMs);
    }
    if (bytes < 0) return false;
    batch.bytes += bytes;
    return true;
  }

  /** Seals every open batch; returns how many were sealed. */
  sealAll(): number {
    let sealedCount = 0;
    for (const queue of this.queues) {
      if (queue.open === undefined) continue;
      this.seal(queue);
      sealedCount += 1;
    }
    return sealedCount;
  }

  /** Every batch not yet acknowledged or failed. */
  pendingBatches(): PendingBatch[] {
    const batches: PendingBatch[] = [];
    for (const queue of this.queues) {
      batches.push(...queue.sealed);
      if (queue.open !== undefined) batches.push(queue.open);
    }
    return batches;
  }

  /** The batch is done (acknowledged or failed): its buffer may serve a new batch. */
  release(batch: PendingBatch): void {
    this.recycle(batch.builder.buffer);
    batch.encoded = undefined;
  }

  /**
   * Seals the partition's open batch. A batch that must wait behind another
   * (flush while its partition is busy) and uses under half of its buffer moves to
   * an exact-size copy, so waiting batches pin at most twice their bytes.
   */
  seal(queue: PartitionQueue): void {
    const batch = queue.open;
    if (batch === undefined) throw new Error("seal: the partition has no open batch");
    queue.open = undefined;
    const builder = batch.builder;
    const waits = queue.inFlight || queue.sealed.length > 0;
    if (waits && builder.sizeBytes < builder.buffer.length / 2) {
      batch.builder = builder.copyTo(new Uint8Array(builder.sizeBytes));
      this.recycle(builder.buffer);
    }
    queue.sealed.push(batch);
  }

  private recycle(buffer: Uint8Array): void {
    const pool =
      buffer.length === this.bufferBytes
        ? this.poolFull
        : buffer.length === this.bufferBytesInitial
          ? this.poolInitial
          : undefined;
    if (pool !== undefined && pool.length < buffersPooledMax) pool.push(buffer);
  }

  /** A pooled full-size buffer when there is one (steady high rate), else a small one. */
  private takeBuffer(): Uint8Array {
    return this.poolFull.pop() ?? this.poolInitial.pop() ?? new Uint8Array(this.bufferBytesInitial);
  }

  private newBatch(partition: number): PendingBatch {
    const buffer = this.takeBuffer();
    return {
      partition,
      builder: new BatchBuilder(buffer),
      bytes: 0,
      ack: deferred<BatchAck>(),
      createdMs: this.clock(),
      encoded: undefined,
      sequence: -1,
      producerId: -1,
      attempts: 0,
      ambiguous: false,
    };
  }
}
