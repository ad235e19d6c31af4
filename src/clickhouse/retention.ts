import type { ClickHouseClient } from "@clickhouse/client";
import { Type } from "@sinclair/typebox";
import type { Logger } from "../observability/logger.ts";
import { assertIdentifier } from "./identifier.ts";
import { queryRows } from "./typed-query.ts";

/**
 * The time column each retained table expires by. The migrations create the tables
 * with the retention configured then; this brings the TTL in line when an operator
 * changes TELEMETRY_RETENTION_DAYS later, without a new migration.
 */
export const retentionTtlColumns: Readonly<Record<string, string>> = Object.freeze({
  datapoints: "toDateTime(ts)",
  datapoints_1m: "minute",
  gpus: "toDateTime(last_seen)",
  gpu_latest: "toDateTime(latest.ts)",
  mig_instances: "toDateTime(last_seen)",
});

const TableTtlRow = Type.Object({ name: Type.String(), engine_full: Type.String() });

export interface RetentionOptions {
  client: ClickHouseClient;
  database: string;
  retentionDays: number;
  log?: Logger | undefined;
}

/** The retention in days a table's TTL currently says, or undefined when it has none. */
export function ttlDaysOf(engineFull: string): number | undefined {
  const match = /TTL .*toIntervalDay\((\d+)\)/.exec(engineFull);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

export interface RetentionDrift {
  table: string;
  /** The days the table's TTL says now; undefined when it has none. */
  days: number | undefined;
}

/** The retained tables whose TTL differs from `retentionDays` (tables not there yet are skipped). */
export async function retentionDrift(options: RetentionOptions): Promise<RetentionDrift[]> {
  assertIdentifier(options.database, "database");
  if (!Number.isInteger(options.retentionDays) || options.retentionDays < 1) {
    throw new RangeError(`retention must be a positive integer number of days, got ${options.retentionDays}`);
  }
  const tables = await queryRows(options.client, {
    name: "table ttl",
    sql: "SELECT name, engine_full FROM system.tables WHERE database = {db:String} AND has({names:Array(String)}, name)",
    params: { db: options.database, names: Object.keys(retentionTtlColumns) },
    row: TableTtlRow,
    rowsMax: Object.keys(retentionTtlColumns).length,
  });
  const drifted: RetentionDrift[] = [];
  for (const table of tables) {
    const days = ttlDaysOf(table.engine_full);
    if (days !== options.retentionDays) drifted.push({ table: table.name, days });
  }
  return drifted;
}

/**
 * Alters only the tables whose TTL differs, so the common start-up does no DDL. Only
 * the process that owns the schema calls this (the migrate command in the chart): two
 * processes with different retention settings would undo each other's TTL.
 */
export async function applyRetention(options: RetentionOptions): Promise<string[]> {
  const altered: string[] = [];
  for (const { table } of await retentionDrift(options)) {
    const column = retentionTtlColumns[table];
    if (column === undefined) continue;
    await options.client.command({
      query: `ALTER TABLE ${options.database}.${table} MODIFY TTL ${column} + INTERVAL ${options.retentionDays} DAY`,
    });
    altered.push(table);
  }
  if (altered.length > 0) options.log?.info({ tables: altered, days: options.retentionDays }, "retention changed");
  return altered;
}
