import { existsSync, readFileSync } from "node:fs";
import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { type BatchHeader, producerIdNone, sequenceMax } from "../../src/broker-protocol/record-batch.ts";
import { writeFileAtomic } from "../files/atomic-file.ts";
import { OutOfOrderSequenceError } from "./errors.ts";

/**
 * Idempotent producers, per partition: for each producer id the last few batches
 * it appended (sequence range → offsets). A batch that repeats one of them is a
 * retry and gets the original offsets back without being stored again; a batch
 * that does not continue the sequence is refused with OutOfOrderSequenceError.
 *
 * Rebuilt on start from a snapshot (written atomically with each checkpoint) plus
 * the batch headers after the snapshot's offset, so idempotence survives restarts.
 */

/** Batches remembered per producer, as Kafka does: a producer has at most this many in flight. */
export const producerBatchesCachedMax = 5;

const CachedBatch = Type.Tuple([
  Type.Integer({ description: "firstSequence" }),
  Type.Integer({ description: "lastSequence" }),
  Type.Integer({ description: "baseOffset" }),
  Type.Integer({ description: "lastOffset" }),
]);
type CachedBatch = Static<typeof CachedBatch>;

const ProducerSnapshot = Type.Object({
  /** The log's next offset when the snapshot was taken: replay headers from here. */
  offset: Type.Integer({ minimum: 0 }),
  producers: Type.Array(Type.Tuple([Type.Integer({ minimum: 0 }), Type.Array(CachedBatch)])),
});
type ProducerSnapshot = Static<typeof ProducerSnapshot>;

export interface BatchSequence {
  producerId: number;
  baseSequence: number;
  recordCount: number;
}

export type SequenceCheck = { kind: "new" } | { kind: "duplicate"; baseOffset: number; lastOffset: number };

export function lastSequenceOf(batch: BatchSequence): number {
  const last = batch.baseSequence + batch.recordCount - 1;
  return last > sequenceMax ? last - sequenceMax - 1 : last;
}

function nextSequence(sequence: number): number {
  return sequence === sequenceMax ? 0 : sequence + 1;
}

export class ProducerState {
  /** Map order is recency order: the first entry is the least recently used producer. */
  private readonly producers = new Map<number, CachedBatch[]>();

  constructor(private readonly producerIdsMax: number) {}

  get producerCount(): number {
    return this.producers.size;
  }

  /**
   * Classifies the batches of one append, in order, as new or duplicate; throws
   * OutOfOrderSequenceError at the first gap. Changes nothing.
   */
  check(batches: readonly BatchSequence[]): SequenceCheck[] {
    const pendingLast = new Map<number, number>();
    return batches.map((batch) => {
      if (batch.producerId === producerIdNone) return { kind: "new" } as const;
      const cached = this.producers.get(batch.producerId);
      const lastSequence = lastSequenceOf(batch);
      const duplicate = cached?.find((entry) => entry[0] === batch.baseSequence && entry[1] === lastSequence);
      if (duplicate !== undefined && !pendingLast.has(batch.producerId)) {
        return { kind: "duplicate", baseOffset: duplicate[2], lastOffset: duplicate[3] } as const;
      }
      const previous = pendingLast.get(batch.producerId) ?? cached?.at(-1)?.[1];
      if (previous !== undefined && batch.baseSequence !== nextSequence(previous)) {
        throw new OutOfOrderSequenceError(batch.producerId, nextSequence(previous), batch.baseSequence);
      }
      pendingLast.set(batch.producerId, lastSequence);
      return { kind: "new" } as const;
    });
  }

  /** Records an appended batch (no checks: used by append after check, and by replay). */
  record(batch: BatchSequence & { baseOffset: number; lastOffset: number }): void {
    if (batch.producerId === producerIdNone) return;
    const cached = this.producers.get(batch.producerId) ?? [];
    this.producers.delete(batch.producerId);
    cached.push([batch.baseSequence, lastSequenceOf(batch), batch.baseOffset, batch.lastOffset]);
    if (cached.length > producerBatchesCachedMax) cached.shift();
    this.producers.set(batch.producerId, cached);
    if (this.producers.size > this.producerIdsMax) {
      const oldest = this.producers.keys().next().value;
      if (oldest !== undefined) this.producers.delete(oldest);
    }
  }

  recordHeader(header: BatchHeader): void {
    this.record({
      producerId: header.producerId,
      baseSequence: header.baseSequence,
      recordCount: header.recordCount,
      baseOffset: header.baseOffset,
      lastOffset: header.baseOffset + header.lastOffsetDelta,
    });
  }

  /** Last sequence stored for a producer (for the server's producer API and tests). */
  lastSequence(producerId: number): number | undefined {
    return this.producers.get(producerId)?.at(-1)?.[1];
  }

  /** The snapshot's file content, taken now (the write may finish later). */
  snapshotText(offset: number): string {
    const snapshot: ProducerSnapshot = { offset, producers: [...this.producers.entries()] };
    return JSON.stringify(snapshot);
  }

  writeSnapshot(path: string, offset: number): void {
    writeFileAtomic(path, this.snapshotText(offset));
  }

  /**
   * Loads a snapshot; returns its offset, or undefined when there is none or it is
   * unreadable (the caller then replays the whole log).
   */
  loadSnapshot(path: string): { offset: number } | { problem: string } {
    if (!existsSync(path)) return { problem: "no snapshot" };
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, "utf8"));
    } catch (error) {
      return { problem: `unparsable snapshot ${path}: ${(error as Error).message}` };
    }
    if (!Value.Check(ProducerSnapshot, parsed)) return { problem: `snapshot ${path} does not match its schema` };
    this.producers.clear();
    for (const [producerId, batches] of parsed.producers) this.producers.set(producerId, batches);
    return { offset: parsed.offset };
  }

  clear(): void {
    this.producers.clear();
  }
}
