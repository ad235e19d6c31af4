import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ClickHouseClient, ClickHouseError, ClickHouseLogLevel, createClient } from "@clickhouse/client";
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from "../../support/embedded-clickhouse.ts";

// Failed requests are part of these tests; the client would log each one as an error.
const quiet = { level: ClickHouseLogLevel.OFF };
let clickhouse: EmbeddedClickHouse;
let client: ClickHouseClient;

beforeAll(async () => {
  clickhouse = await startEmbeddedClickHouse();
  client = createClient({
    url: clickhouse.url,
    password: clickhouse.password,
    keep_alive: { enabled: true, idle_socket_ttl: 2_000 },
    log: quiet,
  });
});

afterAll(async () => {
  await client?.close();
  await clickhouse?.stop();
});

async function errorOf(promise: Promise<unknown>): Promise<ClickHouseError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ClickHouseError) return error;
    throw new Error(`expected a ClickHouseError, got ${String(error)}`);
  }
  throw new Error("expected the call to fail");
}

describe("embedded ClickHouse through @clickhouse/client", () => {
  test("ping answers both ways", async () => {
    expect(await client.ping()).toEqual({ success: true });
    expect((await client.ping({ select: true })).success).toBe(true);
  });

  test("command creates a table and query reads it back", async () => {
    await client.command({ query: "CREATE TABLE basics (id UInt32, name String) ENGINE = MergeTree ORDER BY id" });
    await client.insert({
      table: "basics",
      values: [
        { id: 1, name: "a" },
        { id: 2, name: "b" },
      ],
      format: "JSONEachRow",
    });
    const result = await client.query({ query: "SELECT id, name FROM basics ORDER BY id", format: "JSONEachRow" });
    expect(await result.json()).toEqual([
      { id: 1, name: "a" },
      { id: 2, name: "b" },
    ]);
  });

  test("inserts 100k rows in one batch and reports them in the summary", async () => {
    await client.command({
      query: `CREATE TABLE bulk (ts DateTime64(3, 'UTC'), uuid String, metric LowCardinality(String), value Float64)
              ENGINE = MergeTree ORDER BY (uuid, metric, ts)`,
    });
    const rowCount = 100_000;
    const rows = Array.from({ length: rowCount }, (_, index) => ({
      ts: 1_752_846_153_000 + index,
      uuid: `GPU-${index % 247}`,
      metric: `DCGM_FI_DEV_${index % 10}`,
      value: index / 2,
    }));
    const inserted = await client.insert({ table: "bulk", values: rows, format: "JSONEachRow" });
    expect(inserted.summary?.written_rows).toBe(String(rowCount));
    const result = await client.query({
      query: "SELECT count() AS rows, sum(value) AS total FROM bulk",
      format: "JSONEachRow",
    });
    const [stats] = await result.json<{ rows: number; total: number }>();
    expect(stats).toEqual({ rows: rowCount, total: ((rowCount - 1) * rowCount) / 4 });
  });

  test("a hostile String parameter comes back as data and executes nothing", async () => {
    await client.command({ query: "CREATE TABLE victims (id UInt32) ENGINE = MergeTree ORDER BY id" });
    const hostile = `it's "quoted" \\ back'slash'; DROP TABLE victims; --\ttab\nnewline`;
    const result = await client.query({
      query: "SELECT {text:String} AS text, length({text:String}) AS size",
      query_params: { text: hostile },
      format: "JSONEachRow",
    });
    expect(await result.json()).toEqual([{ text: hostile, size: Buffer.byteLength(hostile) }]);
    const exists = await client.query({ query: "EXISTS TABLE victims", format: "JSONEachRow" });
    expect(await exists.json()).toEqual([{ result: 1 }]);
  });

  test("parameters of type DateTime64(3), Array(String) and UInt32 bind", async () => {
    const result = await client.query({
      query: `SELECT toUnixTimestamp64Milli({at:DateTime64(3)}) AS at_ms, {names:Array(String)} AS names,
                     {count:UInt32} + 1 AS next, toTypeName({count:UInt32}) AS count_type`,
      query_params: { at: new Date(Date.UTC(2025, 6, 18, 13, 42, 33, 123)), names: ["a'b", "c\\d", ""], count: 41 },
      format: "JSONEachRow",
    });
    expect(await result.json()).toEqual([
      { at_ms: Date.UTC(2025, 6, 18, 13, 42, 33, 123), names: ["a'b", "c\\d", ""], next: 42, count_type: "UInt32" },
    ]);
  });

  test("parameters sent as multipart form data bind too", async () => {
    const result = await client.query({
      query: "SELECT {name:String} AS name",
      query_params: { name: "multi'part" },
      format: "JSONEachRow",
      use_multipart_params: true,
    });
    expect(await result.json()).toEqual([{ name: "multi'part" }]);
  });

  test("a syntax error is ClickHouse error 62 with status 400", async () => {
    // Not "SELEC 1": ClickHouse quotes the bad token as "(SELEC)", which the client's
    // error parser then takes for the error name (with a real server too).
    const error = await errorOf(client.query({ query: "SELECT )", format: "JSONEachRow" }));
    expect(error.code).toBe("62");
    expect(error.type).toBe("SYNTAX_ERROR");
    const response = await fetch(`${clickhouse.url}/?query=${encodeURIComponent("SELECT )")}`, {
      headers: clickhouse.authHeaders(),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get("x-clickhouse-exception-code")).toBe("62");
    expect(await response.text()).toMatch(/^Code: 62\. DB::Exception: .*\(SYNTAX_ERROR\) \(version 26\.7[\d.]*\)\n$/s);
  });

  test("an unknown table is 60 and an unknown database 81, both 404", async () => {
    const table = await errorOf(client.query({ query: "SELECT * FROM no_such_table", format: "JSONEachRow" }));
    expect([table.code, table.type]).toEqual(["60", "UNKNOWN_TABLE"]);
    const database = await errorOf(client.command({ query: "SELECT * FROM no_such_db.t" }));
    expect([database.code, database.type]).toEqual(["81", "UNKNOWN_DATABASE"]);
    const response = await fetch(`${clickhouse.url}/`, {
      headers: clickhouse.authHeaders(),
      method: "POST",
      body: "SELECT * FROM no_such_table",
    });
    expect(response.status).toBe(404);
  });

  test("a failed query leaves no partial output for the next one", async () => {
    const failing = client.query({
      query: "SELECT number, throwIf(number = 150000) FROM numbers(200000)",
      format: "JSON",
    });
    expect((await errorOf(failing)).type).toBe("FUNCTION_THROW_IF_VALUE_IS_NON_ZERO");
    const next = await client.query({ query: "SELECT 7 AS seven", format: "JSONEachRow" });
    expect(await next.json()).toEqual([{ seven: 7 }]);
  });

  test("20 concurrent queries each get their own answer", async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, async (_, index) => {
        const result = await client.query({
          query: "SELECT {index:UInt32} AS index, sum(number) AS total FROM numbers({size:UInt32})",
          query_params: { index, size: 1_000 + index },
          format: "JSONEachRow",
        });
        return await result.json<{ index: number; total: number }>();
      }),
    );
    answers.forEach((rows, index) => {
      const size = 1_000 + index;
      expect(rows).toEqual([{ index, total: ((size - 1) * size) / 2 }]);
    });
  });

  test("insert_deduplication_token stores a repeated batch once", async () => {
    await client.command({
      query: `CREATE TABLE dedup (id UInt32) ENGINE = MergeTree ORDER BY id
              SETTINGS non_replicated_deduplication_window = 1000`,
    });
    const insert = (token: string, ids: number[]) =>
      client.insert({
        table: "dedup",
        values: ids.map((id) => ({ id })),
        format: "JSONEachRow",
        clickhouse_settings: { insert_deduplication_token: token },
      });
    await insert("telemetry-0-0-99", [1, 2, 3]);
    await insert("telemetry-0-0-99", [1, 2, 3]);
    await insert("telemetry-0-100-199", [4, 5]);
    // No token: the setting from the previous request must not stick to this one.
    await client.insert({ table: "dedup", values: [{ id: 6 }], format: "JSONEachRow" });
    await client.insert({ table: "dedup", values: [{ id: 6 }], format: "JSONEachRow" });
    const result = await client.query({
      query: "SELECT groupArray(id) AS ids FROM (SELECT id FROM dedup ORDER BY id)",
      format: "JSONEachRow",
    });
    expect(await result.json()).toEqual([{ ids: [1, 2, 3, 4, 5, 6] }]);
  });

  test("settings apply to their own request only", async () => {
    const read = async (settings: Record<string, string | number>) => {
      const result = await client.query({
        query: "SELECT getSetting('max_block_size') AS size",
        format: "JSONEachRow",
        clickhouse_settings: settings,
      });
      return (await result.json<{ size: number }>())[0]?.size;
    };
    const defaultSize = await read({});
    expect(await read({ max_block_size: "1234" })).toBe(1234);
    expect(await read({})).toBe(defaultSize);
  });

  test("the database setting selects the current database for that request", async () => {
    await client.command({ query: "CREATE DATABASE IF NOT EXISTS telemetry_test" });
    const scoped = createClient({
      url: clickhouse.url,
      password: clickhouse.password,
      database: "telemetry_test",
      log: quiet,
    });
    try {
      await scoped.command({ query: "CREATE TABLE only_here (x UInt8) ENGINE = Memory" });
      await scoped.insert({ table: "only_here", values: [{ x: 5 }], format: "JSONEachRow" });
      const rows = await scoped.query({
        query: "SELECT currentDatabase() AS db, x FROM only_here",
        format: "JSONEachRow",
      });
      expect(await rows.json()).toEqual([{ db: "telemetry_test", x: 5 }]);
    } finally {
      await scoped.close();
    }
    const current = await client.query({ query: "SELECT currentDatabase() AS db", format: "JSONEachRow" });
    expect(await current.json()).toEqual([{ db: "default" }]);
  });

  test("output formats follow FORMAT and default_format", async () => {
    const csv = await client.query({ query: "SELECT 1 AS a, 'x' AS b", format: "CSV" });
    expect(await csv.text()).toBe('1,"x"\n');
    const compact = await client.query({ query: "SELECT 1 AS a, 'x' AS b", format: "JSONCompactEachRow" });
    expect(await compact.json()).toEqual([[1, "x"]]);
    const plain = await fetch(`${clickhouse.url}/`, {
      headers: clickhouse.authHeaders(),
      method: "POST",
      body: "SELECT 1, 'x'",
    });
    expect(plain.headers.get("x-clickhouse-format")).toBe("TabSeparated");
    expect(await plain.text()).toBe("1\tx\n");
    const viaDefault = await fetch(`${clickhouse.url}/?default_format=JSONEachRow`, {
      headers: clickhouse.authHeaders(),
      method: "POST",
      body: "SELECT 2 AS b",
    });
    expect(viaDefault.headers.get("x-clickhouse-format")).toBe("JSONEachRow");
    expect(await viaDefault.text()).toBe('{"b":2}\n');
  });

  test("response headers carry query id, summary, timezone and display name", async () => {
    const result = await client.query({
      query: "SELECT number FROM numbers(10)",
      format: "JSONEachRow",
      query_id: "q-headers-1",
    });
    expect(result.query_id).toBe("q-headers-1");
    expect(result.response_headers["x-clickhouse-query-id"]).toBe("q-headers-1");
    expect(result.response_headers["x-clickhouse-timezone"]).toBeTruthy();
    expect(result.response_headers["x-clickhouse-server-display-name"]).toBeTruthy();
    const summary = JSON.parse(String(result.response_headers["x-clickhouse-summary"])) as Record<string, string>;
    expect(summary.read_rows).toBe("10");
    await result.close();
  });

  test("compressed requests and responses round-trip", async () => {
    const compressed = createClient({
      url: clickhouse.url,
      password: clickhouse.password,
      compression: { request: true, response: true },
      log: quiet,
    });
    try {
      await compressed.command({ query: "CREATE TABLE zipped (id UInt32) ENGINE = MergeTree ORDER BY id" });
      const values = Array.from({ length: 1_000 }, (_, id) => ({ id }));
      await compressed.insert({ table: "zipped", values, format: "JSONEachRow" });
      const result = await compressed.query({ query: "SELECT count() AS n FROM zipped", format: "JSONEachRow" });
      expect(await result.json()).toEqual([{ n: 1000 }]);
    } finally {
      await compressed.close();
    }
  });

  test("inserts in CSV, TabSeparated and JSONCompactEachRow pass through", async () => {
    await client.command({ query: "CREATE TABLE formats (id UInt32, name String) ENGINE = MergeTree ORDER BY id" });
    await client.insert({ table: "formats", values: [[1, "json,compact"]], format: "JSONCompactEachRow" });
    await client.command({ query: "SELECT 1" });
    const tsv = await fetch(
      `${clickhouse.url}/?query=${encodeURIComponent("INSERT INTO formats FORMAT TabSeparated")}`,
      {
        headers: clickhouse.authHeaders(),
        method: "POST",
        body: "2\ttab\\tseparated\n",
      },
    );
    expect(tsv.status).toBe(200);
    const csv = await fetch(`${clickhouse.url}/?query=${encodeURIComponent("INSERT INTO formats FORMAT CSV")}`, {
      headers: clickhouse.authHeaders(),
      method: "POST",
      body: '3,"c,s""v"\n',
    });
    expect(JSON.parse(String(csv.headers.get("x-clickhouse-summary"))).written_rows).toBe("1");
    const result = await client.query({
      query: "SELECT id, name FROM formats ORDER BY id",
      format: "JSONCompactEachRow",
    });
    expect(await result.json()).toEqual([
      [1, "json,compact"],
      [2, "tab\tseparated"],
      [3, 'c,s"v'],
    ]);
  });

  test("a bad insert row is a 400 and stores nothing from that batch", async () => {
    await client.command({ query: "CREATE TABLE strict (id UInt32) ENGINE = MergeTree ORDER BY id" });
    const error = await errorOf(
      client.insert({ table: "strict", values: [{ id: 1 }, { id: "not a number" }], format: "JSONEachRow" }),
    );
    expect(error.type).toMatch(/^CANNOT_PARSE/);
    const result = await client.query({ query: "SELECT count() AS n FROM strict", format: "JSONEachRow" });
    expect(await result.json()).toEqual([{ n: 0 }]);
  });
});

describe("statements that change the connection", () => {
  test("a SET or USE sent as a query lasts for that request only, as over HTTP", async () => {
    await client.command({ query: "CREATE DATABASE IF NOT EXISTS elsewhere" });
    await client.command({ query: "SET max_block_size = 777, log_comment = 'a, b = c'" });
    await client.command({ query: "USE elsewhere" });
    const result = await client.query({
      query: "SELECT getSetting('max_block_size') = 777 AS leaked, currentDatabase() AS db",
      format: "JSONEachRow",
    });
    expect(await result.json()).toEqual([{ leaked: 0, db: "default" }]);
  });

  test("queued requests run back to back, each with only its own settings, database and output", async () => {
    await client.command({ query: "CREATE DATABASE IF NOT EXISTS queued_elsewhere" });
    // More sockets than the client's default 10, so requests really wait in the endpoint's queue.
    const wide = createClient({
      url: clickhouse.url,
      password: clickhouse.password,
      max_open_connections: 40,
      log: quiet,
    });
    const scoped = createClient({
      url: clickhouse.url,
      password: clickhouse.password,
      database: "queued_elsewhere",
      max_open_connections: 40,
      log: quiet,
    });
    const sql = "SELECT {index:UInt32} AS index, getSetting('max_block_size') AS size, currentDatabase() AS db";
    const read = async (target: ClickHouseClient, index: number, settings: Record<string, string> = {}) => {
      const result = await target.query({
        query: sql,
        query_params: { index },
        format: "JSONEachRow",
        clickhouse_settings: settings,
      });
      return await result.json();
    };
    try {
      const [first] = (await read(wide, 0)) as { size: number }[];
      const defaultSize = first?.size;
      const runs = Array.from({ length: 40 }, async (_, index) => {
        if (index % 4 === 0) expect(await read(wide, index)).toEqual([{ index, size: defaultSize, db: "default" }]);
        if (index % 4 === 1) {
          const size = 1_000 + index;
          expect(await read(wide, index, { max_block_size: String(size) })).toEqual([{ index, size, db: "default" }]);
        }
        if (index % 4 === 2)
          expect(await read(scoped, index)).toEqual([{ index, size: defaultSize, db: "queued_elsewhere" }]);
        if (index % 4 === 3) {
          // A failure that leaves partial output, then a SET statement, both in the middle of the queue.
          const failing = scoped.query({
            query: "SELECT number, throwIf(number = 150000) FROM numbers(200000)",
            format: "JSON",
          });
          expect((await errorOf(failing)).type).toBe("FUNCTION_THROW_IF_VALUE_IS_NON_ZERO");
          await scoped.command({ query: `SET max_block_size = ${5_000 + index}` });
        }
      });
      await Promise.all(runs);
      expect(await read(wide, 40)).toEqual([{ index: 40, size: defaultSize, db: "default" }]);
    } finally {
      await scoped.close();
      await wide.close();
    }
  });

  test("a keep-alive socket idle past the client's TTL is replaced, not reused broken", async () => {
    const shortLived = createClient({
      url: clickhouse.url,
      password: clickhouse.password,
      keep_alive: { enabled: true, idle_socket_ttl: 200 },
      log: quiet,
    });
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const result = await shortLived.query({ query: "SELECT 1 AS one", format: "JSONEachRow" });
        expect(await result.json()).toEqual([{ one: 1 }]);
        await Bun.sleep(300);
      }
    } finally {
      await shortLived.close();
    }
  });
});
