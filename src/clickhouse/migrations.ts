import { createHash } from "node:crypto";
import type { ClickHouseClient } from "@clickhouse/client";
import { Type } from "@sinclair/typebox";
import type { Logger } from "../observability/logger.ts";
import { assertIdentifier } from "./identifier.ts";
import { applyRetention } from "./retention.ts";
import { migrations as allMigrations } from "./schema/all-migrations.ts";
import type { Migration } from "./schema/migration.ts";
import { queryRows } from "./typed-query.ts";

/** The database lacks migrations this code needs, and this process does not apply them. */
export class SchemaNotCurrentError extends Error {
  override name = "SchemaNotCurrentError";
}

/** An applied migration whose text changed, or two processes that disagree on one. */
export class MigrationChecksumError extends Error {
  override name = "MigrationChecksumError";
}

export interface MigrateOptions {
  /** Any client whose own database exists (e.g. "default"): the target may not exist yet. */
  client: ClickHouseClient;
  database: string;
  retentionDays: number;
  /** Epoch milliseconds; stamps `applied_at`. */
  clock: () => number;
  log?: Logger;
  /** Tests pass their own list; processes use the schema's. */
  migrations?: readonly Migration[];
}

export interface MigrateReport {
  applied: number[];
  alreadyApplied: number[];
  /** Versions recorded in the database that this code does not know (a newer release ran). */
  unknown: number[];
}

const migrationsTableDdl = `CREATE TABLE IF NOT EXISTS {{db}}.schema_migrations
(
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY version
SETTINGS non_replicated_deduplication_window = 1000`;

const AppliedRow = Type.Object({
  version: Type.Integer({ minimum: 1 }),
  checksums: Type.Array(Type.String()),
});

const appliedVersionsMax = 10_000;
const retentionDaysMax = 36_500;

/** sha256 over the templates, so it is the same whatever the database or retention. */
export function migrationChecksum(migration: Migration): string {
  return createHash("sha256")
    .update(`${migration.name}\n${migration.statements.join("\n;\n")}`)
    .digest("hex");
}

export function renderStatement(template: string, context: { database: string; retentionDays: number }): string {
  assertIdentifier(context.database, "database");
  return template
    .replaceAll("{{db}}", context.database)
    .replaceAll("{{retention_days}}", String(context.retentionDays));
}

/**
 * Brings `database` to the newest schema. Safe to run from every process at start-up,
 * several at once: each statement is idempotent DDL and each migration is recorded with
 * a deterministic insert_deduplication_token, so a double apply stores one record. A
 * recorded checksum that differs from the code's is a loud error, checked before and
 * after applying (the second check catches a racing process with other migrations).
 */
export async function migrate(options: MigrateOptions): Promise<MigrateReport> {
  const list = options.migrations ?? allMigrations;
  assertMigrationList(list);
  assertIdentifier(options.database, "database");
  assertRetentionDays(options.retentionDays);
  const context = { database: options.database, retentionDays: options.retentionDays };
  await options.client.command({
    query: "CREATE DATABASE IF NOT EXISTS {db:Identifier}",
    query_params: { db: options.database },
  });
  await options.client.command({ query: renderStatement(migrationsTableDdl, context) });
  const before = await readApplied(options.client, options.database);
  const report = verifyApplied(list, before, options.database);
  const pending = list.filter((migration) => !before.has(migration.version));
  for (const migration of pending) {
    await applyOne(options, migration, context);
    report.applied.push(migration.version);
  }
  verifyApplied(list, await readApplied(options.client, options.database), options.database);
  await applyRetention({
    client: options.client,
    database: options.database,
    retentionDays: options.retentionDays,
    log: options.log,
  });
  options.log?.info({ database: options.database, ...report }, "clickhouse schema up to date");
  return report;
}

export interface SchemaStatusOptions {
  client: ClickHouseClient;
  database: string;
  migrations?: readonly Migration[];
}

/**
 * What the database holds against this code, changing nothing: versions still
 * pending (all of them when the database or its migrations table is missing), and
 * versions a newer release recorded. An edited migration is a MigrationChecksumError.
 */
export async function schemaStatus(options: SchemaStatusOptions): Promise<{ pending: number[]; unknown: number[] }> {
  const list = options.migrations ?? allMigrations;
  assertIdentifier(options.database, "database");
  const tables = await queryRows(options.client, {
    name: "migrations table",
    sql: "SELECT name FROM system.tables WHERE database = {db:String} AND name = 'schema_migrations'",
    params: { db: options.database },
    row: Type.Object({ name: Type.String() }),
    rowsMax: 1,
  });
  const applied =
    tables.length === 0 ? new Map<number, string[]>() : await readApplied(options.client, options.database);
  const report = verifyApplied(list, applied, options.database);
  const pending = list.map((migration) => migration.version).filter((version) => !applied.has(version));
  return { pending, unknown: report.unknown };
}

/** Throws SchemaNotCurrentError naming the pending versions unless every migration of this code is applied. */
export async function assertSchemaCurrent(options: SchemaStatusOptions): Promise<void> {
  const status = await schemaStatus(options);
  if (status.pending.length === 0) return;
  throw new SchemaNotCurrentError(
    `database ${options.database} lacks migrations ${status.pending.join(", ")}: ` +
      "waiting for the process that applies them (the migrate job, or a service with CLICKHOUSE_MIGRATE_ON_START=true)",
  );
}

async function applyOne(
  options: MigrateOptions,
  migration: Migration,
  context: { database: string; retentionDays: number },
): Promise<void> {
  options.log?.info({ version: migration.version, name: migration.name }, "applying migration");
  for (const template of migration.statements) {
    await options.client.command({ query: renderStatement(template, context) });
  }
  const checksum = migrationChecksum(migration);
  await options.client.insert({
    table: `${options.database}.schema_migrations`,
    values: [{ version: migration.version, name: migration.name, checksum, applied_at: options.clock() }],
    format: "JSONEachRow",
    clickhouse_settings: { insert_deduplication_token: `schema_migrations:${migration.version}:${checksum}` },
  });
}

async function readApplied(client: ClickHouseClient, database: string): Promise<Map<number, string[]>> {
  const rows = await queryRows(client, {
    name: "applied migrations",
    sql: `SELECT version, arraySort(groupUniqArray(checksum)) AS checksums
FROM {db:Identifier}.schema_migrations GROUP BY version ORDER BY version`,
    params: { db: database },
    row: AppliedRow,
    rowsMax: appliedVersionsMax,
  });
  return new Map(rows.map((row) => [row.version, row.checksums]));
}

function verifyApplied(list: readonly Migration[], applied: Map<number, string[]>, database: string): MigrateReport {
  const known = new Map(list.map((migration) => [migration.version, migrationChecksum(migration)]));
  const report: MigrateReport = { applied: [], alreadyApplied: [], unknown: [] };
  for (const [version, checksums] of applied) {
    const expected = known.get(version);
    if (expected === undefined) {
      report.unknown.push(version);
      continue;
    }
    if (checksums.length !== 1 || checksums[0] !== expected) {
      throw new MigrationChecksumError(
        `migration ${version} in ${database}.schema_migrations has checksum ${checksums.join(",")} ` +
          `but this code's is ${expected}: an applied migration was edited; add a new one instead`,
      );
    }
    report.alreadyApplied.push(version);
  }
  return report;
}

function assertMigrationList(list: readonly Migration[]): void {
  list.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new Error(`migration list out of order: position ${index} holds version ${migration.version}`);
    }
    if (migration.statements.length === 0) throw new Error(`migration ${migration.version} has no statements`);
  });
}

function assertRetentionDays(days: number): void {
  if (!Number.isInteger(days) || days < 1 || days > retentionDaysMax) {
    throw new RangeError(`retention must be an integer number of days in [1, ${retentionDaysMax}], got ${days}`);
  }
}
