import type { ProduceResponse, ProduceResult } from "../broker-protocol/api-schemas.ts";
import { binaryContentType } from "../broker-protocol/headers.ts";
import { partitionForKey } from "../broker-protocol/partitioner.ts";
import { encodeProduceFrames, framedBytes, type PartitionBatch } from "../broker-protocol/produce-frames.ts";
import {
  batchBytesLimit,
  batchHeaderBytes,
  producerIdNone,
  recordKeyBytesMax,
  sequenceMax,
} from "../broker-protocol/record-batch.ts";
import { brokerRoutes, routeRequest } from "../broker-protocol/routes.ts";
import { type BackoffOptions, backoffDelayMs, defaultBackoff } from "../runtime/backoff.ts";
import { type RetryOptions, retry } from "../runtime/retry.ts";
import { BrokerClientError, type BrokerConnection, BrokerHttp, isRetryableError } from "./http-client.ts";
import {
  type BatchAck,
  type Deferred,
  deferred,
  type PartitionQueue,
  type PendingBatch,
  RecordAccumulator,
  recordOverheadBytes,
} from "./record-accumulator.ts";
import { ensureTopicExists } from "./topic-ensure.ts";

export type { BatchAck };

export interface ProducerRecord {
  key: string;
  value: Uint8Array | string;
  /** Defaults to the producer clock's now. */
  timestampMs?: number;
}

export interface ProducerOptions extends BrokerConnection {
  topic: string;
  /** Skip the metadata request when known; must match the topic. */
  partitionCount?: number;
  /** Create the topic when it does not exist (with the broker's default partition count). */
  createTopic?: boolean;
  /** A batch seals at this many (estimated) bytes. */
  batchBytesMax?: number;
  /** An open batch waits at most this long for more records. */
  lingerMs?: number;
  /** One produce request carries at most this many bytes (must be ≤ the broker's). */
  requestBytesMax?: number;
  /** Records buffered but not acknowledged; `send` waits when full. */
  bufferBytesMax?: number;
  /** Callers waiting for buffer space; more is an error (a caller not awaiting send). */
  sendWaitersMax?: number;
  /** Produce requests in flight at once (each partition has at most one). */
  requestsInFlightMax?: number;
  /** A batch not acknowledged after this long fails. */
  deliveryTimeoutMs?: number;
  requestTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** How long `create` keeps retrying while the broker is unreachable (start-up order). */
  connectTimeoutMs?: number;
  /** Producer id + sequence numbers so a retried batch is appended once (default true). */
  idempotent?: boolean;
  clock?: () => number;
  /** Told of every batch the broker acknowledged (a duplicate retry included). */
  onAcked?: (ack: BatchAck & { records: number }) => void;
  /**
   * Told of every refused produce request or frame the producer retries (disk full,
   * slow down, shutting down, unreachable): the caller logs and counts them.
   */
  onRefused?: (refusal: ProduceRefusal) => void;
  /** Told of every batch given up for good (its records are dropped). */
  onDropped?: (drop: { partition: number; records: number; error: unknown }) => void;
}

/** A produce attempt the broker (or the network) refused; the batch is retried after `retryInMs`. */
export interface ProduceRefusal {
  partition: number;
  records: number;
  /** HTTP status, 0 for a network error or timeout. */
  status: number;
  /** The broker's error code (disk_full, slow_down, shutting_down, ...), or "network" when it was not reached. */
  code: string;
  message: string;
  attempt: number;
  retryInMs: number;
}

export class ProducerError extends Error {
  override name = "ProducerError";
}

interface SendWaiter {
  record: ProducerRecord;
  resolve: (batch: PendingBatch) => void;
  reject: (error: unknown) => void;
}

const resolvedVoid = Promise.resolve();
const failuresKeptMax = 100;
const keyCacheMax = 65_536;

/** What the producer derives from a key, once per key. */
interface KeyInfo {
  bytes: Uint8Array;
  partition: number;
}
const textEncoder = new TextEncoder();

/**
 * Batching, idempotent, back-pressured producer for one topic. Per partition one
 * request is in flight at a time and a failed batch is retried before any later
 * one is sent, so records of one key stay in order.
 */
export class Producer {
  private readonly http: BrokerHttp;
  private renewingProducerId = false;
  private readonly accumulator: RecordAccumulator;
  private readonly partitionOf: (key: string) => number;
  private readonly clock: () => number;
  private readonly limits: Required<
    Pick<
      ProducerOptions,
      | "batchBytesMax"
      | "lingerMs"
      | "requestBytesMax"
      | "bufferBytesMax"
      | "sendWaitersMax"
      | "requestsInFlightMax"
      | "deliveryTimeoutMs"
    >
  >;
  private readonly backoff: BackoffOptions;
  private bufferedBytes = 0;
  /** Records buffered or in flight, not acknowledged yet. */
  private pendingRecords = 0;
  private readonly waiters: SendWaiter[] = [];
  private requestsInFlight = 0;
  private lingerTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimerAtMs = 0;
  private producerId: number;
  private closed = false;
  private failures: unknown[] = [];
  private readonly idle = new Set<Deferred<void>>();
  private readonly keyCache = new Map<string, KeyInfo>();
  /** Reused for every produce request body; allocated on the first request. */
  private requestBody: Uint8Array | undefined;

  private constructor(
    readonly options: ProducerOptions,
    readonly partitionCount: number,
    producerId: number,
  ) {
    this.http = new BrokerHttp({
      brokerUrl: options.brokerUrl,
      token: options.token,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    });
    this.clock = options.clock ?? Date.now;
    this.limits = {
      batchBytesMax: options.batchBytesMax ?? 512 * 1024,
      lingerMs: options.lingerMs ?? 5,
      requestBytesMax: options.requestBytesMax ?? 8 * 1024 * 1024,
      bufferBytesMax: options.bufferBytesMax ?? 64 * 1024 * 1024,
      sendWaitersMax: options.sendWaitersMax ?? 10_000,
      requestsInFlightMax: options.requestsInFlightMax ?? 8,
      deliveryTimeoutMs: options.deliveryTimeoutMs ?? 120_000,
    };
    if (this.limits.batchBytesMax + batchHeaderBytes > batchBytesLimit) {
      throw new ProducerError(
        `batchBytesMax ${this.limits.batchBytesMax} plus the batch header exceeds ${batchBytesLimit}`,
      );
    }
    if (this.limits.batchBytesMax + 16 > this.limits.requestBytesMax) {
      throw new ProducerError(`batchBytesMax ${this.limits.batchBytesMax} must fit in requestBytesMax`);
    }
    this.backoff = options.backoff ?? defaultBackoff;
    this.accumulator = new RecordAccumulator(partitionCount, this.limits.batchBytesMax, this.clock);
    this.partitionOf = (key) => partitionForKey(key, partitionCount);
    this.producerId = producerId;
  }

  /** Resolves the topic's partition count (creating the topic if asked) and a producer id. */
  static async create(options: ProducerOptions): Promise<Producer> {
    const http = new BrokerHttp({ brokerUrl: options.brokerUrl, token: options.token });
    const connect: RetryOptions = {
      deadlineMs: options.connectTimeoutMs ?? 30_000,
      backoff: options.backoff ?? defaultBackoff,
      isRetryable: isRetryableError,
    };
    const partitionCount = options.partitionCount ?? (await retry(() => topicPartitionCount(http, options), connect));
    const producerId = options.idempotent === false ? producerIdNone : await retry(() => newProducerId(http), connect);
    return new Producer(options, partitionCount, producerId);
  }

  get currentProducerId(): number {
    return this.producerId;
  }

  /** Bytes buffered and not yet acknowledged. */
  get bufferedBytesNow(): number {
    return this.bufferedBytes;
  }

  /** Records handed to send() and not acknowledged (nor given up) yet: what a crash now would drop. */
  get unacknowledgedRecords(): number {
    return this.pendingRecords;
  }

  partitionForKey(key: string): number {
    return this.keyInfo(key).partition;
  }

  /**
   * Buffers a record. Resolves at once when there is room, otherwise when earlier
   * batches are acknowledged (backpressure): the record is never dropped.
   */
  send(record: ProducerRecord): Promise<void> {
    if (this.closed) return Promise.reject(new ProducerError("producer is closed"));
    if (this.waiters.length === 0 && this.tryBuffer(record) !== undefined) return resolvedVoid;
    return this.waitForRoom(record).then(() => undefined);
  }

  /** Buffers a record and resolves when its batch is acknowledged. */
  async sendAndWait(record: ProducerRecord): Promise<BatchAck> {
    if (this.closed) throw new ProducerError("producer is closed");
    const batch =
      this.waiters.length === 0
        ? (this.tryBuffer(record) ?? (await this.waitForRoom(record)))
        : await this.waitForRoom(record);
    return await batch.ack.promise;
  }

  /** Sends everything buffered and waits for it; throws the first failure since the last flush. */
  async flush(): Promise<void> {
    while (this.waiters.length > 0 || this.accumulator.pendingBatches().length > 0) {
      if (this.accumulator.sealAll() > 0) this.pump();
      const batches = this.accumulator.pendingBatches();
      await Promise.allSettled(batches.map((batch) => batch.ack.promise));
      if (batches.length === 0 && this.waiters.length > 0) await this.whenIdle();
    }
    const failures = this.failures;
    this.failures = [];
    if (failures.length > 0) {
      throw new ProducerError(`${failures.length} batch(es) failed; first: ${String(failures[0])}`, {
        cause: failures[0],
      });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      clearTimeout(this.lingerTimer);
      clearTimeout(this.retryTimer);
    }
  }

  /** Encodes the record into its partition's open batch, or returns undefined when the buffer is full. */
  private tryBuffer(record: ProducerRecord): PendingBatch | undefined {
    const key = this.keyInfo(record.key);
    const value = record.value;
    // A string's UTF-8 bytes are known only once encoded: its length is the lower bound.
    const bytes = recordOverheadBytes + key.bytes.length + value.length;
    if (bytes > this.limits.batchBytesMax) {
      throw new ProducerError(`record of ${bytes} bytes exceeds batchBytesMax ${this.limits.batchBytesMax}`);
    }
    if (key.bytes.length > recordKeyBytesMax) {
      throw new ProducerError(`key of ${key.bytes.length} bytes exceeds ${recordKeyBytesMax}`);
    }
    if (this.bufferedBytes > 0 && this.bufferedBytes + bytes > this.limits.bufferBytesMax) return undefined;
    let timestampMs = record.timestampMs ?? this.clock();
    if (!Number.isSafeInteger(timestampMs)) timestampMs = this.clock();
    const queue = this.accumulator.queues[key.partition]!;
    const sealedBefore = queue.sealed.length;
    const openBefore = queue.open;
    const bytesBefore = openBefore?.bytes ?? 0;
    const batch = this.accumulator.add(key.partition, key.bytes, value, timestampMs);
    if (batch === undefined) {
      throw new ProducerError(
        `record of more than ${this.limits.batchBytesMax} bytes once encoded exceeds batchBytesMax`,
      );
    }
    this.bufferedBytes += batch === openBefore ? batch.bytes - bytesBefore : batch.bytes;
    this.pendingRecords += 1;
    if (queue.sealed.length > sealedBefore) this.pump();
    this.lingerTimer ??= setTimeout(() => this.onLinger(), this.limits.lingerMs);
    return batch;
  }

  /** Keys repeat (GPU UUIDs): UTF-8 bytes and partition are computed once per key, in a bounded cache. */
  private keyInfo(key: string): KeyInfo {
    const cached = this.keyCache.get(key);
    if (cached !== undefined) return cached;
    if (this.keyCache.size >= keyCacheMax) this.keyCache.clear();
    const info = { bytes: textEncoder.encode(key), partition: this.partitionOf(key) };
    this.keyCache.set(key, info);
    return info;
  }

  private waitForRoom(record: ProducerRecord): Promise<PendingBatch> {
    if (this.waiters.length >= this.limits.sendWaitersMax) {
      return Promise.reject(
        new ProducerError(`${this.waiters.length} sends already waiting (sendWaitersMax): await send()`),
      );
    }
    // No sealing here: room comes back with acks, and sealing early would make tiny batches.
    return new Promise((resolve, reject) => this.waiters.push({ record, resolve, reject }));
  }

  private admitWaiters(): void {
    while (this.waiters.length > 0) {
      const waiter = this.waiters[0]!;
      let batch: PendingBatch | undefined;
      try {
        batch = this.tryBuffer(waiter.record);
      } catch (error) {
        this.waiters.shift();
        waiter.reject(error);
        continue;
      }
      if (batch === undefined) return;
      this.waiters.shift();
      waiter.resolve(batch);
    }
  }

  /**
   * Seals the open batch of every partition that could send it now. A partition
   * with a batch in flight keeps filling its open batch (bigger batches, fewer
   * requests when the broker is the bottleneck); it is sealed when that partition
   * frees up (takeReadyHeads) or by the next linger.
   */
  private onLinger(): void {
    this.lingerTimer = undefined;
    let stillOpen = false;
    for (const queue of this.accumulator.queues) {
      if (queue.open === undefined) continue;
      if (queue.inFlight || queue.sealed.length > 0) stillOpen = true;
      else this.accumulator.seal(queue);
    }
    this.pump();
    if (stillOpen) this.lingerTimer = setTimeout(() => this.onLinger(), this.limits.lingerMs);
  }

  /** Sends one request with the head batch of every ready partition, while requests may be added. */
  private pump(): void {
    // New batches wait for the fresh producer id; renewProducerId pumps once it is there.
    if (this.renewingProducerId) return;
    while (this.requestsInFlight < this.limits.requestsInFlightMax) {
      const batches = this.takeReadyHeads();
      if (batches.length === 0) return;
      this.requestsInFlight += 1;
      void this.sendRequest(batches).finally(() => {
        this.requestsInFlight -= 1;
        this.pump();
        this.notifyIdle();
      });
    }
  }

  private takeReadyHeads(): PendingBatch[] {
    const nowMs = this.clock();
    const taken: PendingBatch[] = [];
    let bytes = 0;
    let earliestRetryMs = Number.POSITIVE_INFINITY;
    for (const queue of this.accumulator.queues) {
      if (queue.inFlight) continue;
      // An open batch that lingered long enough goes as soon as its partition is free.
      if (
        queue.sealed.length === 0 &&
        queue.open !== undefined &&
        nowMs - queue.open.createdMs >= this.limits.lingerMs
      ) {
        this.accumulator.seal(queue);
      }
      const head = queue.sealed[0];
      if (head === undefined) continue;
      if (queue.retryAtMs > nowMs) {
        earliestRetryMs = Math.min(earliestRetryMs, queue.retryAtMs);
        continue;
      }
      let encoded: Uint8Array;
      try {
        encoded = this.encodeOnce(head, queue);
      } catch (error) {
        // E.g. a key over the codec's limit: this batch can never be sent.
        this.failBatch(head, error);
        continue;
      }
      if (taken.length > 0 && bytes + encoded.byteLength + 8 > this.limits.requestBytesMax) break;
      queue.inFlight = true;
      taken.push(head);
      bytes += encoded.byteLength + 8;
    }
    if (taken.length === 0 && Number.isFinite(earliestRetryMs)) this.scheduleRetry(earliestRetryMs - nowMs);
    return taken;
  }

  /** One timer for all partitions' retries, set for the earliest. */
  private scheduleRetry(delayMs: number): void {
    const atMs = this.clock() + Math.max(1, delayMs);
    if (this.retryTimer !== undefined && this.retryTimerAtMs <= atMs) return;
    clearTimeout(this.retryTimer);
    this.retryTimerAtMs = atMs;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        this.pump();
      },
      Math.max(1, delayMs),
    );
  }

  /** The sequence is fixed the first time a batch is sent, so a retry carries the same one. */
  private encodeOnce(batch: PendingBatch, queue: PartitionQueue): Uint8Array {
    if (batch.encoded !== undefined) return batch.encoded;
    const idempotent = this.producerId !== producerIdNone;
    batch.sequence = idempotent ? queue.nextSequence : -1;
    batch.producerId = this.producerId;
    batch.encoded = batch.builder.finish(this.producerId, batch.sequence);
    return batch.encoded;
  }

  private async sendRequest(batches: PendingBatch[]): Promise<void> {
    const frames: PartitionBatch[] = batches.map((batch) => ({ partition: batch.partition, batch: batch.encoded! }));
    for (const batch of batches) batch.attempts += 1;
    try {
      this.requestBody ??= new Uint8Array(this.limits.requestBytesMax);
      // fetch copies the body before request() returns (test/src/broker-client/http-client.test.ts
      // holds Bun to it), so the one buffer serves every request, in flight or not.
      const response = await this.http.request(routeRequest(brokerRoutes.produce, { topic: this.options.topic }), {
        body: encodeProduceFrames(frames, this.requestBody),
        contentType: binaryContentType,
      });
      const body = (await response.json()) as ProduceResponse;
      if (body.results.length !== batches.length) {
        throw new ProducerError(`broker answered ${body.results.length} results for ${batches.length} frames`);
      }
      for (const [index, batch] of batches.entries()) this.onResult(batch, body.results[index]!);
    } catch (error) {
      const clientError = asClientError(error, framedBytes(frames));
      for (const batch of batches) this.onFailure(batch, clientError);
    }
  }

  private onResult(batch: PendingBatch, result: ProduceResult): void {
    if (result.error !== undefined) {
      const status = result.error === "out_of_order_sequence" ? 409 : 0;
      const error = new BrokerClientError(
        status,
        result.error,
        result.message ?? result.error,
        result.retryable === true,
        0,
        undefined,
      );
      this.onFailure(batch, error);
      return;
    }
    const queue = this.accumulator.queues[batch.partition]!;
    if (queue.sealed[0] !== batch)
      throw new ProducerError(`partition ${batch.partition}: acknowledged batch is not the head`);
    queue.sealed.shift();
    queue.inFlight = false;
    queue.retryAtMs = 0;
    if (batch.sequence >= 0 && batch.producerId === this.producerId)
      queue.nextSequence = (batch.sequence + batch.builder.recordCount) % (sequenceMax + 1);
    const ack = {
      topic: this.options.topic,
      partition: batch.partition,
      baseOffset: result.baseOffset ?? -1,
      lastOffset: result.lastOffset ?? -1,
      duplicate: result.duplicate === true,
    };
    batch.ack.resolve(ack);
    this.release(batch);
    this.options.onAcked?.({ ...ack, records: batch.builder.recordCount });
  }

  private onFailure(batch: PendingBatch, error: BrokerClientError): void {
    const queue = this.accumulator.queues[batch.partition]!;
    queue.inFlight = false;
    if (error.status === 0) batch.ambiguous = true;
    const expired = this.clock() - batch.createdMs >= this.limits.deliveryTimeoutMs;
    if (error.code === "out_of_order_sequence" && !batch.ambiguous && !expired) {
      // Definitely not appended, and the broker expects other sequences (it lost or
      // forgot our state, e.g. after a crash): carry on under a fresh id, re-encoded.
      this.restartSequences();
      batch.encoded = undefined;
      this.pump();
      return;
    }
    if (error.retryable && !expired) {
      const delayMs = backoffDelayMs(this.backoff, batch.attempts, error.retryAfterMs);
      queue.retryAtMs = this.clock() + delayMs;
      this.scheduleRetry(delayMs);
      this.options.onRefused?.({
        partition: batch.partition,
        records: batch.builder.recordCount,
        status: error.status,
        code: error.code,
        message: error.message,
        attempt: batch.attempts,
        retryInMs: delayMs,
      });
      return;
    }
    this.failBatch(batch, error);
  }

  /** Gives up on the head batch of its partition: its ack rejects, flush() reports it. */
  private failBatch(batch: PendingBatch, error: unknown): void {
    const queue = this.accumulator.queues[batch.partition]!;
    if (queue.sealed[0] !== batch)
      throw new ProducerError(`partition ${batch.partition}: failed batch is not the head`);
    queue.sealed.shift();
    queue.inFlight = false;
    queue.retryAtMs = 0;
    // Its sequence may or may not be on the broker: later batches must not depend on it.
    if (batch.encoded !== undefined) this.restartSequences();
    this.failures.push(error);
    if (this.failures.length > failuresKeptMax) this.failures.shift();
    batch.ack.reject(error);
    this.release(batch);
    this.options.onDropped?.({ partition: batch.partition, records: batch.builder.recordCount, error });
  }

  /**
   * After a batch fails in a way the broker's sequence state cannot tell (it may or
   * may not be appended), later batches start a fresh sequence space under a new id
   * from the broker (it refuses ids it did not allocate) rather than risk being taken
   * for duplicates.
   */
  private restartSequences(): void {
    if (this.producerId === producerIdNone) return;
    for (const queue of this.accumulator.queues) {
      queue.nextSequence = 0;
      // A batch already sent keeps its id and sequence: its retry must still be recognised.
      for (const pending of queue.sealed) if (pending.attempts === 0) pending.encoded = undefined;
    }
    this.renewProducerId();
  }

  /** Asks the broker for a new id; while it is pending nothing new is sent. Without one, carries on non-idempotent. */
  private renewProducerId(): void {
    if (this.renewingProducerId) return;
    this.renewingProducerId = true;
    const renew: RetryOptions = {
      deadlineMs: this.limits.deliveryTimeoutMs,
      backoff: this.backoff,
      isRetryable: isRetryableError,
    };
    void retry(() => newProducerId(this.http), renew)
      .then(
        (producerId) => {
          this.producerId = producerId;
        },
        () => {
          this.producerId = producerIdNone;
        },
      )
      .finally(() => {
        this.renewingProducerId = false;
        this.pump();
        this.notifyIdle();
      });
  }

  private release(batch: PendingBatch): void {
    this.pendingRecords -= batch.builder.recordCount;
    this.accumulator.release(batch);
    this.bufferedBytes -= batch.bytes;
    if (this.bufferedBytes < 0) throw new ProducerError(`buffered bytes went negative: ${this.bufferedBytes}`);
    this.admitWaiters();
  }

  private whenIdle(): Promise<void> {
    const waiter = deferred<void>();
    this.idle.add(waiter);
    return waiter.promise;
  }

  private notifyIdle(): void {
    for (const waiter of this.idle) waiter.resolve();
    this.idle.clear();
  }
}

function asClientError(error: unknown, requestBytes: number): BrokerClientError {
  if (error instanceof BrokerClientError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new BrokerClientError(0, "client", `produce of ${requestBytes} bytes: ${message}`, true, 0, undefined);
}

/** Only the broker hands out producer ids: it refuses one it never allocated. */
async function newProducerId(http: BrokerHttp): Promise<number> {
  const body = await http.json(routeRequest(brokerRoutes.allocateProducerId));
  return body.producerId;
}

async function topicPartitionCount(http: BrokerHttp, options: ProducerOptions): Promise<number> {
  if (options.createTopic === true) return (await ensureTopicExists(http, options.topic)).partitions.length;
  const info = await http.json(routeRequest(brokerRoutes.describeTopic, { topic: options.topic }));
  return info.partitions.length;
}
