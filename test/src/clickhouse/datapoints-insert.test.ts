import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ClickHouseClient } from "@clickhouse/client";
import { createClickHouse } from "../../../src/clickhouse/client.ts";
import {
  batchDedupToken,
  insertDatapointRows,
  insertDatapoints,
  joinRecordRows,
} from "../../../src/clickhouse/datapoints-insert.ts";
import { classifyInsertError } from "../../../src/clickhouse/insert-errors.ts";
import { encodeTelemetryRecord, recordRow } from "../../../src/telemetry/record-codec.ts";
import { freePort } from "../../support/free-port.ts";
import { type ClickHouseFixture, countOf, point, recentMinuteMs, startClickHouseFixture } from "./fixture.ts";

let fixture: ClickHouseFixture;

beforeAll(async () => {
  fixture = await startClickHouseFixture();
});
afterAll(async () => {
  await fixture?.stop();
});

/** 300 points over 3 minutes and 2 GPUs, 3 metrics: rows in every materialized view's target. */
function batch(baseMs: number) {
  return Array.from({ length: 300 }, (_, index) =>
    point({
      ts: baseMs + index * 600,
      uuid: `GPU-${index % 2}`,
      metric: `M${index % 3}`,
      value: index * 0.5,
    }),
  );
}

async function totals(client: ClickHouseClient) {
  return {
    datapoints: await countOf(client, "SELECT count() AS n FROM datapoints"),
    rollupSamples: await countOf(client, "SELECT sum(value_count) AS n FROM datapoints_1m"),
    rollupSum: await countOf(client, "SELECT sum(value_sum) AS n FROM datapoints_1m"),
  };
}

describe("insertDatapointRows", () => {
  test("stores the records with their values, types and computed columns", async () => {
    const client = await fixture.migratedDatabase("i_values");
    const ts = recentMinuteMs() + 1_234;
    const record = point({
      ts,
      source_ts: 1_752_846_153_000,
      gpu_index: 7,
      value: 0.1 + 0.2,
      container: "trainer",
      pod: "job-0",
      namespace: "ml",
      labels: { DCGM_FI_DRIVER_VERSION: "550.54.15", Hostname: "x", 'quo"te': "va\nlue" },
    });
    await insertDatapoints(client, [record], { dedupToken: "values/0/0-0" });
    const result = await client.query({
      query: `SELECT toUnixTimestamp64Milli(ts) AS ts, toUnixTimestamp64Milli(source_ts) AS source_ts, uuid, hostname,
        gpu_index, device, model, metric, value, container, pod, namespace, labels, driver_version,
        inserted_at > now64(3) - INTERVAL 1 MINUTE AS fresh FROM datapoints`,
      format: "JSONEachRow",
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
    });
    expect(await result.json()).toEqual([{ ...record, driver_version: "550.54.15", fresh: 1 }]);
    const types = await client.query({
      query:
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'datapoints' AND name IN ('ts', 'value', 'labels')",
      format: "JSONEachRow",
    });
    expect(await types.json()).toEqual([
      { name: "ts", type: "DateTime64(3, 'UTC')" },
      { name: "value", type: "Float64" },
      { name: "labels", type: "Map(LowCardinality(String), String)" },
    ]);
  });

  test("a batch re-inserted with the same token is stored once, in the table and in every view target", async () => {
    const client = await fixture.migratedDatabase("i_dedup");
    const points = batch(recentMinuteMs());
    const token = batchDedupToken({ topic: "telemetry", partition: 3, firstOffset: 100n, lastOffset: 399n });
    expect(token).toBe("telemetry/3/100-399");
    await insertDatapoints(client, points, { dedupToken: token });
    const once = await totals(client);
    expect(once.datapoints).toBe(300);
    expect(once.rollupSamples).toBe(300);
    await insertDatapoints(client, points, { dedupToken: token });
    await insertDatapointRows(client, joinRecordRows(points.map(encodeTelemetryRecord)), { dedupToken: token });
    expect(await totals(client)).toEqual(once);
    const registryRows = await countOf(client, "SELECT count() AS n FROM gpus");
    expect(registryRows).toBeLessThanOrEqual(2);
  });

  test("a retry after an insert that failed in a view part-way stores every row once everywhere", async () => {
    const client = await fixture.migratedDatabase("i_partial");
    await client.command({ query: "CREATE TABLE boom (x UInt8) ENGINE = MergeTree ORDER BY x" });
    await client.command({
      query:
        "CREATE MATERIALIZED VIEW boom_mv TO boom AS SELECT throwIf(value = 149.5, 'view failed') AS x FROM datapoints",
    });
    const points = batch(recentMinuteMs());
    await expect(insertDatapoints(client, points, { dedupToken: "t/0/0-299" })).rejects.toThrow(/view failed/);
    // The premise: the table kept the block while the views did not all get it.
    expect((await totals(client)).datapoints).toBe(300);
    await client.command({ query: "DROP VIEW boom_mv" });
    await insertDatapoints(client, points, { dedupToken: "t/0/0-299" });
    await insertDatapoints(client, points, { dedupToken: "t/0/0-299" });
    const after = await totals(client);
    expect(after.datapoints).toBe(300);
    expect(after.rollupSamples).toBe(300);
    expect(after.rollupSum).toBe(points.reduce((sum, p) => sum + p.value, 0));
  });

  test("a body of joined record rows is the records' rows back to back, tags dropped", async () => {
    const client = await fixture.migratedDatabase("i_bytes");
    const points = batch(recentMinuteMs());
    const records = points.map(encodeTelemetryRecord);
    const body = joinRecordRows(records);
    expect(body.byteLength).toBe(records.reduce((bytes, record) => bytes + record.byteLength - 1, 0));
    expect(body.subarray(0, records[0]!.byteLength - 1)).toEqual(recordRow(records[0]!));
    await insertDatapointRows(client, body, { dedupToken: "t/0/0-299" });
    expect((await totals(client)).rollupSum).toBe(points.reduce((sum, p) => sum + p.value, 0));
  });

  test("the token is remembered across other inserts in between", async () => {
    const client = await fixture.migratedDatabase("i_window");
    const base = recentMinuteMs();
    await insertDatapoints(client, batch(base), { dedupToken: "t/0/0-299" });
    for (let index = 1; index <= 20; index += 1) {
      await insertDatapoints(client, [point({ ts: base + index })], { dedupToken: `t/1/${index}-${index}` });
    }
    await insertDatapoints(client, batch(base), { dedupToken: "t/0/0-299" });
    expect((await totals(client)).datapoints).toBe(320);
  });

  test("the same rows under another token are another batch and are stored again", async () => {
    const client = await fixture.migratedDatabase("i_other_token");
    const points = batch(recentMinuteMs());
    await insertDatapoints(client, points, { dedupToken: "t/0/0-299" });
    await insertDatapoints(client, points, { dedupToken: "t/0/300-599" });
    const after = await totals(client);
    expect(after.datapoints).toBe(600);
    expect(after.rollupSamples).toBe(600);
  });

  test("a body cut inside a row is refused, and nothing of its batch is stored", async () => {
    const client = await fixture.migratedDatabase("i_truncated");
    const body = joinRecordRows(batch(recentMinuteMs()).map(encodeTelemetryRecord));
    await expect(
      insertDatapointRows(client, body.subarray(0, body.byteLength - 3), { dedupToken: "t/0/0-299" }),
    ).rejects.toThrow();
    expect(await countOf(client, "SELECT count() AS n FROM datapoints")).toBe(0);
  });

  test("malformed rows are a data error; an unreachable server is transient", async () => {
    const client = await fixture.migratedDatabase("i_errors");
    const valid = point({ ts: recentMinuteMs() });
    const row = (changes: Partial<typeof valid>) => recordRow(encodeTelemetryRecord({ ...valid, ...changes }));
    const withValue = (value: number) => {
      const bytes = row({ value: 1.5 }).slice();
      const view = new DataView(bytes.buffer);
      // The value is the only 1.5 (3FF8000000000000) in the row.
      for (let at = 0; at + 8 <= bytes.length; at += 1)
        if (view.getFloat64(at, true) === 1.5) view.setFloat64(at, value, true);
      return bytes;
    };
    const malformed: Array<[string, Uint8Array]> = [
      ["garbage", new TextEncoder().encode("not a row at all, just text")],
      ["a cut row", row({}).subarray(0, 30)],
      ["an empty uuid", row({ uuid: "" })],
      ["an empty metric", row({ metric: "" })],
      ["a NaN value", withValue(Number.NaN)],
      ["an infinite value", withValue(Number.POSITIVE_INFINITY)],
    ];
    for (const [index, [name, body]] of malformed.entries()) {
      const failure = await insertDatapointRows(client, body, { dedupToken: `t/0/${index}` }).then(
        () => "stored",
        (error: unknown) => classifyInsertError(error),
      );
      expect({ name, failure }).toEqual({ name, failure: "data" });
    }
    expect(await countOf(client, "SELECT count() AS n FROM datapoints")).toBe(0);
    const port = await freePort();
    const nowhere = createClickHouse({
      url: `http://127.0.0.1:${port}`,
      username: "default",
      password: "",
      database: "x",
      requestTimeoutMs: 2_000,
    });
    try {
      const failure = await insertDatapoints(nowhere, [valid], { dedupToken: "t/0/9" }).catch(classifyInsertError);
      expect(failure).toBe("transient");
    } finally {
      await nowhere.close();
    }
  });

  test("refuses an empty body and an empty token before sending anything", async () => {
    const client = await fixture.migratedDatabase("i_limits");
    await expect(insertDatapointRows(client, new Uint8Array(0), { dedupToken: "t" })).rejects.toThrow(/empty body/);
    await expect(insertDatapoints(client, [point({ ts: recentMinuteMs() })], { dedupToken: "" })).rejects.toThrow(
      /dedup token/,
    );
  });

  test("rows older than the retention are dropped by TTL at insert", async () => {
    const client = await fixture.migratedDatabase("i_ttl", 1);
    const old = point({ ts: Date.now() - 3 * 86_400_000 });
    await insertDatapoints(client, [old, point({ ts: recentMinuteMs() })], { dedupToken: "t/0/0-1" });
    expect(await countOf(client, "SELECT count() AS n FROM datapoints")).toBe(1);
  });
});
