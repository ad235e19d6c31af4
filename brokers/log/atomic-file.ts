import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";
import { open, rename } from "node:fs/promises";
import { dirname } from "node:path";
import { Suffix } from "./file-names.ts";

/**
 * Replaces `path` with `content` so a crash leaves either the old or the new file,
 * never a mix: write `path.tmp`, fsync it, rename over `path`, fsync the directory
 * so the rename itself is durable. The loader deletes a leftover `.tmp`.
 */
export function writeFileAtomic(path: string, content: string | Uint8Array): void {
  const tmpPath = path + Suffix.tmp;
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

export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * writeFileAtomic without blocking the event loop: the background checkpoints use
 * it so their fsyncs never stall appends.
 */
export async function writeFileAtomicAsync(path: string, content: string | Uint8Array): Promise<void> {
  const tmpPath = path + Suffix.tmp;
  const file = await open(tmpPath, "w");
  try {
    await file.writeFile(content);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmpPath, path);
  const dir = await open(dirname(path), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
