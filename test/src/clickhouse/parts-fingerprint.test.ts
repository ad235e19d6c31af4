import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ClickHouseClient } from "@clickhouse/client";
import { insertDatapoints } from "../../../src/clickhouse/datapoints-insert.ts";
import {
  DatapointsPartsReader,
  datapointsPartsFingerprint,
  windowFingerprint,
} from "../../../src/clickhouse/parts-fingerprint.ts";
import { type ClickHouseFixture, point, recentMinuteMs, startClickHouseFixture } from "./fixture.ts";

let fixture: ClickHouseFixture;
let client: ClickHouseClient;
const base = recentMinuteMs() - 3_600_000;
/** Two windows an hour apart, each with its own parts. */
const early = { startMs: base, endMs: base + 59_999 };
const late = { startMs: base + 3_600_000, endMs: base + 3_600_000 + 59_999 };
let token = 0;

async function insertAt(tsMs: number): Promise<void> {
  token += 1;
  await insertDatapoints(client, [point({ ts: tsMs, value: token })], { dedupToken: `fingerprint/${token}` });
}

beforeAll(async () => {
  fixture = await startClickHouseFixture();
  client = await fixture.migratedDatabase("parts_fingerprint");
  // A background merge would change the fingerprint mid-test; the merge test starts them itself.
  await client.command({ query: "SYSTEM STOP MERGES datapoints" });
  await insertAt(early.startMs + 1_000);
  await insertAt(late.startMs + 1_000);
});
afterAll(async () => {
  await fixture?.stop();
});

describe("datapointsPartsFingerprint", () => {
  test("is stable while nothing is written", async () => {
    const first = await datapointsPartsFingerprint(client, early);
    expect(first).not.toBe("");
    expect(await datapointsPartsFingerprint(client, early)).toBe(first);
  });

  test("changes when rows land in the window, also at its exact inclusive edges", async () => {
    for (const tsMs of [early.startMs, early.endMs, early.startMs + 30_000]) {
      const before = await datapointsPartsFingerprint(client, early);
      await insertAt(tsMs);
      expect(await datapointsPartsFingerprint(client, early)).not.toBe(before);
    }
  });

  test("does not change when rows land in another window", async () => {
    const before = await datapointsPartsFingerprint(client, early);
    await insertAt(late.startMs + 2_000);
    await insertAt(early.endMs + 2_000);
    expect(await datapointsPartsFingerprint(client, early)).toBe(before);
  });

  test("changes when the window's rows are deleted or merged", async () => {
    const before = await datapointsPartsFingerprint(client, early);
    await client.command({ query: "SYSTEM START MERGES datapoints" });
    await client.command({ query: "OPTIMIZE TABLE datapoints FINAL" });
    const merged = await datapointsPartsFingerprint(client, early);
    expect(merged).not.toBe(before);
    await client.command({
      query: "DELETE FROM datapoints WHERE ts = fromUnixTimestamp64Milli({ts_ms:Int64}, 'UTC')",
      query_params: { ts_ms: early.startMs + 30_000 },
    });
    expect(await datapointsPartsFingerprint(client, early)).not.toBe(merged);
  });

  test("the schema partitions by ts alone, which is what lets a window ignore other parts", async () => {
    // If this fails, the partition key changed: min_time/max_time no longer bound ts.
    const snapshot = await new DatapointsPartsReader(client).read();
    expect(snapshot.boundsAreTs).toBe(true);
    expect(snapshot.parts.length).toBeGreaterThan(0);
  });

  test("without ts bounds every part counts for every window", () => {
    const part = (name: string, minS: number, maxS: number) => ({
      name,
      rows: 1,
      modification_time: "1",
      min_time: String(minS),
      max_time: String(maxS),
    });
    const parts = [part("p1", 100, 199), part("p2", 200, 299), part("p3", 0, 0)];
    const window = { startMs: 150_000, endMs: 150_999 };
    expect(windowFingerprint({ parts, boundsAreTs: true }, window)).toBe("p1:1:1,p3:1:1");
    expect(windowFingerprint({ parts, boundsAreTs: true }, { startMs: 199_999, endMs: 200_000 })).toBe(
      "p1:1:1,p2:1:1,p3:1:1",
    );
    expect(windowFingerprint({ parts, boundsAreTs: false }, window)).toBe("p1:1:1,p2:1:1,p3:1:1");
  });

  test("an empty window reads no parts; a bad window is refused", async () => {
    expect(await datapointsPartsFingerprint(client, { startMs: base - 7_200_000, endMs: base - 3_600_001 })).toBe("");
    await expect(datapointsPartsFingerprint(client, { startMs: base, endMs: base - 1 })).rejects.toThrow(RangeError);
  });
});
