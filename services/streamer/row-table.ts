/**
 * The CSV's rows as the schedule sees them: for each partition, the indices of its
 * rows (those whose GPU UUID hashes to it) in file order, and a lookup from a record's
 * key and tail back to its row, so a streamer taking a partition can tell which row
 * the last record found there is.
 */

/** Where a partition's walk through the loop stands: row `rowsOf[partition][index]` of pass `pass`. */
export interface Cursor {
  pass: number;
  index: number;
}

export class RowTable {
  readonly rowCount: number;
  /** Per partition, its rows' indices ascending. */
  private readonly rowsOf: Int32Array[];
  /** crc32 of a row's tail → the rows with that hash. */
  private readonly byTail = new Map<number, number[]>();

  constructor(
    readonly keys: readonly string[],
    readonly tails: readonly Uint8Array[],
    partitionCount: number,
    partitionOf: (key: string) => number,
  ) {
    if (keys.length !== tails.length) throw new Error(`${keys.length} keys but ${tails.length} tails`);
    this.rowCount = keys.length;
    const lists: number[][] = Array.from({ length: partitionCount }, () => []);
    for (const [row, key] of keys.entries()) {
      const partition = partitionOf(key);
      const list = lists[partition];
      if (list === undefined) throw new Error(`key ${key} maps to partition ${partition} of ${partitionCount}`);
      list.push(row);
      const hash = Bun.hash.crc32(tails[row] as Uint8Array);
      const same = this.byTail.get(hash);
      if (same === undefined) this.byTail.set(hash, [row]);
      else same.push(row);
    }
    this.rowsOf = lists.map((list) => Int32Array.from(list));
  }

  /** Rows of the partition in one pass. */
  rowCountOf(partition: number): number {
    return this.rowsOf[partition]?.length ?? 0;
  }

  /** The row a cursor points at. */
  rowAt(partition: number, cursor: Cursor): number {
    return this.rowsOf[partition]![cursor.index]!;
  }

  position(partition: number, cursor: Cursor): number {
    return cursor.pass * this.rowCount + this.rowAt(partition, cursor);
  }

  /** The partition's next row after the cursor, wrapping into the next pass. */
  advance(partition: number, cursor: Cursor): void {
    cursor.index += 1;
    if (cursor.index < this.rowCountOf(partition)) return;
    cursor.index = 0;
    cursor.pass += 1;
  }

  /** How many of the partition's rows lie at positions below `position` (counting from position 0). */
  rowsBefore(partition: number, position: number): number {
    const rows = this.rowsOf[partition];
    if (rows === undefined || rows.length === 0) return 0;
    const pass = Math.floor(position / this.rowCount);
    return pass * rows.length + lowerBound(rows, position - pass * this.rowCount);
  }

  /** The cursor at the partition's first row at or after `position`; undefined when it has no rows. */
  cursorAt(partition: number, position: number): Cursor | undefined {
    const rows = this.rowsOf[partition];
    if (rows === undefined || rows.length === 0) return undefined;
    const pass = Math.floor(position / this.rowCount);
    const index = lowerBound(rows, position - pass * this.rowCount);
    return index < rows.length ? { pass, index } : { pass: pass + 1, index: 0 };
  }

  /** The rows whose key and tail are these bytes (nearly always one, or none). */
  rowsMatching(key: Uint8Array, tail: Uint8Array): number[] {
    const candidates = this.byTail.get(Bun.hash.crc32(tail)) ?? [];
    if (candidates.length === 0) return candidates;
    const keyText = keyDecoder.decode(key);
    return candidates.filter((row) => this.keys[row] === keyText && equalBytes(this.tails[row]!, tail));
  }
}

const keyDecoder = new TextDecoder();

/** The first index of the ascending `values` holding `value` or more. */
function lowerBound(values: Int32Array, value: number): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((values[middle] as number) < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let index = 0; index < a.byteLength; index += 1) if (a[index] !== b[index]) return false;
  return true;
}
