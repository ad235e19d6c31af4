import { mkdtempSync, rmSync } from "node:fs";
import { unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * chdb passes an insert's body to the engine inline, after the query text, and that
 * inline data ends at the first blank line ("\n\n"): the rest of the body is cut off
 * (a RowBinary row then fails as truncated; a JSONEachRow body would lose its tail).
 * Binary bodies hit it all the time (two 0x0A bytes in a timestamp or a value), so a
 * body containing "\n\n" is written to a spool file and inserted with
 * `INSERT ... FROM INFILE`, which reads the file whole and keeps the same settings
 * (deduplication tokens included). Writing the file costs a few ms per 10 MB, against
 * hundreds of ms of engine time for the same rows.
 */
export function bodyNeedsSpool(body: Uint8Array): boolean {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength).indexOf(blankLine) >= 0;
}

const blankLine = Buffer.from("\n\n");
/** Where the table (and column list) ends in `INSERT INTO t [(cols)] [SETTINGS ...] FORMAT X`. */
const tailPattern = /\s(?:SETTINGS\s[\s\S]*?\s)?FORMAT\s+[A-Za-z][A-Za-z0-9_]*\s*;?\s*$/i;

/** The insert prefix reading its rows from `path` instead of inline data. */
export function infileInsertSql(prefix: string, path: string): string {
  const match = tailPattern.exec(prefix);
  if (match === null) throw new Error(`insert prefix has no trailing FORMAT clause: ${prefix.slice(0, 200)}`);
  const quoted = `'${path.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  return `${prefix.slice(0, match.index)} FROM INFILE ${quoted}${prefix.slice(match.index)}`;
}

/** One private directory of spool files per engine; a file lives for one insert. */
export class InsertSpool {
  private readonly directory = mkdtempSync(join(tmpdir(), "chdb-insert-spool-"));
  private sequence = 0;

  async withFile<T>(body: Uint8Array, use: (path: string) => Promise<T>): Promise<T> {
    this.sequence += 1;
    const path = join(this.directory, `${this.sequence}.bin`);
    await writeFile(path, body);
    try {
      return await use(path);
    } finally {
      await unlink(path).catch(() => undefined);
    }
  }

  close(): void {
    rmSync(this.directory, { recursive: true, force: true });
  }
}
