import { Counter, type Registry } from "../../src/observability/metrics.ts";
import type { SerializedJson } from "./serialized-json.ts";

export interface FingerprintedCacheOptions {
  /** Distinct keys kept at once; the least recently used goes first past it. */
  entriesMax: number;
  /** Characters of bodies, keys and fingerprints kept at once (0 disables the cache). */
  charsMax: number;
  /** A body longer than this is answered but not kept. */
  entryCharsMax: number;
  /** Names the metric: `api_<name>_cache_lookups_total`. */
  name: string;
  registry: Registry;
}

/** Keys remembered as asked once (see `wanted`); the oldest is forgotten past it. */
export const seenKeysMax = 100_000;

interface Entry {
  fingerprint: string;
  body: SerializedJson;
  chars: number;
}

/**
 * Answers kept with the fingerprint of the data they were computed from, and served
 * only while the caller reads the same fingerprint again: there is no expiry because
 * an answer is never served once its data may have changed. The caller reads the
 * fingerprint BEFORE computing an answer, so a change that lands in between makes the
 * stored fingerprint older than the answer (a needless miss later), never the reverse.
 */
export class FingerprintedCache {
  private readonly entries = new Map<string, Entry>();
  /** Keys asked once and not stored; Set keeps insertion order, so the first is the oldest. */
  private readonly seenOnce = new Set<string>();
  private chars = 0;
  private readonly lookups: Counter<"result">;

  constructor(private readonly options: FingerprintedCacheOptions) {
    for (const [name, value] of Object.entries({
      entriesMax: options.entriesMax,
      charsMax: options.charsMax,
      entryCharsMax: options.entryCharsMax,
    })) {
      if (!Number.isSafeInteger(value) || value < 0)
        throw new RangeError(`FingerprintedCache ${name} must be a non-negative integer, got ${value}`);
    }
    this.lookups = new Counter({
      name: `api_${options.name}_cache_lookups_total`,
      help: `${options.name} answers looked up in the cache, by result (hit; miss; changed: the data's fingerprint moved on; first: asked once, not looked up)`,
      labelNames: ["result"],
      registers: [options.registry],
    });
  }

  get enabled(): boolean {
    return this.options.charsMax > 0 && this.options.entriesMax > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  get storedChars(): number {
    return this.chars;
  }

  /**
   * Whether `key` is worth a fingerprint read: it is stored, or was asked before. A key
   * asked for the first time is only remembered, so one-off requests (a live window
   * ending "now" is a new key every time) cost no fingerprint read and fill no entry.
   */
  wanted(key: string): boolean {
    if (!this.enabled) return false;
    if (this.entries.has(key) || this.seenOnce.delete(key)) return true;
    this.remember(key);
    this.lookups.inc({ result: "first" });
    return false;
  }

  /** The body stored for `key` if it was computed from data with this very fingerprint. */
  get(key: string, fingerprint: string): SerializedJson | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.lookups.inc({ result: "miss" });
      return undefined;
    }
    this.entries.delete(key);
    if (entry.fingerprint !== fingerprint) {
      this.chars -= entry.chars;
      // Still a repeated key: the caller's fresh answer is worth keeping.
      this.remember(key);
      this.lookups.inc({ result: "changed" });
      return undefined;
    }
    this.entries.set(key, entry);
    this.lookups.inc({ result: "hit" });
    return entry.body;
  }

  /** `fingerprint` must have been read before the data `body` was computed from. */
  set(key: string, fingerprint: string, body: SerializedJson): void {
    if (!this.enabled) return;
    this.seenOnce.delete(key);
    const chars = key.length + fingerprint.length + body.text.length;
    const previous = this.entries.get(key);
    if (previous !== undefined) {
      this.entries.delete(key);
      this.chars -= previous.chars;
    }
    if (chars > this.options.entryCharsMax || chars > this.options.charsMax) return;
    while (this.entries.size >= this.options.entriesMax || this.chars + chars > this.options.charsMax)
      this.evictOldest();
    this.entries.set(key, { fingerprint, body, chars });
    this.chars += chars;
    if (this.chars > this.options.charsMax)
      throw new Error(`FingerprintedCache holds ${this.chars} chars, over charsMax ${this.options.charsMax}`);
  }

  private remember(key: string): void {
    if (this.seenOnce.size >= seenKeysMax) {
      const oldest = this.seenOnce.values().next();
      if (oldest.done !== true) this.seenOnce.delete(oldest.value);
    }
    this.seenOnce.add(key);
  }

  private evictOldest(): void {
    const oldest = this.entries.entries().next();
    if (oldest.done === true) throw new Error(`FingerprintedCache is empty but counts ${this.chars} chars`);
    const [key, entry] = oldest.value;
    this.entries.delete(key);
    this.chars -= entry.chars;
  }
}
