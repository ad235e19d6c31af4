/**
 * A full disk, wherever a write of the broker meets it (a log, an index, a checkpoint,
 * topic metadata, a producer-id block): one error type that says what was being
 * written, which the HTTP layer answers as a retryable 503 disk_full.
 */

/**
 * The disk (or a quota) is full: nothing was changed by the write that failed, and
 * the same request can succeed once space is freed (HTTP 503 disk_full, retryable).
 */
export class DiskFullError extends Error {
  override name = "DiskFullError";
  constructor(
    /** What was being written, e.g. "appending 4096 bytes to .../00000000000000000000.log". */
    readonly operation: string,
    options?: { cause?: unknown },
  ) {
    super(`no space left on device while ${operation}`, options);
  }
}

/** ENOSPC (disk full) or EDQUOT (quota exceeded), as the OS reports it, or already wrapped. */
export function isDiskFull(error: unknown): boolean {
  if (error instanceof DiskFullError) return true;
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}

/** Runs a write; a full disk becomes a DiskFullError naming the operation, anything else passes. */
export function whileWriting<T>(operation: () => string, write: () => T): T {
  try {
    return write();
  } catch (error) {
    if (isDiskFull(error) && !(error instanceof DiskFullError)) throw new DiskFullError(operation(), { cause: error });
    throw error;
  }
}
