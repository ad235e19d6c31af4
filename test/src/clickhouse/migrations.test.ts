import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  assertSchemaCurrent,
  MigrationChecksumError,
  migrate,
  migrationChecksum,
  SchemaNotCurrentError,
  schemaStatus,
} from "../../../src/clickhouse/migrations.ts";
import { ttlDaysOf } from "../../../src/clickhouse/retention.ts";
import { migrations } from "../../../src/clickhouse/schema/all-migrations.ts";
import type { Migration } from "../../../src/clickhouse/schema/migration.ts";
import { type ClickHouseFixture, countOf, startClickHouseFixture } from "./fixture.ts";

let fixture: ClickHouseFixture;
const clock = () => Date.now();

beforeAll(async () => {
  fixture = await startClickHouseFixture();
});
afterAll(async () => {
  await fixture?.stop();
});

async function tablesOf(database: string): Promise<Map<string, string>> {
  const result = await fixture.admin.query({
    query: "SELECT name, engine, engine_full FROM system.tables WHERE database = {db:String}",
    query_params: { db: database },
    format: "JSONEachRow",
  });
  const rows = await result.json<{ name: string; engine: string; engine_full: string }>();
  return new Map(rows.map((row) => [row.name, `${row.engine}|${row.engine_full}`]));
}

const tinyMigration = (version: number, table: string): Migration => ({
  version,
  name: `table ${table}`,
  statements: [`CREATE TABLE IF NOT EXISTS {{db}}.${table} (x UInt8) ENGINE = MergeTree ORDER BY x`],
});

describe("migrate", () => {
  test("creates the database, every table and view, and records each version once", async () => {
    const report = await migrate({ client: fixture.admin, database: "m_once", retentionDays: 30, clock });
    expect(report).toEqual({ applied: migrations.map((m) => m.version), alreadyApplied: [], unknown: [] });
    const tables = await tablesOf("m_once");
    expect([...tables.keys()].sort()).toEqual([
      "datapoints",
      "datapoints_1m",
      "datapoints_1m_mv",
      "datapoints_minutes",
      "datapoints_minutes_mv",
      "gpu_latest",
      "gpu_latest_mv",
      "gpus",
      "gpus_mv",
      "mig_instances",
      "mig_instances_mv",
      "schema_migrations",
    ]);
    expect(tables.get("datapoints")).toContain("ORDER BY (uuid, metric, ts)");
    expect(tables.get("datapoints")).toContain("non_replicated_deduplication_window = 10000");
    expect(tables.get("gpus_mv")).toStartWith("MaterializedView|");
    const recorded = await fixture.admin.query({
      query: "SELECT version, checksum FROM m_once.schema_migrations ORDER BY version",
      format: "JSONEachRow",
    });
    expect(await recorded.json()).toEqual(
      migrations.map((m) => ({ version: m.version, checksum: migrationChecksum(m) })),
    );
  });

  test("a second run applies nothing and records nothing", async () => {
    await migrate({ client: fixture.admin, database: "m_twice", retentionDays: 30, clock });
    const report = await migrate({ client: fixture.admin, database: "m_twice", retentionDays: 30, clock });
    expect(report).toEqual({ applied: [], alreadyApplied: migrations.map((m) => m.version), unknown: [] });
    expect(await countOf(fixture.admin, "SELECT count() AS n FROM m_twice.schema_migrations")).toBe(migrations.length);
  });

  test("four migrators racing on a new database all succeed and record each version once", async () => {
    const clients = [0, 1, 2, 3].map(() => fixture.clientFor("default"));
    const reports = await Promise.all(
      clients.map((client) => migrate({ client, database: "m_race", retentionDays: 30, clock })),
    );
    for (const report of reports) expect(report.applied.length + report.alreadyApplied.length).toBe(migrations.length);
    expect(await countOf(fixture.admin, "SELECT count() AS n FROM m_race.schema_migrations")).toBe(migrations.length);
    expect((await tablesOf("m_race")).size).toBe(12);
  });

  test("an applied migration whose text changed is a loud error", async () => {
    const original = [tinyMigration(1, "a"), tinyMigration(2, "b")];
    await migrate({ client: fixture.admin, database: "m_edit", retentionDays: 30, clock, migrations: original });
    const edited: Migration[] = [original[0] as Migration, { ...tinyMigration(2, "b"), statements: ["SELECT 1"] }];
    const attempt = migrate({
      client: fixture.admin,
      database: "m_edit",
      retentionDays: 30,
      clock,
      migrations: edited,
    });
    await expect(attempt).rejects.toThrow(MigrationChecksumError);
    await expect(attempt).rejects.toThrow(/migration 2 in m_edit\.schema_migrations has checksum/);
  });

  test("versions applied by newer code are reported, not fatal", async () => {
    const newer = [tinyMigration(1, "a"), tinyMigration(2, "b")];
    await migrate({ client: fixture.admin, database: "m_newer", retentionDays: 30, clock, migrations: newer });
    const older = newer.slice(0, 1);
    const report = await migrate({
      client: fixture.admin,
      database: "m_newer",
      retentionDays: 30,
      clock,
      migrations: older,
    });
    expect(report).toEqual({ applied: [], alreadyApplied: [1], unknown: [2] });
  });

  test("a migration list out of order is refused before touching the database", async () => {
    const list = [tinyMigration(2, "b")];
    await expect(
      migrate({ client: fixture.admin, database: "m_order", retentionDays: 30, clock, migrations: list }),
    ).rejects.toThrow(/position 0 holds version 2/);
    expect((await tablesOf("m_order")).size).toBe(0);
  });

  test("the database name must be an identifier", async () => {
    for (const database of ["bad-name", "x; DROP DATABASE default", "`x`", "", "1abc"]) {
      await expect(migrate({ client: fixture.admin, database, retentionDays: 30, clock })).rejects.toThrow(RangeError);
    }
  });

  test("a changed retention alters the TTL of every retained table at the next start", async () => {
    await migrate({ client: fixture.admin, database: "m_ttl", retentionDays: 30, clock });
    await migrate({ client: fixture.admin, database: "m_ttl", retentionDays: 7, clock });
    const tables = await tablesOf("m_ttl");
    for (const name of ["datapoints", "datapoints_1m", "gpus", "gpu_latest", "mig_instances"]) {
      expect(ttlDaysOf(tables.get(name) ?? "")).toBe(7);
    }
  });
});

describe("schemaStatus", () => {
  test("reads what is applied without changing anything: all pending on a missing database, none after migrating", async () => {
    const versions = migrations.map((migration) => migration.version);
    expect(await schemaStatus({ client: fixture.admin, database: "m_status" })).toEqual({
      pending: versions,
      unknown: [],
    });
    expect(await tablesOf("m_status")).toEqual(new Map());
    await expect(assertSchemaCurrent({ client: fixture.admin, database: "m_status" })).rejects.toThrow(
      SchemaNotCurrentError,
    );
    await migrate({
      client: fixture.admin,
      database: "m_status",
      retentionDays: 30,
      clock,
      migrations: migrations.slice(0, 2),
    });
    const partly = await schemaStatus({ client: fixture.admin, database: "m_status" });
    expect(partly.pending).toEqual(versions.slice(2));
    await expect(assertSchemaCurrent({ client: fixture.admin, database: "m_status" })).rejects.toThrow(
      `lacks migrations ${versions.slice(2).join(", ")}`,
    );
    await migrate({ client: fixture.admin, database: "m_status", retentionDays: 30, clock });
    await assertSchemaCurrent({ client: fixture.admin, database: "m_status" });
    // Code older than the database: the newer versions are reported, the schema counts as current.
    expect(
      await schemaStatus({ client: fixture.admin, database: "m_status", migrations: migrations.slice(0, 3) }),
    ).toEqual({
      pending: [],
      unknown: versions.slice(3),
    });
  });
});

describe("ttlDaysOf", () => {
  test("reads the day count of a TTL clause and nothing else", () => {
    expect(ttlDaysOf("MergeTree ORDER BY x TTL toDateTime(ts) + toIntervalDay(30) SETTINGS a = 1")).toBe(30);
    expect(ttlDaysOf("MergeTree ORDER BY x SETTINGS a = 1")).toBeUndefined();
  });
});
