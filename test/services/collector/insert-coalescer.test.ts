import { afterAll, beforeAll, expect, test } from "bun:test";
import { BatchInserter } from "../../../services/collector/batch-inserter.ts";
import { type CoalescedRange, concatGroupRows, InsertCoalescer } from "../../../services/collector/insert-coalescer.ts";
import { createCollectorMetrics } from "../../../services/collector/metrics.ts";
import { sourceDedupToken } from "../../../services/collector/source-token.ts";
import { SourceSuffix } from "../../../src/clickhouse/source-columns.ts";
import { storedOffsetMax } from "../../../src/clickhouse/stored-offsets.ts";
import { createLogger } from "../../../src/observability/logger.ts";
import { createMetricsRegistry } from "../../../src/observability/metrics.ts";
import { ManualClock } from "../../../src/runtime/clock.ts";
import { encodeTelemetryRecord, recordRow } from "../../../src/telemetry/record-codec.ts";
import { type ClickHouseFixture, startClickHouseFixture } from "../../src/clickhouse/fixture.ts";
import { metricValue } from "../../support/prometheus.ts";
import { pointAt, recentBaseMs, rowCount } from "./telemetry-fixture.ts";

let fixture: ClickHouseFixture;
const logger = createLogger({ service: "collector-test", instanceId: "test", level: "silent" });

beforeAll(async () => {
  fixture = await startClickHouseFixture();
});
afterAll(async () => {
  await fixture?.stop();
});

async function setup(name: string, options: { rowsMax?: number; intervalMs?: number; signal?: AbortSignal } = {}) {
  const client = await fixture.migratedDatabase(name);
  const registry = createMetricsRegistry({ service: "collector-test", instanceId: "test" });
  const metrics = createCollectorMetrics(registry, { assignedPartitions: () => 0, lagRecords: () => new Map() });
  const inserter = new BatchInserter({
    client,
    backoff: { backoffMsMin: 5, backoffMsMax: 20 },
    insertsInFlightMax: 1,
    metrics,
    logger,
  });
  const inserted: string[] = [];
  // Pacing runs on this clock: the tests move time instead of sleeping through intervals.
  const clock = new ManualClock(0);
  const coalescer = new InsertCoalescer({
    rowsMax: options.rowsMax ?? 10_000,
    insertsInFlightMax: 1,
    intervalMs: options.intervalMs ?? 0,
    source: new SourceSuffix(sourceTopic),
    inserter,
    signal: options.signal ?? new AbortController().signal,
    afterInsert: (partition, range) => inserted.push(`${partition}:${range.first}-${range.last}`),
    clock: clock.now,
    timer: clock.timer,
  });
  const inserts = async () => metricValue(await registry.metrics(), "collector_insert_batch_rows_count");
  return { client, coalescer, inserts, inserted, clock };
}

/**
 * Lets an insert that just resolved finish its bookkeeping (promise callbacks only, no
 * I/O): the next range then finds no insert running. No time passes on the clock.
 */
const settle = () => Bun.sleep(0);

const sourceTopic = { name: "telemetry", id: 1_765_000_000_000 };

function rangeOf(partition: number, first: number, count: number, baseMs: number): CoalescedRange {
  const rows = Array.from({ length: count }, (_, index) =>
    recordRow(encodeTelemetryRecord(pointAt(partition * 100_000 + first + index, baseMs))),
  );
  return {
    partition,
    range: { first, last: first + count - 1 },
    rows,
    offsets: rows.map((_, index) => first + index),
    rowBytes: rows.reduce((sum, row) => sum + row.byteLength, 0),
    abandon: () => false,
    caughtUp: true,
  };
}

test("ranges of several partitions waiting together share one insert; every row carries its source", async () => {
  const { client, coalescer, inserts, inserted } = await setup("coalesce_group");
  const baseMs = recentBaseMs();
  // The first range starts an insert at once; the three that arrive meanwhile wait and go together.
  const first = coalescer.insert(rangeOf(0, 0, 50, baseMs));
  const others = [1, 2, 3].map((partition) => coalescer.insert(rangeOf(partition, 10, 20, baseMs)));
  await Promise.all([first, ...others]);
  expect(await rowCount(client)).toBe(50 + 3 * 20);
  expect(await inserts()).toBe(2);
  expect(inserted.sort()).toEqual(["0:0-49", "1:10-29", "2:10-29", "3:10-29"]);
  const stored = await storedOffsetMax(client, sourceTopic, [0, 1, 2, 3, 4]);
  expect([...stored.entries()].sort()).toEqual([
    [0, 49],
    [1, 29],
    [2, 29],
    [3, 29],
  ]);
  expect(await storedOffsetMax(client, { ...sourceTopic, id: 2 }, [0])).toEqual(new Map());
});

test("an insert's token names exactly its rows: a body missing a row never shares a range's token", () => {
  const whole = { partition: 1, offsets: [10, 11, 12, 13] };
  const token = sourceDedupToken(sourceTopic, [whole]);
  expect(token).toMatch(/^telemetry\/1765000000000\/[0-9a-f]{64}$/);
  expect(sourceDedupToken(sourceTopic, [{ partition: 1, offsets: [10, 11, 12, 13] }])).toBe(token);
  expect(sourceDedupToken(sourceTopic, [{ partition: 1, offsets: [10, 11, 13] }])).not.toBe(token);
  expect(sourceDedupToken(sourceTopic, [{ partition: 2, offsets: [10, 11, 12, 13] }])).not.toBe(token);
  expect(sourceDedupToken({ ...sourceTopic, id: 7 }, [whole])).not.toBe(token);
  const other = { partition: 2, offsets: [5] };
  expect(sourceDedupToken(sourceTopic, [whole, other])).not.toBe(sourceDedupToken(sourceTopic, [other, whole]));
});

test("a group stops at rowsMax rows, and a partition is in one insert at a time, waiting or running", async () => {
  const { client, coalescer, inserts } = await setup("coalesce_limits", { rowsMax: 60 });
  const baseMs = recentBaseMs();
  const first = coalescer.insert(rangeOf(0, 0, 10, baseMs));
  const waiting = [1, 2, 3].map((partition) => coalescer.insert(rangeOf(partition, 0, 40, baseMs)));
  expect(() => coalescer.insert(rangeOf(1, 40, 5, baseMs))).toThrow("partition 1 already has a range waiting");
  expect(() => coalescer.insert(rangeOf(0, 10, 5, baseMs))).toThrow("partition 0 already has a range being inserted");
  await Promise.all([first, ...waiting]);
  expect(await rowCount(client)).toBe(130);
  // 10 alone, then 40 (40 + 40 > 60), then 40, then 40.
  expect(await inserts()).toBe(4);
});

test("an insert that fails and is given up rejects every member of its group", async () => {
  const { client, coalescer } = await setup("coalesce_fail");
  await client.command({ query: "DROP TABLE datapoints" });
  const baseMs = recentBaseMs();
  const attempts = [1, 2, 3].map((partition) =>
    coalescer.insert({ ...rangeOf(partition, 0, 5, baseMs), abandon: () => true }),
  );
  const outcomes = await Promise.allSettled(attempts);
  expect(outcomes.map((outcome) => outcome.status)).toEqual(["rejected", "rejected", "rejected"]);
});

test("paced: ranges arriving within the interval wait for one insert, unless rowsMax rows wait", async () => {
  const intervalMs = 1_000;
  const { client, coalescer, inserts, clock } = await setup("coalesce_paced", { intervalMs, rowsMax: 100 });
  const baseMs = recentBaseMs();
  await coalescer.insert(rangeOf(0, 0, 10, baseMs));
  await settle();
  const trickle = [1, 2, 3].map((partition) => coalescer.insert(rangeOf(partition, 0, 10, baseMs)));
  expect(coalescer.msUntilNextGroup()).toBe(intervalMs);
  clock.advance(intervalMs - 1);
  expect(coalescer.waitingRangeCount).toBe(3);
  clock.advance(1);
  // The interval is over: the three go together, at once.
  expect(coalescer.waitingRangeCount).toBe(0);
  await Promise.all(trickle);
  await settle();
  expect(await inserts()).toBe(2);
  // A full group does not wait for the interval (the clock does not move from here on).
  const first = coalescer.insert(rangeOf(0, 10, 50, baseMs));
  expect(coalescer.waitingRangeCount).toBe(1);
  const second = coalescer.insert(rangeOf(1, 10, 50, baseMs));
  expect(coalescer.waitingRangeCount).toBe(0);
  await Promise.all([first, second]);
  await settle();
  expect(await inserts()).toBe(3);
  // Nor does a partition that is behind (a backlog is never held back).
  expect(coalescer.msUntilNextGroup()).toBe(intervalMs);
  const behind = coalescer.insert({ ...rangeOf(2, 10, 5, baseMs), caughtUp: false });
  expect(coalescer.waitingRangeCount).toBe(0);
  await behind;
  expect(await inserts()).toBe(4);
  expect(await rowCount(client)).toBe(145);
});

test("a range of a partition being revoked is dropped while it waits, not inserted", async () => {
  const { client, coalescer, inserts } = await setup("coalesce_revoked", { intervalMs: 2_000 });
  const baseMs = recentBaseMs();
  await coalescer.insert(rangeOf(0, 0, 10, baseMs));
  const revocation = new AbortController();
  const waiting = coalescer.insert({ ...rangeOf(3, 0, 10, baseMs), revoked: revocation.signal });
  const dropped = Promise.allSettled([waiting]);
  revocation.abort();
  const [outcome] = await dropped;
  expect(outcome?.status).toBe("rejected");
  expect(String((outcome as PromiseRejectedResult).reason)).toContain("being revoked");
  expect(await inserts()).toBe(1);
  expect(await rowCount(client)).toBe(10);
  await expect(coalescer.insert({ ...rangeOf(3, 0, 10, baseMs), revoked: revocation.signal })).rejects.toThrow(
    "being revoked",
  );
});

test("concatGroupRows puts the members' rows back to back, in member order, each with its source, and checks the total", () => {
  const source = new SourceSuffix({ name: "t", id: 2 });
  // "t" as a String, the id as UInt64, then per row its partition (UInt16) and offset (UInt64), little-endian.
  const suffix = (partition: number, offset: number) => [
    1,
    116,
    2,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    partition,
    0,
    offset,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
  ];
  const first = { partition: 3, rows: [new Uint8Array([1, 2]), new Uint8Array([])], offsets: [7, 8], rowBytes: 2 };
  const second = { partition: 1, rows: [new Uint8Array([10, 10, 3])], offsets: [9], rowBytes: 3 };
  expect(concatGroupRows([first, second], source)).toEqual(
    new Uint8Array([1, 2, ...suffix(3, 7), ...suffix(3, 8), 10, 10, 3, ...suffix(1, 9)]),
  );
  expect(() => concatGroupRows([first, { ...second, rowBytes: 4 }], source)).toThrow("expected 66");
  expect(() => concatGroupRows([{ ...first, offsets: [7] }], source)).toThrow("2 rows but 1 offsets");
});

test("while the collector shuts down, a revoked partition's waiting range is inserted, not dropped", async () => {
  const shutdown = new AbortController();
  const { client, coalescer, inserts, clock } = await setup("coalesce_shutdown", {
    intervalMs: 2_000,
    signal: shutdown.signal,
  });
  const baseMs = recentBaseMs();
  await coalescer.insert(rangeOf(0, 0, 10, baseMs));
  await settle();
  const revocation = new AbortController();
  const waiting = coalescer.insert({ ...rangeOf(3, 0, 10, baseMs), revoked: revocation.signal });
  expect(coalescer.waitingRangeCount).toBe(1);
  expect(clock.pendingTimerCount).toBe(1);
  shutdown.abort();
  revocation.abort();
  // Shutting down ends the pacing too: no time passed, and its wait is cancelled.
  expect(coalescer.waitingRangeCount).toBe(0);
  expect(clock.pendingTimerCount).toBe(0);
  await waiting;
  expect(await inserts()).toBe(2);
  expect(await rowCount(client)).toBe(20);
});
