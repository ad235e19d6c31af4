import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ClickHouseError } from "@clickhouse/client";
import { Type } from "@sinclair/typebox";
import { createFetchReader, paramText } from "../../../src/clickhouse/fetch-reader.ts";
import { queryRows, type RowsClient } from "../../../src/clickhouse/typed-query.ts";
import { type ClickHouseFixture, startClickHouseFixture } from "./fixture.ts";

let fixture: ClickHouseFixture;
let reader: RowsClient;

beforeAll(async () => {
  fixture = await startClickHouseFixture();
  reader = createFetchReader({
    url: fixture.clickhouse.url,
    username: "default",
    password: fixture.clickhouse.password,
    database: "default",
    requestTimeoutMs: 10_000,
  });
});
afterAll(async () => {
  await fixture?.stop();
});

const Echo = Type.Object({
  s: Type.String(),
  a: Type.Array(Type.String()),
  n: Type.Integer(),
  f: Type.Number(),
  db: Type.String(),
});
const echoSql =
  "SELECT {s:String} AS s, {a:Array(String)} AS a, {n:Int64} AS n, {f:Float64} AS f, currentDatabase() AS db";
const nasty = [
  "'; DROP TABLE x; --",
  "back\\slash",
  "tab\tnew\nline\rret",
  "quote'in'side",
  "{s:String}",
  "ünïcödé 🚀",
  "",
];

describe("createFetchReader", () => {
  test("binds every parameter as a value, whatever it contains, exactly as @clickhouse/client does", async () => {
    for (const text of nasty) {
      const params = { s: text, a: [text, "x"], n: -9_007_199_254_740_991, f: 0.1 };
      const query = { name: "echo", sql: echoSql, params, row: Echo, rowsMax: 1 };
      const viaReader = await queryRows(reader, query);
      const viaClient = await queryRows(fixture.admin, query);
      expect(viaReader).toEqual([{ ...params, db: "default" }]);
      expect(viaReader).toEqual(viaClient);
    }
  });

  test("a server error is a ClickHouseError with ClickHouse's code", async () => {
    const failing = queryRows(reader, {
      name: "bad",
      sql: "SELECT * FROM no_such_table",
      params: {},
      row: Echo,
      rowsMax: 1,
    });
    const error = await failing.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ClickHouseError);
    expect((error as ClickHouseError).code).toBe("60");
  });

  test("refuses parameter types it does not write, and a bad timeout", () => {
    expect(() => paramText(Number.NaN, "x")).toThrow(TypeError);
    expect(() => paramText({ a: 1 }, "x")).toThrow(TypeError);
    expect(() => paramText([[1]], "x")).toThrow(TypeError);
    expect(paramText([1, 2], "x")).toBe("[1,2]");
    expect(() =>
      createFetchReader({ url: "http://127.0.0.1:1", username: "", password: "", database: "d", requestTimeoutMs: 0 }),
    ).toThrow(RangeError);
  });

  test("an unreachable server fails with a network error, after one more attempt", async () => {
    const nowhere = createFetchReader({
      url: "http://127.0.0.1:1",
      username: "default",
      password: "",
      database: "default",
      requestTimeoutMs: 2_000,
    });
    await expect(nowhere.query({ query: "SELECT 1", format: "JSONEachRow" })).rejects.toThrow();
  });
});
