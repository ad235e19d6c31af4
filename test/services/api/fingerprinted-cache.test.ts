import { describe, expect, test } from "bun:test";
import { FingerprintedCache, type FingerprintedCacheOptions } from "../../../services/api/fingerprinted-cache.ts";
import { createMetricsRegistry } from "../../../src/observability/metrics.ts";

function cache(options: Partial<FingerprintedCacheOptions> = {}) {
  const registry = createMetricsRegistry({ service: "api", instanceId: "test" });
  const created = new FingerprintedCache({
    name: "test",
    entriesMax: 100,
    charsMax: 10_000,
    entryCharsMax: 5_000,
    registry,
    ...options,
  });
  return { cache: created, registry };
}

const body = (text: string) => ({ text });

describe("FingerprintedCache", () => {
  test("serves a body only for the fingerprint it was stored with", () => {
    const { cache: pages } = cache();
    pages.set("k", "parts-1", body("one"));
    expect(pages.get("k", "parts-1")?.text).toBe("one");
    expect(pages.get("k", "parts-2")).toBeUndefined();
    // A changed fingerprint drops the entry: the old body is never served again.
    expect(pages.get("k", "parts-1")).toBeUndefined();
    expect(pages.size).toBe(0);
    expect(pages.storedChars).toBe(0);
  });

  test("counts hits, misses and changes", async () => {
    const { cache: pages, registry } = cache();
    pages.get("k", "a");
    pages.set("k", "a", body("x"));
    pages.get("k", "a");
    pages.get("k", "b");
    const text = await registry.metrics();
    expect(text).toContain('api_test_cache_lookups_total{result="miss"');
    expect(text).toMatch(/api_test_cache_lookups_total\{result="hit"[^}]*\} 1/);
    expect(text).toMatch(/api_test_cache_lookups_total\{result="changed"[^}]*\} 1/);
  });

  test("keeps at most entriesMax entries, dropping the least recently used", () => {
    const { cache: pages } = cache({ entriesMax: 2 });
    pages.set("a", "f", body("1"));
    pages.set("b", "f", body("2"));
    pages.get("a", "f");
    pages.set("c", "f", body("3"));
    expect(pages.size).toBe(2);
    expect(pages.get("b", "f")).toBeUndefined();
    expect(pages.get("a", "f")?.text).toBe("1");
    expect(pages.get("c", "f")?.text).toBe("3");
  });

  test("keeps at most charsMax characters and skips bodies over entryCharsMax", () => {
    const { cache: pages } = cache({ charsMax: 30, entryCharsMax: 20 });
    pages.set("a", "f", body("x".repeat(10)));
    pages.set("b", "f", body("y".repeat(10)));
    expect(pages.storedChars).toBe(24);
    pages.set("c", "f", body("z".repeat(10)));
    expect(pages.storedChars).toBeLessThanOrEqual(30);
    expect(pages.get("a", "f")).toBeUndefined();
    pages.set("big", "f", body("w".repeat(30)));
    expect(pages.get("big", "f")).toBeUndefined();
    // Replacing a key releases the old body's characters.
    pages.set("c", "g", body("v"));
    expect(pages.get("c", "g")?.text).toBe("v");
    expect(pages.storedChars).toBe(12 + 3);
  });

  test("a key is wanted from its second request on, or once stored", () => {
    const { cache: pages } = cache();
    expect(pages.wanted("live-1")).toBe(false);
    expect(pages.wanted("live-2")).toBe(false);
    expect(pages.wanted("live-1")).toBe(true);
    pages.set("stored", "f", body("x"));
    expect(pages.wanted("stored")).toBe(true);
    expect(pages.wanted("stored")).toBe(true);
    expect(cache({ charsMax: 0 }).cache.wanted("k")).toBe(false);
  });

  test("charsMax 0 disables it; negative limits are refused", () => {
    const { cache: pages } = cache({ charsMax: 0 });
    expect(pages.enabled).toBe(false);
    pages.set("k", "f", body("x"));
    expect(pages.get("k", "f")).toBeUndefined();
    expect(() => cache({ entriesMax: -1 })).toThrow(RangeError);
  });
});
