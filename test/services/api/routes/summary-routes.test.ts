import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  type ApiFixture,
  baseMs,
  gpuC,
  gpuCSeconds,
  iso,
  power,
  startApiFixture,
  utilization,
} from "../api-fixture.ts";

let fixture: ApiFixture;
beforeAll(async () => {
  fixture = await startApiFixture();
});
afterAll(async () => {
  await fixture?.stop();
});

const window = `start_time=${iso(baseMs)}&end_time=${iso(baseMs + gpuCSeconds * 1_000 - 1)}`;
const summary = (query: string) => fixture.get(`/api/v1/gpus/${gpuC.uuid}/telemetry/summary?${window}&${query}`);

/** GPU C's value is its second since baseMs, one point a second. */
function expected(stepS: number, agg: "avg" | "min" | "max" | "last") {
  return Array.from({ length: gpuCSeconds / stepS }, (_, bucket) => {
    const first = bucket * stepS;
    const last = first + stepS - 1;
    const value = { avg: (first + last) / 2, min: first, max: last, last }[agg];
    return { timestamp: iso(baseMs + first * 1_000), value, samples: stepS };
  });
}

describe("GET /api/v1/gpus/{id}/telemetry/summary", () => {
  test("1m buckets come from the rollup and match the raw values", async () => {
    for (const agg of ["avg", "min", "max", "last"] as const) {
      const { status, body } = await summary(`step=1m&agg=${agg}`);
      expect(status).toBe(200);
      expect(body).toMatchObject({ gpu: gpuC.uuid, step: "1m", agg, source: "rollup", start_time: iso(baseMs) });
      expect(body.series).toEqual([{ metric: power, unit: "W", points: expected(60, agg) }]);
    }
  });

  test("10s buckets come from raw rows; 5m and 1h from the rollup", async () => {
    const tenSeconds = await summary("step=10s&agg=avg");
    expect(tenSeconds.body.source).toBe("raw");
    expect(tenSeconds.body.series[0].points).toEqual(expected(10, "avg"));
    const fiveMinutes = await summary("step=5m&agg=max");
    expect(fiveMinutes.body.series[0].points).toEqual(expected(300, "max"));
    const hour = await summary("step=1h&agg=avg");
    expect(hour.body.series[0].points).toEqual([{ timestamp: iso(baseMs), value: 299.5, samples: 600 }]);
  });

  test("defaults: step 1m, agg avg; a metric filter without data gives no series", async () => {
    const { body } = await summary("");
    expect(body).toMatchObject({ step: "1m", agg: "avg" });
    expect(body.series[0].points).toHaveLength(10);
    const filtered = await summary(`metric=${utilization}`);
    expect(filtered.status).toBe(200);
    expect(filtered.body.series).toEqual([]);
  });

  test("too many buckets is a 400 that suggests a wider step", async () => {
    const wide = `start_time=${iso(baseMs - 6 * 86_400_000)}&end_time=${iso(baseMs)}`;
    const { status, body } = await fixture.get(`/api/v1/gpus/${gpuC.uuid}/telemetry/summary?${wide}&step=10s`);
    expect(status).toBe(400);
    expect(body.details[0].field).toBe("step");
    expect(body.message).toContain("use step=5m");
  });

  test("bad step or agg is a 400; an unknown GPU a 404", async () => {
    for (const [query, field] of [
      ["step=2m", "step"],
      ["agg=median", "agg"],
      ["metric=NOPE", "metric"],
    ]) {
      const { status, body } = await summary(query as string);
      expect(status).toBe(400);
      expect(body.details[0].field).toBe(field);
    }
    const unknown = await fixture.get("/api/v1/gpus/GPU-unknown/telemetry/summary");
    expect(unknown.status).toBe(404);
  });
});
