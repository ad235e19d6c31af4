import { afterAll, beforeAll, expect, test } from "bun:test";
import { type ClickHouseClient, ClickHouseLogLevel, createClient } from "@clickhouse/client";
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from "../../support/embedded-clickhouse.ts";
import { metricValue } from "../../support/prometheus.ts";

let clickhouse: EmbeddedClickHouse;
let client: ClickHouseClient;

beforeAll(async () => {
  clickhouse = await startEmbeddedClickHouse({ env: { CLICKHOUSE_EMBEDDED_INSERT_CONNECTIONS: "2" } });
  client = createClient({
    url: clickhouse.url,
    password: clickhouse.password,
    max_open_connections: 16,
    log: { level: ClickHouseLogLevel.OFF },
  });
  await client.command({
    query:
      "CREATE TABLE lanes (k UInt32, v String) ENGINE = MergeTree ORDER BY k SETTINGS non_replicated_deduplication_window = 100",
  });
});
afterAll(async () => {
  await client?.close();
  await clickhouse?.stop();
});

const rows = (from: number, count: number) =>
  Array.from({ length: count }, (_, index) => ({ k: from + index, v: `row ${from + index}` }));

test("inserts on several connections at once all land, and a token is deduplicated across connections", async () => {
  const distinct = Array.from({ length: 8 }, (_, batch) =>
    client.insert({
      table: "lanes",
      values: rows(batch * 10_000, 10_000),
      format: "JSONEachRow",
      clickhouse_settings: { insert_deduplication_token: `batch-${batch}` },
    }),
  );
  const same = Array.from({ length: 4 }, () =>
    client.insert({
      table: "lanes",
      values: rows(100_000, 500),
      format: "JSONEachRow",
      clickhouse_settings: { insert_deduplication_token: "same" },
    }),
  );
  await Promise.all([...distinct, ...same]);
  const result = await client.query({
    query: "SELECT count() AS n, uniqExact(k) AS keys FROM lanes",
    format: "JSONEachRow",
  });
  const [counts] = await result.json<{ n: string | number; keys: string | number }>();
  expect({ n: Number(counts?.n), keys: Number(counts?.keys) }).toEqual({ n: 80_500, keys: 80_500 });
});

test("a query is answered while the insert connections are busy", async () => {
  const inserts = Array.from({ length: 4 }, (_, batch) =>
    client.insert({ table: "lanes", values: rows(200_000 + batch * 50_000, 50_000), format: "JSONEachRow" }),
  );
  const answered = await client
    .query({ query: "SELECT 'answered' AS a", format: "JSONEachRow" })
    .then((result) => result.json());
  expect(answered).toEqual([{ a: "answered" }]);
  await Promise.all(inserts);
  const page = await (await fetch(`${clickhouse.url}/metrics`)).text();
  expect(metricValue(page, "clickhouse_embedded_queued_queries")).toBe(0);
});

test("settings of one insert do not leak into later inserts on the same connections", async () => {
  await client.command({ query: "CREATE TABLE strict (k UInt32) ENGINE = MergeTree ORDER BY k" });
  const extraField = [{ k: 1, extra: 1 }];
  // Strict once on every connection: a field the table does not have is refused...
  for (let attempt = 0; attempt < 4; attempt += 1) {
    await expect(
      client.insert({
        table: "strict",
        values: extraField,
        format: "JSONEachRow",
        clickhouse_settings: { input_format_skip_unknown_fields: 0 },
      }),
    ).rejects.toThrow(/extra/);
  }
  // ...and the server default (skip it) is back for the inserts that do not ask.
  await Promise.all(
    Array.from({ length: 4 }, () => client.insert({ table: "strict", values: extraField, format: "JSONEachRow" })),
  );
  const result = await client.query({ query: "SELECT count() AS n FROM strict", format: "JSONEachRow" });
  const [count] = await result.json<{ n: string | number }>();
  expect(Number(count?.n)).toBe(4);
});
