/**
 * What the upload answered per Idempotency-Key, so a retried upload produces nothing
 * twice: the same key with the same body gets the first answer back; with another body
 * a 422; while the first is still running a 409. Bounded (the oldest key goes first)
 * and each answer expires after `ttlMs`. Kept in memory: a streamer restart forgets the
 * keys (see the README on what a retry after a crash can duplicate).
 */

export interface RememberedAnswer {
  sha256: string;
  status: number;
  body: unknown;
}

export type KeyLookup =
  | { kind: "new" }
  | { kind: "replay"; answer: RememberedAnswer }
  | { kind: "in_progress" }
  | { kind: "other_body" };

interface Entry extends RememberedAnswer {
  storedMs: number;
}

export class IdempotencyKeys {
  /** Map order is insertion order: the first entry is the oldest. */
  private readonly answers = new Map<string, Entry>();
  private readonly running = new Set<string>();

  constructor(private readonly options: { keysMax: number; ttlMs: number; nowMs: () => number }) {
    if (!(options.keysMax >= 1)) throw new RangeError(`keysMax must be >= 1, got ${options.keysMax}`);
  }

  get size(): number {
    return this.answers.size;
  }

  /** Where `key` stands for a body with this hash; "new" marks it running until `finish`. */
  begin(key: string, sha256: string): KeyLookup {
    const known = this.answers.get(key);
    if (known !== undefined && this.options.nowMs() - known.storedMs > this.options.ttlMs) this.answers.delete(key);
    const answer = this.answers.get(key);
    if (answer !== undefined) {
      if (answer.sha256 !== sha256) return { kind: "other_body" };
      return { kind: "replay", answer: { sha256: answer.sha256, status: answer.status, body: answer.body } };
    }
    if (this.running.has(key)) return { kind: "in_progress" };
    this.running.add(key);
    return { kind: "new" };
  }

  /** Ends the run `begin` started; the answer is remembered only when given (a final one). */
  finish(key: string, answer: RememberedAnswer | undefined): void {
    this.running.delete(key);
    if (answer === undefined) return;
    this.answers.delete(key);
    this.answers.set(key, { ...answer, storedMs: this.options.nowMs() });
    while (this.answers.size > this.options.keysMax) {
      const oldest = this.answers.keys().next().value;
      if (oldest === undefined) break;
      this.answers.delete(oldest);
    }
  }
}
