import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { writeFileAtomic, writeFileAtomicAsync } from "../files/atomic-file.ts";
import { recoveryPointFileName } from "./file-names.ts";

/**
 * A partition's recovery point, `<partition dir>/recovery-point`: one decimal offset
 * below which every byte of the log is fsynced, so recovery after a crash re-reads
 * only from the segment holding it (log-loader.ts). Kafka keeps the same number per
 * log directory in `recovery-point-offset-checkpoint`; ours sits beside its segments.
 *
 * Replaced atomically. The file only ever lags the truth (it is written after the
 * fsync it reports), and a missing or unreadable one means 0: recover everything,
 * which is slow but never wrong.
 */
export class RecoveryPointFile {
  readonly path: string;
  /** The offset this process last wrote; -1 before its first write (so that write always happens). */
  private writtenOffset = -1;

  constructor(dir: string) {
    this.path = join(dir, recoveryPointFileName);
  }

  /** The recorded offset; 0 when there is none or it cannot be read (logged). */
  read(logger: Logger | undefined): number {
    if (!existsSync(this.path)) return 0;
    const text = readFileSync(this.path, "utf8").trim();
    const value = Number(text);
    if (/^[0-9]+$/.test(text) && Number.isSafeInteger(value)) return value;
    logger?.warn({ path: this.path, text }, "unreadable recovery point, recovering every segment");
    return 0;
  }

  /** Whether the file would change: `offset` differs from what this process last wrote. */
  differsFrom(offset: number): boolean {
    return offset !== this.writtenOffset;
  }

  /** Records `offset` durably; the caller has fsynced everything below it. */
  writeSync(offset: number): void {
    assertOffset(offset, this.path);
    writeFileAtomic(this.path, String(offset));
    this.writtenOffset = offset;
  }

  /** writeSync without blocking the event loop (the periodic checkpoint). */
  async write(offset: number): Promise<void> {
    assertOffset(offset, this.path);
    await writeFileAtomicAsync(this.path, String(offset));
    this.writtenOffset = offset;
  }
}

function assertOffset(offset: number, path: string): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`recovery point ${offset} for ${path}`);
}
