/**
 * Texts the live tail sees over and over (GPU UUIDs, metric names, pods), each given a
 * small integer id the first time. Looking a text up again by its UTF-8 bytes inside a
 * record allocates nothing: the bytes are hashed in place and compared with the copy
 * kept for the id, and only a new text is decoded into a string. That is what keeps
 * ten thousand records a second from becoming ten thousand sets of strings for the
 * garbage collector.
 */

/** Thrown when an interner is full; the live tail then starts over with empty ones. */
export class InternerFullError extends Error {
  override name = "InternerFullError";
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const fnvOffset = 0x811c9dc5;
const fnvPrime = 0x01000193;

export class ByteInterner {
  private readonly texts: string[] = [];
  private readonly copies: Uint8Array[] = [];
  /** hash → the id with that hash, or all of them when several share it. */
  private readonly byHash = new Map<number, number | number[]>();

  constructor(
    readonly name: string,
    readonly entriesMax: number,
  ) {
    if (!Number.isSafeInteger(entriesMax) || entriesMax < 1)
      throw new RangeError(`${name}: entriesMax must be a positive integer, got ${entriesMax}`);
  }

  get size(): number {
    return this.texts.length;
  }

  text(id: number): string {
    const text = this.texts[id];
    if (text === undefined) throw new RangeError(`${this.name}: no id ${id} (of ${this.texts.length})`);
    return text;
  }

  /** The id of the text `bytes[offset, offset + length)` holds (UTF-8), made on first sight. */
  idOfBytes(bytes: Uint8Array, offset: number, length: number): number {
    const hash = hashBytes(bytes, offset, length);
    const found = this.byHash.get(hash);
    if (typeof found === "number") {
      if (this.matches(found, bytes, offset, length)) return found;
    } else if (found !== undefined) {
      for (const id of found) if (this.matches(id, bytes, offset, length)) return id;
    }
    return this.add(hash, bytes.slice(offset, offset + length));
  }

  /** The same id for a text given as a string (rare paths: JSON records, tests). */
  idOfText(text: string): number {
    const bytes = encoder.encode(text);
    return this.idOfBytes(bytes, 0, bytes.length);
  }

  /** The id of a text already seen, without adding it. */
  find(text: string): number | undefined {
    const bytes = encoder.encode(text);
    const found = this.byHash.get(hashBytes(bytes, 0, bytes.length));
    const candidates = typeof found === "number" ? [found] : (found ?? []);
    return candidates.find((id) => this.matches(id, bytes, 0, bytes.length));
  }

  private matches(id: number, bytes: Uint8Array, offset: number, length: number): boolean {
    const copy = this.copies[id] as Uint8Array;
    if (copy.length !== length) return false;
    for (let index = 0; index < length; index += 1) if (copy[index] !== bytes[offset + index]) return false;
    return true;
  }

  private add(hash: number, copy: Uint8Array): number {
    if (this.texts.length >= this.entriesMax) {
      throw new InternerFullError(`${this.name}: more than ${this.entriesMax} distinct texts`);
    }
    const id = this.texts.length;
    this.texts.push(decoder.decode(copy));
    this.copies.push(copy);
    const found = this.byHash.get(hash);
    if (found === undefined) this.byHash.set(hash, id);
    else if (typeof found === "number") this.byHash.set(hash, [found, id]);
    else found.push(id);
    return id;
  }
}

/** FNV-1a over the bytes: cheap, and good enough to spread short identifiers. */
function hashBytes(bytes: Uint8Array, offset: number, length: number): number {
  let hash = fnvOffset;
  for (let index = offset; index < offset + length; index += 1) {
    hash = Math.imul(hash ^ (bytes[index] as number), fnvPrime);
  }
  return hash >>> 0;
}
