import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from "../../support/embedded-clickhouse.ts";

/**
 * A hostile client with the endpoint's password tries every way ClickHouse has to
 * reach the host or the network: each is refused with ClickHouse's own error (code,
 * name and HTTP status as a server gives them), nothing is read or written, and the
 * endpoint's own spooled inserts (FROM INFILE inside the endpoint) still work.
 */
let clickhouse: EmbeddedClickHouse;
let scratch = "";
const secretText = "the host's secret file";

beforeAll(async () => {
  clickhouse = await startEmbeddedClickHouse();
  scratch = mkdtempSync(join(tmpdir(), "host-access-"));
  writeFileSync(join(scratch, "secret.txt"), `${secretText}\n`);
});
afterAll(async () => {
  await clickhouse?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

async function run(sql: string, query = ""): Promise<{ status: number; code: string | null; text: string }> {
  const response = await fetch(`${clickhouse.url}/${query}`, {
    method: "POST",
    body: sql,
    headers: clickhouse.authHeaders(),
  });
  return {
    status: response.status,
    code: response.headers.get("x-clickhouse-exception-code"),
    text: await response.text(),
  };
}

const accessDenied = { status: 403, code: "497" };

describe("embedded ClickHouse refuses what reaches the host or the network", () => {
  test("table functions: file, url, remote, s3, hdfs, mysql, postgresql, jdbc, odbc, sqlite, azure, filesystem", async () => {
    const secret = join(scratch, "secret.txt");
    const cases = [
      `SELECT * FROM file('${secret}', 'LineAsString')`,
      "SELECT * FROM file('/etc/passwd', 'LineAsString')",
      `SELECT * FROM filesystem('${scratch}')`,
      "SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')",
      "SELECT * FROM remote('127.0.0.1:1', system.one)",
      "SELECT * FROM remoteSecure('127.0.0.1:1', system.one)",
      "SELECT * FROM s3('http://127.0.0.1:1/bucket-name/key.csv', 'LineAsString')",
      "SELECT * FROM hdfs('hdfs://127.0.0.1:1/x', 'LineAsString')",
      "SELECT * FROM mysql('127.0.0.1:1', 'db', 't', 'u', 'p')",
      "SELECT * FROM postgresql('127.0.0.1:1', 'db', 't', 'u', 'p')",
      "SELECT * FROM jdbc('datasource', 'db', 't')",
      "SELECT * FROM odbc('dsn', 'db', 't')",
      `SELECT * FROM sqlite('${join(scratch, "x.db")}', 't')`,
      "SELECT * FROM azureBlobStorage('http://127.0.0.1:1/account', 'container', 'blob.csv')",
    ];
    for (const sql of cases) {
      const answer = await run(sql);
      expect({ sql, status: answer.status, code: answer.code }).toEqual({ sql, ...accessDenied });
      expect(answer.text).toContain("(ACCESS_DENIED)");
      expect(answer.text).not.toContain(secretText);
    }
  }, 60_000);

  test("writes through table functions and host-reaching engines, dictionaries and backups are refused", async () => {
    const written = join(scratch, "written.txt");
    const cases = [
      `INSERT INTO FUNCTION file('${written}', 'LineAsString') SELECT 'x'`,
      `CREATE TABLE leak (line String) ENGINE = File(LineAsString, '${join(scratch, "secret.txt")}')`,
      "CREATE TABLE leak_url (line String) ENGINE = URL('http://127.0.0.1:1/', LineAsString)",
      "CREATE TABLE leak_s3 (line String) ENGINE = S3('http://127.0.0.1:1/bucket-name/k.csv', 'CSV')",
      `CREATE DICTIONARY leak_dict (line String) PRIMARY KEY line SOURCE(FILE(path '${join(scratch, "secret.txt")}' format 'LineAsString')) LAYOUT(FLAT()) LIFETIME(0)`,
      "SYSTEM SHUTDOWN",
      "SYSTEM DROP DNS CACHE",
      "CREATE USER intruder",
      "SELECT * FROM system.users",
    ];
    for (const sql of cases) {
      const answer = await run(sql);
      expect({ sql, status: answer.status, code: answer.code }).toEqual({ sql, ...accessDenied });
    }
    expect(existsSync(written)).toBe(false);
    expect((await run("CREATE TABLE kept (n UInt8) ENGINE = MergeTree ORDER BY n")).status).toBe(200);
    const backup = await run(`BACKUP TABLE kept TO File('${join(scratch, "b.zip")}')`);
    expect({ status: backup.status, code: backup.code }).toEqual(accessDenied);
    expect((await run("SELECT count() FROM kept")).text).toBe("0\n");
    // A table's own disk must lie inside the endpoint's directory (the engine still creates the empty directory).
    const disk = await run(
      `CREATE TABLE on_disk (n UInt8) ENGINE = MergeTree ORDER BY n SETTINGS disk = disk(type = local, path = '${join(scratch, "disk")}/')`,
    );
    expect(disk.status).toBe(400);
    expect(disk.text).toContain("must be inside");
    expect((await run("EXISTS TABLE on_disk")).text).toBe("0\n");
  });

  test("INTO OUTFILE and FROM INFILE from a client are refused as a server refuses them; nothing is written", async () => {
    const outfile = join(scratch, "out.txt");
    const out = await run(`SELECT 1 INTO OUTFILE '${outfile}'`);
    expect({ status: out.status, code: out.code }).toEqual({ status: 500, code: "358" });
    expect(out.text).toContain("INTO OUTFILE is not allowed");
    const commented = await run(`SELECT 1 INTO /* hidden */ OutFile '${outfile}' FORMAT TSV`);
    expect(commented.code).toBe("358");
    expect(existsSync(outfile)).toBe(false);
    expect((await run("CREATE TABLE lines (line String) ENGINE = MergeTree ORDER BY line")).status).toBe(200);
    const query = `?query=${encodeURIComponent(`INSERT INTO lines FROM INFILE '${join(scratch, "secret.txt")}' FORMAT LineAsString`)}`;
    const infile = await run("", query);
    expect({ status: infile.status, code: infile.code }).toEqual({ status: 404, code: "78" });
    expect((await run("SELECT count() FROM lines")).text).toBe("0\n");
  });

  test("the endpoint's own spooled insert (a body with a blank line goes through FROM INFILE) still works", async () => {
    expect((await run("CREATE TABLE spooled (s String) ENGINE = MergeTree ORDER BY s")).status).toBe(200);
    const body = `${JSON.stringify({ s: "a\n\nb" })}\n${JSON.stringify({ s: "c" })}\n\n${JSON.stringify({ s: "d" })}\n`;
    const response = await fetch(
      `${clickhouse.url}/?query=${encodeURIComponent("INSERT INTO spooled FORMAT JSONEachRow")}`,
      {
        method: "POST",
        body,
        headers: clickhouse.authHeaders(),
      },
    );
    expect(response.status).toBe(200);
    expect((await run("SELECT count() FROM spooled")).text).toBe("3\n");
  });

  test("the pipeline's own statements keep working: DDL, inserts, OPTIMIZE, SYSTEM merges, numbers()", async () => {
    for (const sql of [
      "CREATE DATABASE IF NOT EXISTS own",
      "CREATE TABLE own.t (n UInt32) ENGINE = MergeTree ORDER BY n",
      "CREATE MATERIALIZED VIEW own.v ENGINE = MergeTree ORDER BY n AS SELECT n FROM own.t",
      "INSERT INTO own.t SELECT number FROM numbers(10)",
      "ALTER TABLE own.t MODIFY TTL toDateTime(n) + INTERVAL 1 DAY",
      "SYSTEM STOP MERGES own.t",
      "SYSTEM START MERGES own.t",
      "OPTIMIZE TABLE own.t FINAL",
      "SELECT count() FROM system.parts WHERE database = 'own'",
      "DROP TABLE own.v",
    ]) {
      const answer = await run(sql);
      expect({ sql, status: answer.status, text: answer.status === 200 ? "" : answer.text }).toEqual({
        sql,
        status: 200,
        text: "",
      });
    }
  });
});

describe("readonly is honoured", () => {
  test("readonly=1: reads pass; writes, DDL and setting changes are READONLY (164, 403)", async () => {
    expect((await run("CREATE TABLE IF NOT EXISTS ro (n UInt8) ENGINE = MergeTree ORDER BY n")).status).toBe(200);
    expect((await run("SELECT count() FROM ro", "?readonly=1")).text).toBe("0\n");
    for (const [sql, query] of [
      ["INSERT INTO ro VALUES (1)", "?readonly=1"],
      ["CREATE TABLE ro2 (n UInt8) ENGINE = MergeTree ORDER BY n", "?readonly=1"],
      ["DROP TABLE ro", "?readonly=1"],
      ["SET max_threads = 1", "?readonly=1"],
      ["SELECT 1", "?readonly=1&max_threads=1"],
    ] as const) {
      const answer = await run(sql, query);
      expect({ sql, query, status: answer.status, code: answer.code }).toEqual({
        sql,
        query,
        status: 403,
        code: "164",
      });
    }
    const insert = await fetch(
      `${clickhouse.url}/?readonly=1&query=${encodeURIComponent("INSERT INTO ro FORMAT CSV")}`,
      {
        method: "POST",
        body: "1\n",
        headers: clickhouse.authHeaders(),
      },
    );
    expect(insert.status).toBe(403);
    expect((await run("SELECT count() FROM ro")).text).toBe("0\n");
  });

  test("readonly=2: settings may change, writes may not; readonly cannot be lifted; the shared connection stays writable", async () => {
    expect((await run("SELECT getSetting('max_threads')", "?readonly=2&max_threads=3")).text).toBe("3\n");
    expect((await run("INSERT INTO ro VALUES (1)", "?readonly=2")).code).toBe("164");
    expect((await run("SET readonly = 0", "?readonly=2")).code).toBe("164");
    const lift = await run("SET readonly = 1");
    expect(lift.code).toBe("452");
    expect((await run("INSERT INTO ro VALUES (2)")).status).toBe(200);
    expect((await run("SELECT count() FROM ro")).text).toBe("1\n");
    expect((await run("SELECT 1", "?readonly=7")).status).toBe(400);
  });

  test("the password is required: none or a wrong one is refused; the generated file is not used when one is given", async () => {
    const anonymous = await fetch(`${clickhouse.url}/?query=SELECT+1`);
    expect(anonymous.status).toBe(403);
    expect(readFileSync(join(clickhouse.dataDir, "endpoint-access", "users.xml"), "utf8")).toContain("GRANT SHOW");
    expect(existsSync(join(clickhouse.dataDir, "endpoint-access", "password"))).toBe(false);
  });
});
