import { describe, expect, test } from "bun:test";
import { parseTokenEntries } from "../../../src/auth/token-entries.ts";
import { TokenStore } from "../../../src/auth/token-store.ts";
import { newToken } from "../../../src/auth/token-syntax.ts";

describe("TokenStore", () => {
  test("a token has every scope whose lists hold it, with each entry's limit", () => {
    const store = new TokenStore(["produce", "consume", "admin"]);
    const streamer = newToken();
    const operator = newToken();
    store.replace("produce", "P", parseTokenEntries(`${streamer}\n${operator}`, { source: "P", limitable: false }));
    store.replace(
      "consume",
      "C",
      parseTokenEntries(`${streamer} groups=streamers\n${operator}`, { source: "C", limitable: true }),
    );
    store.replace("admin", "A", parseTokenEntries(operator, { source: "A", limitable: false }));
    expect(store.grantsOf(streamer).map((grant) => [grant.scope, grant.limit && [...grant.limit]])).toEqual([
      ["produce", undefined],
      ["consume", ["streamers"]],
    ]);
    expect(store.grantsOf(operator).map((grant) => grant.scope)).toEqual(["produce", "consume", "admin"]);
    expect(store.grantsOf(newToken())).toEqual([]);
    expect(store.counts()).toEqual({ produce: 2, consume: 2, admin: 1 });
  });

  test("replacing one source keeps the others: a token rotates by adding the new one, then removing the old", () => {
    const store = new TokenStore(["read"]);
    const old = newToken();
    const fresh = newToken();
    const fixed = newToken();
    store.replace("read", "API_READ_TOKENS", parseTokenEntries(fixed, { source: "v", limitable: false }));
    store.replace("read", "/tokens/read", parseTokenEntries(old, { source: "f", limitable: false }));
    store.replace("read", "/tokens/read", parseTokenEntries(`${old}\n${fresh}`, { source: "f", limitable: false }));
    expect([old, fresh, fixed].map((token) => store.grantsOf(token).length)).toEqual([1, 1, 1]);
    store.replace("read", "/tokens/read", parseTokenEntries(fresh, { source: "f", limitable: false }));
    expect([old, fresh, fixed].map((token) => store.grantsOf(token).length)).toEqual([0, 1, 1]);
  });

  test("what no list could hold (empty, too long, outside the token alphabet) has no grant", () => {
    const store = new TokenStore(["read"]);
    const token = newToken();
    store.replace("read", "v", parseTokenEntries(token, { source: "v", limitable: false }));
    for (const presented of ["", "x".repeat(513), `${token} `, `${token}\u0000`, token.toUpperCase()]) {
      expect(store.grantsOf(presented)).toEqual([]);
    }
  });

  test("scopes are fixed at construction", () => {
    expect(() => new TokenStore([])).toThrow("at least one scope");
    expect(() => new TokenStore(["read", "read"])).toThrow("scopes repeat");
    expect(() => new TokenStore(["read"]).replace("write", "x", [])).toThrow('unknown scope "write"');
  });
});
