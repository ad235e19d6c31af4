import { describe, expect, test } from "bun:test";
import { ResponseCache } from "../../../services/api/response-cache.ts";

describe("ResponseCache", () => {
  test("shares one load between concurrent callers and reuses it while fresh", async () => {
    let nowMs = 1_000;
    let loads = 0;
    const cache = new ResponseCache<number>({ ttlMs: 100, entriesMax: 4, clock: () => nowMs });
    const load = async () => {
      loads += 1;
      await Bun.sleep(5);
      return loads;
    };
    expect(await Promise.all([cache.get("k", load), cache.get("k", load)])).toEqual([1, 1]);
    nowMs += 99;
    expect(await cache.get("k", load)).toBe(1);
    expect(loads).toBe(1);
  });

  test("serves a stale answer while one background load refreshes it, then the new one", async () => {
    let nowMs = 0;
    let loads = 0;
    const cache = new ResponseCache<number>({ ttlMs: 100, entriesMax: 4, clock: () => nowMs });
    const load = async () => {
      loads += 1;
      await Bun.sleep(5);
      return loads;
    };
    await cache.get("k", load);
    nowMs = 150;
    expect(await Promise.all([cache.get("k", load), cache.get("k", load)])).toEqual([1, 1]);
    await Bun.sleep(20);
    expect(loads).toBe(2);
    expect(await cache.get("k", load)).toBe(2);
    nowMs = 1_000;
    expect(await cache.get("k", load)).toBe(3);
  });

  test("does not keep failures", async () => {
    const cache = new ResponseCache<string>({ ttlMs: 1_000, entriesMax: 4, clock: () => 0 });
    await expect(cache.get("k", () => Promise.reject(new Error("down")))).rejects.toThrow("down");
    expect(await cache.get("k", async () => "up")).toBe("up");
  });

  test("holds at most entriesMax keys, dropping the oldest", async () => {
    const cache = new ResponseCache<string>({ ttlMs: 1_000, entriesMax: 2, clock: () => 0 });
    for (const key of ["a", "b", "c"]) await cache.get(key, async () => key);
    expect(cache.size).toBe(2);
    expect(await cache.get("a", async () => "reloaded")).toBe("reloaded");
  });

  test("ttl 0 always loads", async () => {
    let loads = 0;
    const cache = new ResponseCache<number>({ ttlMs: 0, entriesMax: 1, clock: () => 0 });
    await cache.get("k", async () => ++loads);
    await cache.get("k", async () => ++loads);
    expect(loads).toBe(2);
  });
});
