import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ApiFixture, dataset, enc, gpuA, startApiFixture } from "./api-fixture.ts";

let fixture: ApiFixture;
beforeAll(async () => {
  fixture = await startApiFixture();
});
afterAll(async () => {
  await fixture?.stop();
});

const hostile = [
  "' OR 1=1 --",
  "'; DROP TABLE datapoints; --",
  "\\' OR \\'1\\'=\\'1",
  "\\",
  "\\\\'",
  '" OR ""="',
  "{uuid:String}",
  "1) UNION SELECT * FROM system.users --",
  "GPU-0a000000-0000-0000-0000-000000000001' --",
  "ユニコード🚀\u0000\u202e",
  "%00",
  "x".repeat(2_000),
];

/** Every parameter of every data route, with the hostile text in its place. */
function requests(text: string): string[] {
  const value = enc(text);
  const telemetry = `/api/v1/gpus/${gpuA.uuid}/telemetry`;
  const summary = `${telemetry}/summary`;
  return [
    `/api/v1/gpus/${value}`,
    `/api/v1/gpus/${value}/telemetry`,
    `/api/v1/gpus/${value}/telemetry/summary`,
    `/api/v1/gpus/host-a${enc(":")}${value}`,
    `/api/v1/gpus/${value}${enc(":0")}/telemetry`,
    `/api/v1/gpus?hostname=${value}`,
    `/api/v1/gpus?limit=${value}`,
    `/api/v1/gpus?cursor=${value}`,
    `${telemetry}?start_time=${value}`,
    `${telemetry}?end_time=${value}`,
    `${telemetry}?metric=${value}`,
    `${telemetry}?metric=DCGM_FI_DEV_GPU_UTIL,${value}`,
    `${telemetry}?order=${value}`,
    `${telemetry}?limit=${value}`,
    `${telemetry}?cursor=${value}`,
    `${telemetry}?cursor=${enc(Buffer.from(text).toString("base64url"))}`,
    `${summary}?step=${value}`,
    `${summary}?agg=${value}`,
    `${summary}?metric=${value}`,
    `${summary}?start_time=${value}`,
  ];
}

describe("hostile input in every parameter", () => {
  test("is answered 400, 404 or an empty 200, never a 500, and the tables survive", async () => {
    const statuses = new Map<number, number>();
    for (const text of hostile) {
      for (const path of requests(text)) {
        const { status, body } = await fixture.get(path);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        expect({ path, answered: [200, 400, 404].includes(status) }).toEqual({ path, answered: true });
        if (status === 200) expect(body.items).toEqual([]);
        else expect(body.error).toBe(status === 400 ? "bad_request" : "not_found");
        expect(JSON.stringify(body)).not.toMatch(/DB::Exception|stack|at .*\.ts:\d+/);
      }
    }
    expect(statuses.get(400)).toBeGreaterThan(100);
    const result = await fixture.client.query({ query: "SELECT count() AS n FROM datapoints", format: "JSONEachRow" });
    const [row] = await result.json<{ n: string | number }>();
    expect(Number(row?.n)).toBe(dataset().length);
    const gpus = await fixture.get("/api/v1/gpus");
    expect(gpus.body.items).toHaveLength(3);
  });
});
