import { afterAll, beforeAll, expect, test } from "bun:test";
import { concatGroupRows } from "../../../services/collector/insert-coalescer.ts";
import { StoredOffsetsGate } from "../../../services/collector/stored-offsets-gate.ts";
import { insertDatapointRows } from "../../../src/clickhouse/datapoints-insert.ts";
import { SourceSuffix } from "../../../src/clickhouse/source-columns.ts";
import { encodeTelemetryRecord, recordRow } from "../../../src/telemetry/record-codec.ts";
import { type ClickHouseFixture, startClickHouseFixture } from "../../src/clickhouse/fixture.ts";
import { pointAt, recentBaseMs } from "./telemetry-fixture.ts";

let fixture: ClickHouseFixture;

beforeAll(async () => {
  fixture = await startClickHouseFixture();
});
afterAll(async () => {
  await fixture?.stop();
});

const topic = { name: "telemetry", id: 1_765_000_000_000 };
const baseMs = recentBaseMs();

function checkedRows(offsets: readonly number[]) {
  const rows = offsets.map((offset) => recordRow(encodeTelemetryRecord(pointAt(offset, baseMs))));
  return { rows, offsets: [...offsets], rowBytes: rows.reduce((sum, row) => sum + row.byteLength, 0) };
}

const range = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, index) => first + index);

test("only the rows ClickHouse does not hold pass: whole ranges by a count, holes by their offsets", async () => {
  const client = await fixture.migratedDatabase("gate");
  const gate = new StoredOffsetsGate(client, topic);
  expect(await gate.storedThrough(2)).toBe(-1);
  // Stored: partition 2's offsets 0..99 except 10 and 50..59 (as if one part of an insert never committed).
  const stored = range(0, 99).filter((offset) => offset !== 10 && (offset < 50 || offset > 59));
  const body = concatGroupRows([{ partition: 2, ...checkedRows(stored) }], new SourceSuffix(topic));
  await insertDatapointRows(client, body, { dedupToken: "gate-test", withSource: true });
  expect(await gate.storedThrough(2)).toBe(99);
  expect(await gate.storedThrough(3)).toBe(-1);
  expect(await new StoredOffsetsGate(client, { ...topic, id: 1 }).storedThrough(2)).toBe(-1);

  const whole = await gate.unstored(2, checkedRows(range(20, 49)), 99);
  expect(whole.offsets).toEqual([]);
  expect(whole.skipped).toBe(30);
  expect(whole.rowBytes).toBe(0);

  const holes = await gate.unstored(2, checkedRows(range(0, 129)), 99);
  expect(holes.offsets).toEqual([10, ...range(50, 59), ...range(100, 129)]);
  expect(holes.skipped).toBe(130 - 41);
  expect(holes.rows.length).toBe(41);
  expect(holes.rowBytes).toBe(checkedRows(holes.offsets).rowBytes);

  // A rejected record leaves a gap in the offsets asked about: the set is asked, not the count.
  const gapped = await gate.unstored(2, checkedRows([5, 6, 8, 9, 10, 11]), 99);
  expect(gapped.offsets).toEqual([10]);

  // Past storedThrough nothing is asked.
  const fresh = await gate.unstored(2, checkedRows(range(100, 110)), 99);
  expect(fresh.skipped).toBe(0);
  expect(fresh.offsets).toEqual(range(100, 110));
});
