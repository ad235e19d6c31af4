import { type FileHandle, open } from "node:fs/promises";
import { type Static, Type } from "@sinclair/typebox";
import { CsvChunkParser, CsvFormatError, type CsvParseOptions, type CsvParseSummary } from "./csv-chunk-parser.ts";
import type { OnRowBatch, RowBatch } from "./row-batch.ts";

export { CsvFormatError, type CsvParseOptions, type CsvParseSummary } from "./csv-chunk-parser.ts";

/**
 * The streamer's CSV source. Each `pass()` hands every valid row of the file to the
 * produce loop once. The first pass streams the file through papaparse; the encoded
 * rows are kept, keyed by the file's (size, mtime, content hash), so replaying an
 * unchanged file is a walk over arrays: no parsing, no validation, no encoding.
 * A replaced file (a ConfigMap update swaps a symlink) is noticed on the next pass
 * and parsed afresh. Files above `rowsCachedMax` rows are parsed on every pass.
 */

export interface CsvFileSourceOptions extends CsvParseOptions {
  path: string;
  readChunkBytes: number;
  /** Most rows kept for replay; a bigger file is streamed and parsed on every pass. */
  rowsCachedMax: number;
  /** Hash the bytes before a cached replay: catches a rewrite that kept size and mtime. */
  verifyContentHash: boolean;
}

export interface CsvPassSummary extends CsvParseSummary {
  /** True when the rows came from the replay cache (rejections were reported on the parse). */
  fromCache: boolean;
  contentHash: bigint;
}

interface FileIdentity {
  size: number;
  mtimeMs: number;
}

interface ReplayCache extends FileIdentity {
  contentHash: bigint;
  keys: string[];
  tails: Uint8Array[];
  summary: CsvParseSummary;
}

/** Every valid row of the file, kept in memory: what the loop's schedule walks. */
export interface LoadedRows {
  keys: readonly string[];
  tails: readonly Uint8Array[];
  summary: CsvPassSummary;
}

/** Defaults the streamer's settings start from; a cached row costs about 420 bytes. */
export const csvFileSourceDefaults: Omit<CsvFileSourceOptions, "path"> = {
  readChunkBytes: 1024 * 1024,
  rowsCachedMax: 500_000,
  verifyContentHash: true,
  batchRowsMax: 1_000,
  rowCharsMax: 65_536,
  rejectionsKeptMax: 100,
  bytesMax: 4 * 1024 * 1024 * 1024,
};

export class CsvFileSource {
  private cache: ReplayCache | undefined;
  private uncacheable: FileIdentity | undefined;

  constructor(private readonly options: CsvFileSourceOptions) {
    if (options.readChunkBytes < 1024) throw new Error(`readChunkBytes ${options.readChunkBytes} below 1024`);
    if (options.rowsCachedMax < 0) throw new Error(`rowsCachedMax ${options.rowsCachedMax} is negative`);
  }

  /** Rows the replay cache holds now (0 when the next pass will parse). */
  get cachedRowCount(): number {
    return this.cache?.keys.length ?? 0;
  }

  /** One pass over the file. Throws CsvFormatError when the file as a whole is unreadable. */
  async pass(onBatch: OnRowBatch): Promise<CsvPassSummary> {
    const handle = await open(this.options.path, "r");
    try {
      const identity = await identityOf(handle, this.options.path);
      const cache = this.cache;
      if (cache !== undefined && cache.size === identity.size && cache.mtimeMs === identity.mtimeMs) {
        const contentHash = this.options.verifyContentHash
          ? await this.hashFile(handle, identity.size)
          : cache.contentHash;
        if (contentHash === cache.contentHash) return await this.replay(cache, onBatch);
      }
      this.cache = undefined; // let the old rows go before parsing the new ones
      return await this.parseFile(handle, identity, onBatch);
    } catch (error) {
      if (error instanceof CsvFormatError) throw new CsvFormatError(`${this.options.path}: ${error.message}`);
      throw error;
    } finally {
      await handle.close();
    }
  }

  /**
   * Every valid row of the file, parsed once and kept (a changed file is parsed
   * again). The schedule needs them all at hand, so a file of more than
   * rowsCachedMax rows, or one that changed while it was read, is refused.
   */
  async load(): Promise<LoadedRows> {
    const summary = await this.pass(() => undefined);
    const cache = this.cache;
    if (cache === undefined || cache.contentHash !== summary.contentHash) {
      throw new CsvFormatError(
        `${this.options.path}: ${summary.accepted} rows cannot be kept for the loop (more than rowsCachedMax ${this.options.rowsCachedMax}, or the file changed while read)`,
      );
    }
    return { keys: cache.keys, tails: cache.tails, summary };
  }

  private async replay(cache: ReplayCache, onBatch: OnRowBatch): Promise<CsvPassSummary> {
    const batchRowsMax = this.options.batchRowsMax;
    const rowCount = cache.keys.length;
    for (let start = 0; start < rowCount; start += batchRowsMax) {
      const batch: RowBatch = {
        keys: cache.keys,
        tails: cache.tails,
        start,
        end: Math.min(start + batchRowsMax, rowCount),
      };
      await onBatch(batch);
    }
    return { ...cache.summary, fromCache: true, contentHash: cache.contentHash };
  }

  private async parseFile(handle: FileHandle, identity: FileIdentity, onBatch: OnRowBatch): Promise<CsvPassSummary> {
    const uncacheable = this.uncacheable;
    const known =
      uncacheable !== undefined && uncacheable.size === identity.size && uncacheable.mtimeMs === identity.mtimeMs;
    let building: { keys: string[]; tails: Uint8Array[] } | undefined = known ? undefined : { keys: [], tails: [] };
    const parser = new CsvChunkParser(this.options, async (batch) => {
      if (building !== undefined && building.keys.length + (batch.end - batch.start) > this.options.rowsCachedMax) {
        building = undefined;
        this.uncacheable = identity;
      }
      if (building !== undefined) appendBatch(building, batch);
      await onBatch(batch);
    });
    const { contentHash, bytesRead } = await this.readInto(handle, (chunk) => parser.push(chunk));
    const summary = await parser.end();
    const after = await identityOf(handle, this.options.path);
    const unchanged = after.size === identity.size && after.mtimeMs === identity.mtimeMs && bytesRead === identity.size;
    if (building !== undefined && unchanged) {
      this.cache = { ...identity, contentHash, keys: building.keys, tails: building.tails, summary };
    }
    return { ...summary, fromCache: false, contentHash };
  }

  private async hashFile(handle: FileHandle, size: number): Promise<bigint> {
    const { contentHash, bytesRead } = await this.readInto(handle, () => undefined);
    // A file that shrank or grew while hashing cannot match the cache.
    return bytesRead === size ? contentHash : -1n;
  }

  /** Reads the file in fixed chunks (so the chained hash does not depend on read timing). */
  private async readInto(
    handle: FileHandle,
    onChunk: (chunk: Uint8Array) => void | Promise<void>,
  ): Promise<{ contentHash: bigint; bytesRead: number }> {
    const buffer = new Uint8Array(this.options.readChunkBytes);
    const readsMax = Math.ceil(this.options.bytesMax / buffer.byteLength) + 2;
    let contentHash = 0n;
    let position = 0;
    for (let reads = 0; reads < readsMax; reads += 1) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, position);
      if (bytesRead === 0) return { contentHash, bytesRead: position };
      const chunk = buffer.subarray(0, bytesRead);
      contentHash = Bun.hash.wyhash(chunk, contentHash);
      position += bytesRead;
      await onChunk(chunk);
    }
    throw new Error(
      `${this.options.path}: more than ${readsMax} reads of ${buffer.byteLength} bytes (bytesMax ${this.options.bytesMax})`,
    );
  }
}

async function identityOf(handle: FileHandle, path: string): Promise<FileIdentity> {
  const stat = await handle.stat();
  if (!stat.isFile()) throw new Error(`${path} is not a regular file`);
  return { size: stat.size, mtimeMs: stat.mtimeMs };
}

function appendBatch(target: { keys: string[]; tails: Uint8Array[] }, batch: RowBatch): void {
  for (let index = batch.start; index < batch.end; index += 1) {
    target.keys.push(batch.keys[index] as string);
    target.tails.push(batch.tails[index] as Uint8Array);
  }
}

/** What `POST /api/v1/upload` answers. */
export const CsvUploadSummary = Type.Object(
  {
    accepted: Type.Integer({ minimum: 0, description: "rows turned into datapoints" }),
    rejected: Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description: "rejected rows by reason" }),
    errors: Type.Array(
      Type.Object({ line: Type.Integer({ minimum: 1 }), reason: Type.String(), detail: Type.String() }),
      { description: "the first rejected rows, with their line number (the header is line 1)" },
    ),
    lines: Type.Integer({ minimum: 0, description: "lines read, the header included" }),
    bytes: Type.Integer({ minimum: 0 }),
  },
  { $id: "CsvUploadSummary", additionalProperties: false },
);
export type CsvUploadSummary = Static<typeof CsvUploadSummary>;

export const uploadParseDefaults: CsvParseOptions = {
  batchRowsMax: 1_000,
  rowCharsMax: 65_536,
  rejectionsKeptMax: 100,
  bytesMax: 256 * 1024 * 1024,
};
/** An upload's chunks are cut to this size, so one huge chunk cannot balloon a parse. */
export const uploadChunkBytesMax = 1024 * 1024;

/**
 * Streams uploaded CSV once, with the same validation as the file source. Memory is
 * bounded by one chunk plus one row whatever the upload's size. Throws
 * CsvFormatError when the upload as a whole is unreadable (no header, a required
 * column missing, too large).
 */
export async function parseCsvStream(
  stream: AsyncIterable<Uint8Array>,
  onBatch: OnRowBatch,
  options: CsvParseOptions = uploadParseDefaults,
): Promise<CsvUploadSummary> {
  const parser = new CsvChunkParser(options, onBatch);
  for await (const chunk of stream) {
    for (let offset = 0; offset < chunk.byteLength; offset += uploadChunkBytesMax) {
      await parser.push(chunk.subarray(offset, offset + uploadChunkBytesMax));
    }
  }
  const summary = await parser.end();
  return {
    accepted: summary.accepted,
    rejected: { ...summary.rejectedByReason },
    errors: summary.rejections.map(({ line, reason, detail }) => ({ line, reason, detail })),
    lines: summary.lines,
    bytes: summary.bytes,
  };
}
