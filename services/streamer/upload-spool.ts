import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { unlink } from "node:fs/promises";
import { join } from "node:path";

/**
 * An upload's body written to a file before any row of it is produced, so the size
 * limit holds for a chunked body as for a declared one: past `bytesMax` the file is
 * dropped and nothing was produced. The body's SHA-256 comes along, to tell a retried
 * upload from a different one under the same Idempotency-Key.
 */

export class UploadTooLargeError extends Error {
  override name = "UploadTooLargeError";
  constructor(
    readonly bytesReceived: number,
    readonly bytesMax: number,
  ) {
    super(`upload exceeds ${bytesMax} bytes (received ${bytesReceived} before stopping)`);
  }
}

export interface SpooledUpload {
  path: string;
  bytes: number;
  sha256: string;
  /** Removes the file; safe to call twice. */
  remove(): Promise<void>;
}

/** One directory of spool files; a file lives for one upload. */
export class UploadSpool {
  private sequence = 0;

  constructor(private readonly directory: string) {
    mkdirSync(directory, { recursive: true });
  }

  /** Reads the whole body into a new file; throws UploadTooLargeError (file removed) past bytesMax. */
  async write(body: ReadableStream<Uint8Array>, bytesMax: number): Promise<SpooledUpload> {
    this.sequence += 1;
    const path = join(this.directory, `upload-${process.pid}-${this.sequence}.csv`);
    const remove = () => unlink(path).catch(() => undefined);
    const writer = Bun.file(path).writer();
    const hash = createHash("sha256");
    let bytes = 0;
    try {
      for await (const chunk of body) {
        bytes += chunk.byteLength;
        if (bytes > bytesMax) throw new UploadTooLargeError(bytes, bytesMax);
        hash.update(chunk);
        writer.write(chunk);
      }
      await writer.end();
    } catch (error) {
      await Promise.resolve(writer.end()).catch(() => undefined);
      await remove();
      throw error;
    }
    return { path, bytes, sha256: hash.digest("hex"), remove };
  }
}
