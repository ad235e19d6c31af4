import { describe, expect, test } from "bun:test";
import { compareUtf8, type TailRow, TailStore } from "../../../../services/api/live/tail-store.ts";

const row = (tsMs: number, metric = "A", value = 0, gpu = "GPU-1"): TailRow => ({
  gpu,
  tsMs,
  metric,
  sourceTsMs: tsMs,
  value,
});
const all = { startMs: 0, endMs: Number.MAX_SAFE_INTEGER, count: 1_000 };
const times = (store: TailStore, order: "asc" | "desc" = "asc", uuid = "GPU-1") =>
  store.select({ ...all, uuid, order }).map((selected) => selected.ts_ms);

describe("TailStore", () => {
  test("answers nothing until it is reset to a horizon and marked live", () => {
    const store = new TailStore({ spanMs: 60_000, rowsMax: 100 });
    store.add([row(5_000)]);
    expect(store.horizonMs).toBeUndefined();
    expect(store.rowCount).toBe(0);
    store.reset(1_000);
    expect(store.horizonMs).toBeUndefined();
    store.setLive(true);
    expect(store.horizonMs).toBe(1_000);
  });

  test("keeps only rows from the horizon on, in page order whatever the arrival order", () => {
    const store = new TailStore({ spanMs: 60_000, rowsMax: 100 });
    store.reset(1_000);
    store.add([row(3_000), row(999), row(1_000), row(2_000, "B"), row(2_000, "A", 5), row(2_000, "A", 1)]);
    expect(store.rowCount).toBe(5);
    const rows = store.select({ ...all, uuid: "GPU-1", order: "asc" });
    expect(rows.map((selected) => [selected.ts_ms, selected.metric, selected.value])).toEqual([
      [1_000, "A", 0],
      [2_000, "A", 1],
      [2_000, "A", 5],
      [2_000, "B", 0],
      [3_000, "A", 0],
    ]);
    expect(times(store, "desc")).toEqual([3_000, 2_000, 2_000, 2_000, 1_000]);
  });

  test("the horizon follows now − spanMs and drops what falls behind it", () => {
    const store = new TailStore({ spanMs: 10_000, rowsMax: 100 });
    store.reset(0);
    store.setLive(true);
    store.add([row(1_000), row(5_000), row(12_000), row(14_000, "A", 0, "GPU-2")]);
    store.maintain(16_000);
    expect(store.horizonMs).toBe(6_000);
    expect(times(store)).toEqual([12_000]);
    expect(store.rowCount).toBe(2);
    store.maintain(30_000);
    expect(store.gpuCount).toBe(0);
    // A row behind the horizon is ClickHouse's alone.
    store.add([row(19_000)]);
    expect(store.rowCount).toBe(0);
  });

  test("more than rowsMax rows moves the horizon to a whole second that keeps at most rowsMax", () => {
    const store = new TailStore({ spanMs: 3_600_000, rowsMax: 10 });
    store.reset(0);
    store.setLive(true);
    store.add(Array.from({ length: 12 }, (_, index) => row(1_000 * Math.floor(index / 3) + index)));
    expect(store.horizonMs).toBe(1_000);
    expect(store.rowCount).toBe(9);
    expect(times(store)).toEqual([1_003, 1_004, 1_005, 2_006, 2_007, 2_008, 3_009, 3_010, 3_011]);
  });

  test("a cursor on a metric the store never saw sits where ClickHouse would put it", () => {
    const store = new TailStore({ spanMs: 60_000, rowsMax: 100 });
    store.reset(0);
    store.setLive(true);
    store.add([row(1_000, "A"), row(1_000, "C"), row(2_000, "A")]);
    const after = { tsMs: 1_000, metric: "B", sourceTsMs: 1_000, value: 0, skip: 1 };
    expect(store.select({ ...all, uuid: "GPU-1", order: "asc", after }).map((r) => r.metric)).toEqual(["A"]);
    expect(store.select({ ...all, uuid: "GPU-1", order: "desc", after }).map((r) => r.ts_ms)).toEqual([]);
  });

  test("compares metric names by UTF-8 bytes, as ClickHouse orders strings", () => {
    expect(compareUtf8("m\uFFFD", "m\u{1F600}")).toBeLessThan(0);
    expect("m\uFFFD" < "m\u{1F600}").toBe(false);
  });
});
