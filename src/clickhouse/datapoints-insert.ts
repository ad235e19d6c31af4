import { Readable } from "node:stream";
import { type ClickHouseClient, drainStream } from "@clickhouse/client";
import type { TelemetryPoint } from "../domain/telemetry.ts";
import { encodeTelemetryRecord, recordColumns, recordRow } from "../telemetry/record-codec.ts";
import { sourceColumns } from "./source-columns.ts";

/** One insert body at most; ClickHouse is happiest with 1,000-100,000 rows an insert. */
export const insertBodyBytesMax = 256 * 1024 * 1024;
export const dedupTokenLengthMax = 512;

export interface DatapointsInsertOptions {
  /** Same batch, same token: a re-insert is stored once (see the datapoints table's settings). */
  dedupToken: string;
  /** Every row is followed by its source columns (source-columns.ts): what a collector inserts. */
  withSource?: boolean;
}

export interface DatapointsInsertResult {
  queryId: string;
  bodyBytes: number;
}

/** The collector's token for a batch: the log range it came from identifies it exactly. */
export function batchDedupToken(batch: {
  topic: string;
  partition: number;
  firstOffset: bigint | number;
  lastOffset: bigint | number;
}): string {
  return `${batch.topic}/${batch.partition}/${batch.firstOffset}-${batch.lastOffset}`;
}

const insertSql = `INSERT INTO datapoints (${recordColumns.join(", ")}) FORMAT RowBinary`;
const sourcedInsertSql = `INSERT INTO datapoints (${[...recordColumns, ...sourceColumns].join(", ")}) FORMAT RowBinary`;

/**
 * Inserts a RowBinary body of datapoints rows (binary records without their tag, see
 * src/telemetry/record-codec.ts) into `datapoints`, byte for byte: `insert()` would
 * re-serialize, so the body goes through `exec` as an INSERT with a non-object-mode stream.
 */
export async function insertDatapointRows(
  client: ClickHouseClient,
  body: Uint8Array,
  options: DatapointsInsertOptions,
): Promise<DatapointsInsertResult> {
  assertDedupToken(options.dedupToken);
  if (body.byteLength === 0) throw new RangeError("datapoints insert: empty body");
  if (body.byteLength > insertBodyBytesMax) {
    throw new RangeError(
      `datapoints insert: body of ${body.byteLength} bytes exceeds insertBodyBytesMax ${insertBodyBytesMax}`,
    );
  }
  const result = await client.exec({
    query: options.withSource === true ? sourcedInsertSql : insertSql,
    values: Readable.from([body], { objectMode: false }),
    clickhouse_settings: {
      insert_deduplicate: 1,
      insert_deduplication_token: options.dedupToken,
      // Without it ClickHouse 26 still pushes a deduplicated block into the views and
      // doubles the rollup (the tests prove both this and the retry after a view failed).
      deduplicate_blocks_in_dependent_materialized_views: 1,
    },
  });
  // Reading the (empty) response to its end lets the keep-alive socket be reused.
  await drainStream(result.stream);
  return { queryId: result.query_id, bodyBytes: body.byteLength };
}

/** Points encoded as records and inserted as one body: for tools, fixtures and benchmarks. */
export function insertDatapoints(
  client: ClickHouseClient,
  points: readonly TelemetryPoint[],
  options: DatapointsInsertOptions,
): Promise<DatapointsInsertResult> {
  return insertDatapointRows(client, joinRecordRows(points.map(encodeTelemetryRecord)), options);
}

/** The rows of binary records, concatenated with one allocation. */
export function joinRecordRows(records: readonly Uint8Array[]): Uint8Array {
  let bytes = 0;
  for (const record of records) bytes += record.byteLength - 1;
  const body = new Uint8Array(bytes);
  let position = 0;
  for (const record of records) {
    const row = recordRow(record);
    body.set(row, position);
    position += row.byteLength;
  }
  return body;
}

function assertDedupToken(token: string): void {
  if (token.length === 0 || token.length > dedupTokenLengthMax) {
    throw new RangeError(
      `datapoints insert: dedup token length must be in [1, ${dedupTokenLengthMax}], got ${token.length}`,
    );
  }
}
