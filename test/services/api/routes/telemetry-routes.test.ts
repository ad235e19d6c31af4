import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { TelemetryItem, TelemetryPage } from "../../../../services/api/api-models.ts";
import { createCursorCodec, queryCheck } from "../../../../services/api/cursor-codec.ts";
import { insertDatapoints } from "../../../../src/clickhouse/datapoints-insert.ts";
import {
  type ApiFixture,
  baseMs,
  edgeEndMs,
  edgeStartMs,
  enc,
  fixtureCursorKey,
  gpuA,
  gpuAInstants,
  gpuAStepMs,
  gpuB,
  gpuC,
  gpuCSeconds,
  iso,
  power,
  startApiFixture,
  temperature,
  utilization,
} from "../api-fixture.ts";

let fixture: ApiFixture;
beforeAll(async () => {
  fixture = await startApiFixture();
});
afterAll(async () => {
  await fixture?.stop();
});

type Item = { timestamp: string; metric: string; value: number; unit: string; source_timestamp: string };
const telemetry = (id: string, query: string) => fixture.get(`/api/v1/gpus/${id}/telemetry?${query}`);
const key = (item: Item) => `${item.timestamp}|${item.metric}`;

/** Follows next_cursor to the end; asserts every page's size. */
async function walk(id: string, query: string, pageSize: number): Promise<Item[]> {
  const items: Item[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 1_000; page += 1) {
    const path: string = `${query}&limit=${pageSize}${cursor === null ? "" : `&cursor=${enc(cursor)}`}`;
    const { status, body } = await telemetry(id, path);
    expect(status).toBe(200);
    expect(body.items.length).toBeLessThanOrEqual(pageSize);
    items.push(...body.items);
    cursor = body.next_cursor;
    if (cursor === null) return items;
    expect(body.items.length).toBe(pageSize);
  }
  throw new Error("walk did not end within 1,000 pages");
}

const wholeA = `start_time=${iso(baseMs)}&end_time=${iso(baseMs + gpuAInstants * gpuAStepMs)}`;

describe("GET /api/v1/gpus/{id}/telemetry", () => {
  test("both bounds are inclusive at the exact millisecond", async () => {
    const { status, body } = await telemetry(gpuB.uuid, `start_time=${iso(edgeStartMs)}&end_time=${iso(edgeEndMs)}`);
    expect(status).toBe(200);
    expect(body.gpu).toBe(gpuB.uuid);
    expect(body.start_time).toBe(iso(edgeStartMs));
    expect(body.end_time).toBe(iso(edgeEndMs));
    expect(body.items.map((item: Item) => item.timestamp)).toEqual([
      iso(edgeStartMs),
      iso(edgeStartMs + 1),
      iso(edgeEndMs - 1),
      iso(edgeEndMs),
    ]);
    expect(body.items[0]).toEqual({
      timestamp: iso(edgeStartMs),
      metric: power,
      value: 100,
      unit: "W",
      source_timestamp: iso(edgeStartMs - 250),
      namespace: "",
      pod: "",
      container: "",
    });
  });

  test("any offset and fraction name the same instants; finer digits round inward", async () => {
    const start = new Date(edgeStartMs + 2 * 3_600_000).toISOString().replace("Z", "+02:00");
    const end = iso(edgeEndMs).replace(/\.(\d+)Z$/, ".$1999Z");
    const { body } = await telemetry(gpuB.uuid, `start_time=${enc(start)}&end_time=${enc(end)}`);
    expect(body.items).toHaveLength(4);
    // 0.0001 ms after the edge: the point at the edge itself is outside.
    const after = iso(edgeStartMs).replace(/Z$/, "1Z");
    const inward = await telemetry(gpuB.uuid, `start_time=${enc(after)}&end_time=${iso(edgeEndMs)}`);
    expect(inward.body.items[0].timestamp).toBe(iso(edgeStartMs + 1));
    const seconds = new Date(Math.floor(edgeStartMs / 1_000) * 1_000).toISOString().replace(".000Z", "Z");
    const whole = await telemetry(gpuB.uuid, `start_time=${seconds}&end_time=${iso(edgeEndMs)}`);
    expect(whole.body.items).toHaveLength(5);
  });

  test("orders by time ascending by default and descending with order=desc", async () => {
    const window = `start_time=${iso(baseMs)}&end_time=${iso(baseMs + 4 * gpuAStepMs)}`;
    const ascending = await telemetry(gpuA.uuid, window);
    const keys = ascending.body.items.map(key);
    expect(keys).toHaveLength(10);
    expect(keys).toEqual([...keys].sort());
    expect(ascending.body.items[0]).toMatchObject({ timestamp: iso(baseMs), metric: temperature });
    const descending = await telemetry(gpuA.uuid, `${window}&order=desc`);
    expect(descending.body.items.map(key)).toEqual([...keys].reverse());
  });

  test("filters metrics given repeated or comma-separated", async () => {
    const window = `start_time=${iso(baseMs)}&end_time=${iso(baseMs + 9 * gpuAStepMs)}`;
    const one = await telemetry(gpuA.uuid, `${window}&metric=${utilization}`);
    expect(one.body.items).toHaveLength(10);
    expect(new Set(one.body.items.map((item: Item) => item.metric))).toEqual(new Set([utilization]));
    const repeated = await telemetry(gpuA.uuid, `${window}&metric=${utilization}&metric=${temperature}`);
    const comma = await telemetry(gpuA.uuid, `${window}&metric=${utilization},${temperature}`);
    expect(repeated.body.items).toHaveLength(20);
    expect(comma.body.items).toEqual(repeated.body.items);
  });

  test("walks 10,000 points in pages of 333 without loss or repeat, both orders", async () => {
    for (const order of ["asc", "desc"] as const) {
      const items = await walk(gpuA.uuid, `${wholeA}&order=${order}`, 333);
      expect(items).toHaveLength(10_000);
      const keys = items.map(key);
      expect(new Set(keys).size).toBe(10_000);
      const sorted = [...keys].sort();
      expect(keys).toEqual(order === "asc" ? sorted : sorted.reverse());
    }
  });

  test("without bounds: the last hour before now; with only start_time: up to now", async () => {
    const lastHour = await telemetry(gpuA.uuid, "");
    expect(lastHour.status).toBe(200);
    expect(lastHour.body.start_time).toBe(iso(fixture.nowMs - 3_600_000));
    expect(lastHour.body.end_time).toBe(iso(fixture.nowMs));
    expect(lastHour.body.items).toEqual([]);
    const sinceBase = await telemetry(gpuA.uuid, `start_time=${iso(baseMs)}&limit=5`);
    expect(sinceBase.body.end_time).toBe(iso(fixture.nowMs));
    expect(sinceBase.body.items).toHaveLength(5);
  });

  test("a cursor keeps the window it started with, and only fits its own query", async () => {
    const first = await telemetry(gpuA.uuid, `start_time=${iso(baseMs)}&limit=3`);
    const cursor = enc(first.body.next_cursor);
    const second = await telemetry(gpuA.uuid, `start_time=${iso(baseMs)}&limit=3&cursor=${cursor}`);
    expect(second.status).toBe(200);
    expect(second.body.items[0].timestamp).toBe(iso(baseMs + gpuAStepMs));
    for (const other of [
      `start_time=${iso(baseMs + 1)}`,
      `start_time=${iso(baseMs)}&order=desc`,
      `start_time=${iso(baseMs)}&metric=${utilization}`,
    ]) {
      const { status, body } = await telemetry(gpuA.uuid, `${other}&cursor=${cursor}`);
      expect(status).toBe(400);
      expect(body.details[0].field).toBe("cursor");
    }
    const foreignGpu = await telemetry(gpuB.uuid, `start_time=${iso(baseMs)}&cursor=${cursor}`);
    expect(foreignGpu.status).toBe(400);
    const gpusCursor = (await fixture.get("/api/v1/gpus?limit=1")).body.next_cursor;
    const wrongKind = await telemetry(gpuA.uuid, `start_time=${iso(baseMs)}&cursor=${enc(gpusCursor)}`);
    expect(wrongKind.status).toBe(400);
    const garbage = await telemetry(gpuA.uuid, `cursor=${enc(Buffer.from('{"v":1}').toString("base64url"))}`);
    expect(garbage.status).toBe(400);
  });

  test("a cursor signed with the key but carrying bad bounds is a 400 naming the cursor, never a 500", async () => {
    const mint = createCursorCodec("telemetry", Type.Any(), fixtureCursorKey);
    // The route's check: the series, bounds, metrics, order and workload filter (none).
    const check = queryCheck(["telemetry", gpuA.uuid, iso(baseMs), "", "", "asc", "\u0000\u0001\u0000\u0001\u0000"]);
    const after = { tsMs: baseMs, metric: utilization, sourceTsMs: baseMs, value: 1, skip: 1 };
    const windows = [
      { startMs: 0, endMs: 1e300 },
      { startMs: 0, endMs: 8e12 },
      { startMs: baseMs + 10, endMs: baseMs },
      { startMs: 1.5, endMs: baseMs },
      { startMs: -1, endMs: baseMs },
      { startMs: "0", endMs: baseMs },
    ];
    for (const window of windows) {
      const cursor = mint.encode(check, { after, ...window });
      const { status, body } = await telemetry(gpuA.uuid, `start_time=${iso(baseMs)}&cursor=${enc(cursor)}`);
      expect({ window, status, field: body.details?.[0]?.field }).toEqual({ window, status: 400, field: "cursor" });
    }
    const weekAndOne = mint.encode(check, { after, startMs: baseMs, endMs: baseMs + 168 * 3_600_000 + 1 });
    const tooLong = await telemetry(gpuA.uuid, `start_time=${iso(baseMs)}&cursor=${enc(weekAndOne)}`);
    expect(tooLong.body.details[0].problem).toContain("longer than 168 hours");
  });

  test("accepts hostname:index as the id", async () => {
    const { status, body } = await telemetry("host-a:1", `start_time=${iso(edgeStartMs)}&end_time=${iso(edgeEndMs)}`);
    expect(status).toBe(200);
    expect(body.gpu).toBe(gpuB.uuid);
    expect(body.items).toHaveLength(4);
  });

  test("a known GPU with no data in the window is an empty page; an unknown GPU a 404", async () => {
    const empty = await telemetry(gpuB.uuid, `start_time=${iso(baseMs + 600_000)}&end_time=${iso(baseMs + 700_000)}`);
    expect(empty.status).toBe(200);
    expect(empty.body).toMatchObject({ items: [], next_cursor: null });
    for (const id of ["GPU-ffffffff-0000-0000-0000-000000000000", "host-a:5"]) {
      const unknown = await telemetry(id, "");
      expect(unknown.status).toBe(404);
      expect(unknown.body.error).toBe("not_found");
    }
  });

  test("pages match the documented TelemetryPage schema (the route does not check them at run time)", async () => {
    const schema = TypeCompiler.Compile(TelemetryPage, [TelemetryItem]);
    const first = await telemetry(gpuA.uuid, `${wholeA}&limit=500&order=desc`);
    const next = await telemetry(gpuA.uuid, `${wholeA}&limit=500&order=desc&cursor=${enc(first.body.next_cursor)}`);
    const filtered = await telemetry(
      gpuB.uuid,
      `start_time=${iso(edgeStartMs)}&end_time=${iso(edgeEndMs)}&metric=${power}`,
    );
    for (const page of [first, next, filtered]) {
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toContain("application/json");
      expect([...schema.Errors(page.body)].map((error) => `${error.path} ${error.message}`)).toEqual([]);
    }
    expect(first.body.items.length).toBe(500);
  });

  test("bad input is a 400 that names the parameter and says what is accepted", async () => {
    const cases: [string, string, string][] = [
      ["start_time=yesterday", "start_time", "RFC 3339"],
      ["start_time=2025-07-18T20:42:34", "start_time", "RFC 3339"],
      ["end_time=2025-02-30T00:00:00Z", "end_time", "day 30"],
      ["start_time=2025-07-18T24:00:00Z", "start_time", "hour"],
      [`start_time=${iso(baseMs)}&end_time=${iso(baseMs - 1)}`, "end_time", "before start_time"],
      [`start_time=${iso(baseMs - 8 * 86_400_000)}&end_time=${iso(baseMs)}`, "start_time", "at most 7 d"],
      ["metric=dcgm_fi_dev_gpu_util", "metric", "DCGM_FI_"],
      ["metric=GPU_UTIL", "metric", "not a DCGM field name"],
      ["limit=0", "limit", "from 1 to 10000"],
      ["limit=10001", "limit", "at most 10000"],
      ["limit=1000001&format=csv", "limit", "from 1 to 1000000"],
      ["start_time=1752871354000.5", "start_time", "epoch milliseconds"],
      ["start_time=99999999999999999", "start_time", "RFC 3339"],
      ["order=newest", "order", "asc, desc"],
      ["cursor=%%%", "cursor", "next_cursor"],
    ];
    for (const [query, field, hint] of cases) {
      const { status, body } = await telemetry(gpuA.uuid, query);
      expect({ query, status }).toEqual({ query, status: 400 });
      expect(body.error).toBe("bad_request");
      expect(body.details[0].field).toBe(field);
      expect(`${body.message} ${body.details[0].problem}`).toContain(hint);
      expect(typeof body.request_id).toBe("string");
    }
  });
});

/** Runs last: it writes to the fixture's data. */
describe("telemetry page cache", () => {
  const cacheCount = async (result: string) => {
    const text = await fixture.registry.metrics();
    return Number(
      new RegExp(`api_telemetry_page_cache_lookups_total\\{result="${result}"[^}]*\\} (\\d+)`).exec(text)?.[1] ?? 0,
    );
  };

  test("a repeated page is served from the cache until rows land in its window, then it is fresh", async () => {
    const window = `start_time=${iso(baseMs)}&end_time=${iso(baseMs + gpuCSeconds * 1_000)}&limit=10000`;
    const firstsBefore = await cacheCount("first");
    const first = await telemetry(gpuC.uuid, window);
    expect(first.status).toBe(200);
    expect(first.body.items.length).toBe(gpuCSeconds);
    expect(await cacheCount("first")).toBe(firstsBefore + 1);
    // Asked a second time: now worth keeping (a miss that fills the cache).
    const missesBefore = await cacheCount("miss");
    expect((await telemetry(gpuC.uuid, window)).body).toEqual(first.body);
    expect(await cacheCount("miss")).toBe(missesBefore + 1);
    const hitsBefore = await cacheCount("hit");
    const again = await telemetry(gpuC.uuid, window);
    expect(again.body).toEqual(first.body);
    expect(await cacheCount("hit")).toBe(hitsBefore + 1);

    // A late row inside the window (between two existing seconds), inserted after the page was kept.
    const lateMs = baseMs + 100_500;
    await insertDatapoints(
      fixture.client,
      [
        {
          ...lateRow,
          ts: lateMs,
          source_ts: lateMs - 250,
          uuid: gpuC.uuid,
          hostname: gpuC.hostname,
          gpu_index: gpuC.gpu_index,
          value: 4242,
        },
      ],
      { dedupToken: "telemetry-cache/late-row" },
    );
    const fresh = await telemetry(gpuC.uuid, window);
    expect(fresh.body.items.length).toBe(gpuCSeconds + 1);
    expect(fresh.body.items[101]).toMatchObject({ timestamp: iso(lateMs), value: 4242 });
    expect(await cacheCount("changed")).toBeGreaterThanOrEqual(1);
  });
});

const lateRow = {
  device: "nvidia0",
  model: "NVIDIA H100 80GB HBM3",
  metric: power,
  container: "",
  pod: "",
  namespace: "",
  labels: { DCGM_FI_DRIVER_VERSION: "535.129.03" },
};
