/**
 * Produce request frames: the one part of a produce request that is not JSON.
 *
 * Produce body: a sequence of frames `[u32 partition][u32 byteLength][batch bytes]`
 * (big-endian), one frame per partition batch; the batch bytes are opaque to this
 * layer (encoded by record-batch.ts). The explicit length lets the broker split a
 * request without decoding a batch.
 */

/** Bytes of a produce frame header: partition + batch length. */
export const frameHeaderBytes = 8;
/** A produce request carries at most this many frames (one per partition batch). */
export const framesPerRequestMax = 4_096;
/** Highest partition number a frame may name; a topic has fewer. */
export const partitionIndexMax = 65_535;

/** One batch addressed to one partition, as carried in a produce request. */
export interface PartitionBatch {
  partition: number;
  batch: Uint8Array;
}

export class FrameError extends Error {
  override name = "FrameError";
}

/** Total request bytes for these batches (so a caller can check a limit before encoding). */
export function framedBytes(batches: readonly PartitionBatch[]): number {
  let total = 0;
  for (const item of batches) total += frameHeaderBytes + item.batch.byteLength;
  return total;
}

/**
 * Encodes batches into one produce body: into the front of `into` when given and
 * large enough (a caller reusing one buffer per request), else a new allocation.
 */
export function encodeProduceFrames(batches: readonly PartitionBatch[], into?: Uint8Array): Uint8Array {
  if (batches.length > framesPerRequestMax) {
    throw new FrameError(`${batches.length} frames exceed framesPerRequestMax ${framesPerRequestMax}`);
  }
  const bodyBytes = framedBytes(batches);
  const body =
    into !== undefined && into.byteLength >= bodyBytes ? into.subarray(0, bodyBytes) : new Uint8Array(bodyBytes);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let position = 0;
  for (const item of batches) {
    if (!Number.isInteger(item.partition) || item.partition < 0 || item.partition > partitionIndexMax) {
      throw new FrameError(`partition ${item.partition} outside 0..${partitionIndexMax}`);
    }
    view.setUint32(position, item.partition);
    view.setUint32(position + 4, item.batch.byteLength);
    body.set(item.batch, position + frameHeaderBytes);
    position += frameHeaderBytes + item.batch.byteLength;
  }
  if (position !== body.byteLength) throw new FrameError(`encoded ${position} bytes, expected ${body.byteLength}`);
  return body;
}

/**
 * Splits a produce body into frames. The batches are views into `body` (no copy).
 * Throws FrameError on a truncated frame, a zero-length batch or too many frames.
 */
export function decodeProduceFrames(body: Uint8Array): PartitionBatch[] {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const frames: PartitionBatch[] = [];
  let position = 0;
  while (position < body.byteLength) {
    if (frames.length >= framesPerRequestMax) {
      throw new FrameError(`more than framesPerRequestMax ${framesPerRequestMax} frames`);
    }
    if (body.byteLength - position < frameHeaderBytes) {
      throw new FrameError(`truncated frame header at byte ${position} of ${body.byteLength}`);
    }
    const partition = view.getUint32(position);
    const length = view.getUint32(position + 4);
    const start = position + frameHeaderBytes;
    if (length === 0) throw new FrameError(`empty batch for partition ${partition} at byte ${position}`);
    if (start + length > body.byteLength) {
      throw new FrameError(`frame at byte ${position} claims ${length} bytes, only ${body.byteLength - start} left`);
    }
    frames.push({ partition, batch: body.subarray(start, start + length) });
    position = start + length;
  }
  return frames;
}
