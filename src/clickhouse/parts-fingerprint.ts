import { type Static, Type } from "@sinclair/typebox";
import { queryRows, type RowsClient } from "./typed-query.ts";

/**
 * What the datapoints of a time window are stored in: the active parts of the
 * datapoints table whose ts range can overlap [startMs, endMs], each as
 * `name:rows:modified`. A part never changes once written; every insert, merge,
 * mutation, lightweight delete and TTL drop replaces parts, and a part's name
 * (partition, block range, merge level, mutation version) is not reused within a
 * table. So two equal fingerprints, the second read later, mean no row of the window
 * was added, changed or removed in between: an answer computed from the first state is
 * still exact. Parts that cannot hold the window's rows are left out, so new data for
 * other windows does not change it. A dropped and re-created table numbers its blocks
 * from 1 again: rows and modification time (seconds) are in the fingerprint for that.
 * Not covered (this schema uses neither): mutations applied on the fly
 * (apply_mutations_on_fly) and lightweight UPDATE patch parts.
 */

/** DateTimes as epoch-second text (date_time_output_format = 'unix_timestamp'). */
const EpochSecondsText = Type.String({ pattern: "^[0-9]+$" });

export const PartRow = Type.Object({
  name: Type.String({ minLength: 1 }),
  rows: Type.Integer({ minimum: 0 }),
  modification_time: EpochSecondsText,
  min_time: EpochSecondsText,
  max_time: EpochSecondsText,
});
export type PartRow = Static<typeof PartRow>;

/** More active parts than this in one table is a bug or a table in trouble (ClickHouse refuses inserts at 3,000 a partition). */
export const fingerprintPartsMax = 100_000;

export interface PartsFingerprintOptions {
  /** Inclusive bounds, UTC epoch milliseconds. */
  startMs: number;
  endMs: number;
}

/**
 * Every active part with its ts bounds; the window's parts are picked here rather than
 * in SQL, which costs the engine more than listing them all (chdb: ~2.3 vs ~3.2 ms).
 */
const partsSql = `SELECT name, rows, modification_time, min_time, max_time
FROM system.parts
WHERE database = currentDatabase() AND table = 'datapoints' AND active
SETTINGS date_time_output_format = 'unix_timestamp'`;

/** The active datapoints parts, and whether their min_time/max_time are bounds of ts. */
export interface DatapointsParts {
  parts: PartRow[];
  boundsAreTs: boolean;
}

/**
 * ClickHouse fills min_time/max_time from the Date/DateTime columns of the partition
 * key: they bound ts only if ts is the key's one such column (it is: toYYYYMMDD(ts)).
 */
const partitionTimeColumnsSql = `SELECT name FROM system.columns
WHERE database = currentDatabase() AND table = 'datapoints' AND is_in_partition_key AND type LIKE '%Date%'`;
const PartitionColumnRow = Type.Object({ name: Type.String() });
/** A table has far fewer columns than this. */
const partitionColumnsMax = 1_000;

/**
 * Reads the active datapoints parts. Whether the partition key bounds ts is asked once
 * per reader: the key of a table cannot be altered, only the table re-created, which
 * a migration does and the API runs its migrations at start-up. Until known, and if
 * not, every part counts for every window (a fingerprint that changes too often, never
 * one that misses a change).
 */
export class DatapointsPartsReader {
  private boundsAreTs: Promise<boolean> | undefined;

  constructor(private readonly client: RowsClient) {}

  async read(): Promise<DatapointsParts> {
    this.boundsAreTs ??= this.partitionBoundsTs().catch((error: unknown) => {
      this.boundsAreTs = undefined;
      throw error;
    });
    const [boundsAreTs, parts] = await Promise.all([this.boundsAreTs, datapointsParts(this.client)]);
    return { parts, boundsAreTs };
  }

  private async partitionBoundsTs(): Promise<boolean> {
    const columns = await queryRows(this.client, {
      name: "datapoints partition time columns",
      sql: partitionTimeColumnsSql,
      params: {},
      row: PartitionColumnRow,
      rowsMax: partitionColumnsMax,
    });
    return columns.length === 1 && columns[0]?.name === "ts";
  }
}

/** Every active datapoints part, with what a window fingerprint needs. */
export function datapointsParts(client: RowsClient): Promise<PartRow[]> {
  return queryRows(client, {
    name: "datapoints parts",
    sql: partsSql,
    params: {},
    row: PartRow,
    rowsMax: fingerprintPartsMax,
  });
}

/** The fingerprint of the parts that can hold rows of [startMs, endMs]; "" when none can. */
export function windowFingerprint(snapshot: DatapointsParts, options: PartsFingerprintOptions): string {
  assertWindow(options);
  const { startMs, endMs } = options;
  return snapshot.parts
    .filter((part) => !snapshot.boundsAreTs || mayHoldWindow(part, startMs, endMs))
    .map((part) => `${part.name}:${part.rows}:${part.modification_time}`)
    .sort()
    .join(",");
}

export async function datapointsPartsFingerprint(
  client: RowsClient,
  options: PartsFingerprintOptions,
): Promise<string> {
  assertWindow(options);
  return windowFingerprint(await new DatapointsPartsReader(client).read(), options);
}

function assertWindow({ startMs, endMs }: PartsFingerprintOptions): void {
  if (!Number.isSafeInteger(startMs) || !Number.isSafeInteger(endMs) || endMs < startMs) {
    throw new RangeError(
      `parts fingerprint window must be integer milliseconds, start <= end, got ${startMs}..${endMs}`,
    );
  }
}

/**
 * min_time/max_time are the part's ts bounds truncated to whole seconds, so comparing
 * them with the window's bounds truncated the same way can only keep a part too many.
 * A part without them (0) is always kept.
 */
function mayHoldWindow(part: PartRow, startMs: number, endMs: number): boolean {
  const minS = Number(part.min_time);
  const maxS = Number(part.max_time);
  if (minS === 0 && maxS === 0) return true;
  return maxS >= Math.floor(startMs / 1_000) && minS <= Math.floor(endMs / 1_000);
}
