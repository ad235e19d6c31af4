import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";
import { open, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Crash-safe replacement of a small file, for everything the broker keeps beside its
 * logs (recovery points, producer snapshots, topic metadata, producer ids, group
 * checkpoints): write `path.tmp`, fsync it, rename over `path`, fsync the directory
 * so the rename itself is durable. A crash leaves the old or the new file, never a
 * mix, plus maybe a `.tmp`, which whoever loads the directory deletes
 * (isTemporaryFile).
 */
export const temporarySuffix = ".tmp";

/** A file being written before its atomic rename: crash debris when found at load. */
export function isTemporaryFile(name: string): boolean {
  return name.endsWith(temporarySuffix);
}

export function writeFileAtomic(path: string, content: string | Uint8Array): void {
  const tmpPath = path + temporarySuffix;
  const fd = openSync(tmpPath, "w");
  try {
    const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmpPath, path);
  fsyncDirectory(dirname(path));
}

export interface AtomicWriteOptions {
  /**
   * Whether to fsync the directory after the rename (the default). A caller replacing
   * several files of one directory at once passes false and calls
   * fsyncDirectoryAsync once after all of them: until then the new names may be lost.
   */
  fsyncDirectory: boolean;
}

/**
 * writeFileAtomic without blocking the event loop: the background checkpoints use
 * it so their fsyncs never stall appends.
 */
export async function writeFileAtomicAsync(
  path: string,
  content: string | Uint8Array,
  options: AtomicWriteOptions = { fsyncDirectory: true },
): Promise<void> {
  const tmpPath = path + temporarySuffix;
  const file = await open(tmpPath, "w");
  try {
    await file.writeFile(content);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmpPath, path);
  if (options.fsyncDirectory) await fsyncDirectoryAsync(dirname(path));
}

/** Deletes `path` durably (the directory is fsynced); false when there was no such file. */
export async function unlinkDurably(path: string): Promise<boolean> {
  try {
    await unlink(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
  await fsyncDirectoryAsync(dirname(path));
  return true;
}

export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export async function fsyncDirectoryAsync(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
