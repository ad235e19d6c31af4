import { type RecordInput, recordHeaderBytes } from "./record-batch.ts";

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
  records: RecordInput[];
  /** Estimated encoded bytes, also what the batch holds of the producer's buffer. */
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

export function recordBytes(record: RecordInput): number {
  return recordHeaderBytes + record.key.length + record.value.length;
}

/**
 * Per-partition batching by bytes. `add` returns the batch the record joined; a
 * batch seals when the next record would push it over `batchBytesMax` or when the
 * producer's linger timer seals everything.
 */
export class RecordAccumulator {
  readonly queues: PartitionQueue[];

  constructor(
    partitionCount: number,
    private readonly batchBytesMax: number,
    /** Read only when a batch opens (for its delivery deadline), not per record. */
    private readonly clock: () => number,
  ) {
    if (partitionCount < 1) throw new Error(`partitionCount must be positive, got ${partitionCount}`);
    this.queues = Array.from({ length: partitionCount }, () => ({
      open: undefined,
      sealed: [],
      inFlight: false,
      retryAtMs: 0,
      nextSequence: 0,
    }));
  }

  add(partition: number, record: RecordInput, bytes: number): PendingBatch {
    const queue = this.queues[partition];
    if (queue === undefined) throw new Error(`partition ${partition} outside 0..${this.queues.length - 1}`);
    let batch = queue.open;
    if (batch !== undefined && batch.bytes + bytes > this.batchBytesMax) {
      queue.sealed.push(batch);
      batch = undefined;
    }
    if (batch === undefined) {
      batch = newBatch(partition, this.clock());
      queue.open = batch;
    }
    batch.records.push(record);
    batch.bytes += bytes;
    return batch;
  }

  /** Seals every open batch; returns how many were sealed. */
  sealAll(): number {
    let sealedCount = 0;
    for (const queue of this.queues) {
      if (queue.open === undefined) continue;
      queue.sealed.push(queue.open);
      queue.open = undefined;
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
}

function newBatch(partition: number, nowMs: number): PendingBatch {
  return {
    partition,
    records: [],
    bytes: 0,
    ack: deferred<BatchAck>(),
    createdMs: nowMs,
    encoded: undefined,
    sequence: -1,
    producerId: -1,
    attempts: 0,
    ambiguous: false,
  };
}
