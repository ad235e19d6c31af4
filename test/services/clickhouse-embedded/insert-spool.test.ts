import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine } from "../../../services/clickhouse-embedded/engine.ts";
import { bodyNeedsSpool, infileInsertSql } from "../../../services/clickhouse-embedded/insert-spool.ts";

describe("infileInsertSql", () => {
  test("puts FROM INFILE after the table and columns, before SETTINGS and FORMAT", () => {
    expect(infileInsertSql("INSERT INTO t (a, b) FORMAT RowBinary", "/s/1.bin")).toBe(
      "INSERT INTO t (a, b) FROM INFILE '/s/1.bin' FORMAT RowBinary",
    );
    expect(infileInsertSql("INSERT INTO db.t SETTINGS x = 1, y = 'z' FORMAT JSONEachRow", "/s/it's.bin")).toBe(
      "INSERT INTO db.t FROM INFILE '/s/it\\'s.bin' SETTINGS x = 1, y = 'z' FORMAT JSONEachRow",
    );
    expect(() => infileInsertSql("INSERT INTO t VALUES", "/s")).toThrow(/FORMAT/);
  });

  test("only bodies with a blank line take the spool", () => {
    const bytes = (...values: number[]) => new Uint8Array(values);
    expect(bodyNeedsSpool(bytes(1, 10, 2, 10, 3))).toBe(false);
    expect(bodyNeedsSpool(bytes(1, 10, 10, 3))).toBe(true);
    expect(bodyNeedsSpool(bytes(1, 10, 10, 3).subarray(0, 2))).toBe(false);
  });
});

describe("inserts whose body holds a blank line", () => {
  let directory: string;
  let engine: Engine;
  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), "insert-spool-"));
    engine = await Engine.open(directory);
    await engine.query({
      sql: "CREATE TABLE t (s String, x UInt8) ENGINE = MergeTree ORDER BY s SETTINGS non_replicated_deduplication_window = 100",
      format: "TabSeparated",
    });
  });
  afterAll(() => {
    engine?.close();
    rmSync(directory, { recursive: true, force: true });
  });
  const rows = async () =>
    new TextDecoder().decode(
      (await engine.query({ sql: "SELECT hex(s), x FROM t ORDER BY s, x", format: "TabSeparated" })).bytes,
    );

  test("a RowBinary body is stored whole, bytes after the blank line included", async () => {
    const text = new TextEncoder().encode("a\n\nb");
    const body = new Uint8Array([text.length, ...text, 7, 1, 0x0a, 8]);
    const result = await engine.insert({ prefix: "INSERT INTO t (s, x) FORMAT RowBinary", body });
    expect(result.rowsWritten).toBe(2);
    expect(await rows()).toBe("0A\t8\n610A0A62\t7\n");
  });

  test("a JSONEachRow body with blank lines keeps every row", async () => {
    await engine.query({ sql: "TRUNCATE TABLE t", format: "TabSeparated" });
    const body = new TextEncoder().encode('{"s":"c","x":1}\n\n{"s":"d","x":2}\n\n\n{"s":"e","x":3}\n');
    await engine.insert({ prefix: "INSERT INTO t FORMAT JSONEachRow", body });
    expect(await rows()).toBe("63\t1\n64\t2\n65\t3\n");
  });

  test("settings of the prefix apply: the same deduplication token stores the block once", async () => {
    await engine.query({ sql: "TRUNCATE TABLE t", format: "TabSeparated" });
    const spooled = new Uint8Array([2, 0x0a, 0x0a, 5]);
    const prefix = "INSERT INTO t SETTINGS insert_deduplicate = 1, insert_deduplication_token = 'tok' FORMAT RowBinary";
    await engine.insert({ prefix, body: spooled });
    await engine.insert({ prefix, body: spooled });
    expect(await rows()).toBe("0A0A\t5\n");
  });
});
