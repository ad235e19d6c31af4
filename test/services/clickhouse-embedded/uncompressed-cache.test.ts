import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ClickHouseClient, createClient } from "@clickhouse/client";
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from "../../support/embedded-clickhouse.ts";

let clickhouse: EmbeddedClickHouse;
let client: ClickHouseClient;
const cacheBytes = 8 * 1024 * 1024;

beforeAll(async () => {
  clickhouse = await startEmbeddedClickHouse({
    env: { CLICKHOUSE_EMBEDDED_UNCOMPRESSED_CACHE_BYTES: String(cacheBytes) },
  });
  client = createClient({ url: clickhouse.url, password: clickhouse.password });
});
afterAll(async () => {
  await client?.close();
  await clickhouse?.stop();
});

async function scalar(query: string): Promise<number> {
  const result = await client.query({
    query,
    format: "JSONEachRow",
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  });
  const [row] = await result.json<{ n: number | string }>();
  return Number(row?.n);
}

describe("uncompressed cache", () => {
  test("the engine gets CLICKHOUSE_EMBEDDED_UNCOMPRESSED_CACHE_BYTES, and queries that opt in hit it", async () => {
    expect(await scalar("SELECT value AS n FROM system.server_settings WHERE name = 'uncompressed_cache_size'")).toBe(
      cacheBytes,
    );
    await client.command({ query: "CREATE TABLE cached (k UInt64, v Float64) ENGINE = MergeTree ORDER BY k" });
    await client.command({ query: "INSERT INTO cached SELECT number, number / 7 FROM numbers(100000)" });
    const hits = () => scalar("SELECT sum(value) AS n FROM system.events WHERE event = 'UncompressedCacheHits'");
    const read = "SELECT sum(v) AS n FROM cached WHERE k < 50000 SETTINGS use_uncompressed_cache = 1";
    const first = await scalar(read);
    const hitsBefore = await hits();
    expect(await scalar(read)).toBe(first);
    expect(await hits()).toBeGreaterThan(hitsBefore);
  });
});
