import { describe, expect, test } from "bun:test";
import { translateRequest } from "../../../services/clickhouse-embedded/query-translation.ts";

const encoder = new TextEncoder();

function translate(search: Record<string, string>, body = "", formFields?: Map<string, string>) {
  return translateRequest({ searchParams: new URLSearchParams(search), body: encoder.encode(body), formFields });
}

describe("translateRequest", () => {
  test("an INSERT ... FORMAT in the URL sends the body to the engine untouched", () => {
    const rows = '{"id":1}\n{"id":2}\n';
    const plan = translate({ query: "INSERT INTO t (id) FORMAT JSONEachRow", query_id: "q1" }, rows);
    expect(plan.kind).toBe("insert");
    if (plan.kind !== "insert") return;
    expect(plan.prefix).toBe("INSERT INTO t (id) FORMAT JSONEachRow");
    expect(new TextDecoder().decode(plan.body)).toBe(rows);
    expect(plan.queryId).toBe("q1");
  });

  test("an insert with an empty body is a no-op", () => {
    expect(translate({ query: "INSERT INTO t FORMAT JSONEachRow" }).kind).toBe("empty-insert");
  });

  test("the URL query continues with the body, as ClickHouse reads them", () => {
    const plan = translate({ query: "SELECT 1," }, "2 FORMAT JSONEachRow");
    expect(plan.kind).toBe("query");
    if (plan.kind !== "query") return;
    expect(plan.sql).toBe("SELECT 1,\n2 FORMAT JSONEachRow");
    expect(plan.outputFormat).toBe("JSONEachRow");
  });

  test("settings, params and HTTP-only keys are told apart", () => {
    const plan = translate(
      {
        query_id: "q2",
        database: "telemetry",
        default_format: "CSV",
        wait_end_of_query: "1",
        session_id: "s",
        enable_http_compression: "1",
        readonly: "2",
        insert_deduplication_token: "topic-0-1-2",
        max_threads: "2",
        param_name: "it\\'s",
        param_ids: "[1,2]",
      },
      "SELECT {name:String}",
    );
    expect(plan.kind).toBe("query");
    if (plan.kind !== "query") return;
    expect(plan.context.database).toBe("telemetry");
    expect([...plan.context.settings]).toEqual([
      ["insert_deduplication_token", "topic-0-1-2"],
      ["max_threads", "2"],
    ]);
    expect(plan.params).toEqual({ name: "it\\'s", ids: "[1,2]" });
    expect(plan.defaultFormat).toBe("CSV");
    expect(plan.readonly).toBe(2);
    expect(plan.outputFormat).toBe("CSV");
    expect(plan.compressionEnabled).toBe(true);
  });

  test("an insert with parameters goes through the query path so they bind", () => {
    const plan = translate(
      { query: "INSERT INTO {table:Identifier} FORMAT JSONEachRow", param_table: "t" },
      '{"id":1}',
    );
    expect(plan.kind).toBe("query");
  });

  test("multipart fields carry the query and params", () => {
    const fields = new Map([
      ["query", "SELECT {x:UInt8} FORMAT JSON"],
      ["param_x", "7"],
    ]);
    const plan = translate({ query_id: "q3" }, "", fields);
    expect(plan.kind).toBe("query");
    if (plan.kind !== "query") return;
    expect([plan.sql, plan.params, plan.outputFormat]).toEqual(["SELECT {x:UInt8} FORMAT JSON", { x: "7" }, "JSON"]);
  });

  test("the database defaults to default and the output format to TabSeparated", () => {
    const plan = translate({}, "SELECT 1");
    expect([plan.context.database, plan.outputFormat]).toEqual(["default", "TabSeparated"]);
    expect(plan.queryId).toMatch(/^[0-9a-f-]{36}$/);
  });

  test("refuses an empty query and a setting name that is not an identifier", () => {
    expect(() => translate({}, "  \n")).toThrow(/Empty query/);
    expect(() => translate({ "max_threads; DROP": "1" }, "SELECT 1")).toThrow(/UNKNOWN_SETTING/);
  });
});
