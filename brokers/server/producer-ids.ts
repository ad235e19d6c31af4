import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../files/atomic-file.ts";

/** Ids handed out between two writes of the reservation file. */
export const producerIdBlockSize = 1_000;
const fileName = "producer-ids.json";

/**
 * Hands out producer ids that are never reused, even across a kill -9: the file
 * records the end of the reserved block before any id of it is given out, so a
 * restart starts past every id ever issued (skipping the rest of the block).
 */
export class ProducerIdAllocator {
  private nextId: number;
  private reservedEnd: number;

  constructor(private readonly dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    const stored = readReservedEnd(join(dataDir, fileName));
    this.nextId = stored;
    this.reservedEnd = stored;
  }

  /**
   * True for an id this broker handed out: below the high-water mark, which survives
   * restarts (the reserved end is written before any id of its block is given out).
   * Ids of a block reserved but not handed out before a crash count as allocated too;
   * no producer can hold one, so accepting them harms nothing.
   */
  isAllocated(producerId: number): boolean {
    return Number.isSafeInteger(producerId) && producerId >= 1 && producerId < this.nextId;
  }

  allocate(): number {
    if (this.nextId >= this.reservedEnd) {
      const end = this.reservedEnd + producerIdBlockSize;
      writeFileAtomic(join(this.dataDir, fileName), JSON.stringify({ reservedEnd: end }));
      this.reservedEnd = end;
    }
    const id = this.nextId;
    this.nextId += 1;
    if (!(id >= 1 && id < this.reservedEnd))
      throw new Error(`producer id ${id} outside reservation ${this.reservedEnd}`);
    return id;
  }
}

function readReservedEnd(path: string): number {
  if (!existsSync(path)) return 1;
  const parsed = JSON.parse(readFileSync(path, "utf8")) as { reservedEnd?: unknown };
  const end = parsed.reservedEnd;
  if (typeof end !== "number" || !Number.isSafeInteger(end) || end < 1) {
    throw new Error(`${path}: reservedEnd must be a positive integer, got ${JSON.stringify(end)}`);
  }
  return end;
}
