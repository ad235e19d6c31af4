import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { csvField } from "../../../services/api/telemetry-export.ts";
import {
  type ApiFixture,
  baseMs,
  enc,
  gpuA,
  gpuAInstants,
  gpuAStepMs,
  gpuC,
  iso,
  startApiFixture,
} from "./api-fixture.ts";

/** GPU A holds 10,000 datapoints; an export here holds at most 6,000. */
const exportRowsMax = 6_000;
let fixture: ApiFixture;
beforeAll(async () => {
  fixture = await startApiFixture({ exportRowsMax });
}, 60_000);
afterAll(async () => {
  await fixture?.stop();
});

const half = `start_time=${iso(baseMs)}&end_time=${iso(baseMs + (gpuAInstants / 2) * gpuAStepMs - 1)}`;

/** Every JSON page of a window, walked with cursors. */
async function jsonItems(gpu: string, query: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  do {
    const suffix: string = cursor === null ? "" : `&cursor=${enc(cursor)}`;
    const { body } = await fixture.get(`/api/v1/gpus/${gpu}/telemetry?${query}&limit=777${suffix}`);
    items.push(...body.items);
    cursor = body.next_cursor;
  } while (cursor !== null);
  return items;
}

describe("NDJSON and CSV exports of a telemetry window", () => {
  test("NDJSON is the JSON pages' items, one a line, with the GPU, in the same order", async () => {
    const response = await fixture.request(`/api/v1/gpus/${gpuA.uuid}/telemetry?${half}&format=ndjson&order=desc`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/x-ndjson");
    expect(response.headers.get("content-disposition")).toMatch(/^attachment; filename=".+\.ndjson"$/);
    const text = await response.text();
    expect(text.endsWith("\n")).toBe(true);
    const lines = text
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines).toHaveLength(gpuAInstants);
    const expected = (await jsonItems(gpuA.uuid, `${half}&order=desc`)).map((item) => ({ gpu: gpuA.uuid, ...item }));
    expect(lines).toEqual(expected);
  });

  test("CSV has a header and one RFC 4180 row per datapoint; Accept chooses it too", async () => {
    const response = await fixture.request(`/api/v1/gpus/${gpuC.uuid}/telemetry?start_time=${iso(baseMs)}`, {
      headers: { accept: "text/csv" },
    });
    expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    const rows = (await response.text()).trimEnd().split("\n");
    expect(rows[0]).toBe("gpu,timestamp,metric,value,unit,source_timestamp,namespace,pod,container");
    expect(rows).toHaveLength(1 + 600);
    expect(rows[1]).toBe(`${gpuC.uuid},${iso(baseMs)},DCGM_FI_DEV_POWER_USAGE,0,W,${iso(baseMs - 250)},,,`);
    expect(csvField('pod "a", b')).toBe('"pod ""a"", b"');
    expect(csvField("plain")).toBe("plain");
  });

  test("a window larger than the export bound is a 400 before anything is sent; limit exports part of it", async () => {
    const all = `start_time=${iso(baseMs)}&end_time=${iso(baseMs + 3_600_000)}`;
    const refused = await fixture.get(`/api/v1/gpus/${gpuA.uuid}/telemetry?${all}&format=csv`);
    expect(refused.status).toBe(400);
    expect(refused.body.details[0]).toMatchObject({ field: "limit" });
    expect(refused.body.message).toContain("10000 datapoints");
    const limited = await fixture.request(`/api/v1/gpus/${gpuA.uuid}/telemetry?${all}&format=ndjson&limit=2500`);
    expect((await limited.text()).trimEnd().split("\n")).toHaveLength(2_500);
    const overBound = await fixture.get(`/api/v1/gpus/${gpuA.uuid}/telemetry?${all}&format=ndjson&limit=6001`);
    expect(overBound.status).toBe(400);
  });

  test("an export continues from a JSON page's cursor", async () => {
    const first = await fixture.get(`/api/v1/gpus/${gpuA.uuid}/telemetry?${half}&limit=4000`);
    const rest = await fixture.request(
      `/api/v1/gpus/${gpuA.uuid}/telemetry?${half}&format=ndjson&cursor=${enc(first.body.next_cursor)}`,
    );
    const lines = (await rest.text())
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines).toHaveLength(gpuAInstants - 4_000);
    expect([...first.body.items, ...lines.map(({ gpu: _gpu, ...item }) => item)]).toEqual(
      await jsonItems(gpuA.uuid, half),
    );
  });

  test("an unknown GPU is a JSON 404, an empty window of a known one an empty export", async () => {
    const missing = await fixture.get("/api/v1/gpus/GPU-nope/telemetry?format=csv");
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe("not_found");
    const empty = await fixture.request(`/api/v1/gpus/${gpuC.uuid}/telemetry?start_time=0&end_time=1000&format=csv`);
    expect(empty.status).toBe(200);
    expect(await empty.text()).toBe("gpu,timestamp,metric,value,unit,source_timestamp,namespace,pod,container\n");
  });
});
