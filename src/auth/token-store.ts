import { timingSafeEqual } from "node:crypto";
import type { TokenEntry } from "./token-entries.ts";
import { isPresentable, tokenDigest } from "./token-syntax.ts";

/** What a presented token may do: one scope, maybe limited to some names (consumer groups). */
export interface Grant {
  readonly scope: string;
  readonly limit: ReadonlySet<string> | undefined;
}

interface ScopedEntry extends TokenEntry {
  readonly scope: string;
}

/**
 * The tokens a service accepts, per scope, from several sources (a variable, a file
 * per scope) that can be replaced while it runs: that is how a token rotates without
 * downtime (add the new one, move the clients, remove the old one). A token listed
 * under several scopes has all of them.
 *
 * A presented token is hashed and its digest compared with every entry's digest with
 * timingSafeEqual, all of them every time, so neither the answer's time nor an early
 * exit tells which entry, or how much of one, matched.
 */
export class TokenStore {
  private readonly sources = new Map<string, { scope: string; entries: readonly TokenEntry[] }>();
  private entries: readonly ScopedEntry[] = [];

  constructor(readonly scopes: readonly string[]) {
    if (scopes.length === 0) throw new Error("a token store needs at least one scope");
    if (new Set(scopes).size !== scopes.length) throw new Error(`scopes repeat: ${scopes.join(", ")}`);
  }

  /** Replaces what one source (a variable, a file) lists for `scope`. */
  replace(scope: string, source: string, entries: readonly TokenEntry[]): void {
    if (!this.scopes.includes(scope)) throw new Error(`unknown scope "${scope}" (known: ${this.scopes.join(", ")})`);
    const known = this.sources.get(source);
    if (known !== undefined && known.scope !== scope)
      throw new Error(`source ${source} belongs to scope ${known.scope}`);
    this.sources.set(source, { scope, entries });
    this.entries = [...this.sources.values()].flatMap((list) =>
      list.entries.map((entry) => ({ ...entry, scope: list.scope })),
    );
  }

  /** Entries per scope (for start-up and reload log lines: counts, never tokens). */
  counts(): Record<string, number> {
    const counts = Object.fromEntries(this.scopes.map((scope) => [scope, 0]));
    for (const entry of this.entries) counts[entry.scope] = (counts[entry.scope] ?? 0) + 1;
    return counts;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Every grant of a presented token; empty when no list holds it. */
  grantsOf(token: string): Grant[] {
    if (!isPresentable(token)) return [];
    const digest = tokenDigest(token);
    const grants: Grant[] = [];
    for (const entry of this.entries) {
      if (timingSafeEqual(digest, entry.digest)) grants.push({ scope: entry.scope, limit: entry.limit });
    }
    return grants;
  }
}
