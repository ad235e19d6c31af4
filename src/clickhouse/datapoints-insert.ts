import { Readable } from "node:stream";
import { type ClickHouseClient, drainStream } from "@clickhouse/client";

/** One insert body at most; ClickHouse is happiest with 1,000-100,000 rows an insert. */
export const insertBodyBytesMax = 256 * 1024 * 1024;
export const dedupTokenLengthMax = 512;

export interface DatapointsInsertOptions {
  /** Same batch, same token: a re-insert is stored once (see the datapoints table's settings). */
  dedupToken: string;
}

export interface DatapointsInsertResult {
  queryId: string;
  bodyBytes: number;
}

/**
 * JSONEachRow parsing as strict as ClickHouse allows: an unknown field, a null, a
 * boolean for a number or an object for a string is an error, not a silent default.
 * (Omitted fields still take column defaults; the collector validates records first.)
 */
const strictJsonInput = {
  input_format_skip_unknown_fields: 0,
  input_format_null_as_default: 0,
  input_format_json_read_bools_as_numbers: 0,
  input_format_json_read_bools_as_strings: 0,
  input_format_json_read_objects_as_strings: 0,
  input_format_json_read_arrays_as_strings: 0,
} as const;

/** The collector's token for a batch: the log range it came from identifies it exactly. */
export function batchDedupToken(batch: { topic: string; partition: number; firstOffset: bigint | number; lastOffset: bigint | number }): string {
  return `${batch.topic}/${batch.partition}/${batch.firstOffset}-${batch.lastOffset}`;
}

/**
 * Inserts wire records (one TelemetryPoint JSON object a line) into `datapoints` as a
 * JSONEachRow body, byte for byte: `insert()` would re-serialize values, so this sends
 * the body through `exec` as an INSERT with a non-object-mode stream. Unknown fields
 * are an error (the wire record and the table must agree), not silently dropped.
 */
export async function insertDatapointLines(
  client: ClickHouseClient,
  lines: DatapointLines,
  options: DatapointsInsertOptions,
): Promise<DatapointsInsertResult> {
  assertDedupToken(options.dedupToken);
  const body = joinLines(lines);
  if (body.byteLength === 0) throw new RangeError("datapoints insert: empty body");
  if (body.byteLength > insertBodyBytesMax) {
    throw new RangeError(`datapoints insert: body of ${body.byteLength} bytes exceeds insertBodyBytesMax ${insertBodyBytesMax}`);
  }
  const result = await client.exec({
    query: "INSERT INTO datapoints FORMAT JSONEachRow",
    values: Readable.from([body], { objectMode: false }),
    clickhouse_settings: {
      insert_deduplicate: 1,
      insert_deduplication_token: options.dedupToken,
      // Without it ClickHouse 26 still pushes a deduplicated block into the views and
      // doubles the rollup (the tests prove both this and the retry after a view failed).
      deduplicate_blocks_in_dependent_materialized_views: 1,
      ...strictJsonInput,
    },
  });
  // Reading the (empty) response to its end lets the keep-alive socket be reused.
  await drainStream(result.stream);
  return { queryId: result.query_id, bodyBytes: body.byteLength };
}

/**
 * One JSON object a line: strings, the records' raw value bytes as the broker delivered
 * them (joined with one copy, never parsed), or a body already joined.
 */
export type DatapointLines = readonly string[] | readonly Uint8Array[] | Uint8Array;

const newline = new Uint8Array([0x0a]);

function joinLines(lines: DatapointLines): Uint8Array {
  if (lines instanceof Uint8Array) return lines;
  if (lines.length === 0) return new Uint8Array(0);
  if (typeof lines[0] === "string") return Buffer.from((lines as readonly string[]).join("\n"));
  const chunks: Uint8Array[] = [];
  for (const line of lines as readonly Uint8Array[]) {
    if (chunks.length > 0) chunks.push(newline);
    chunks.push(line);
  }
  return Buffer.concat(chunks);
}

function assertDedupToken(token: string): void {
  if (token.length === 0 || token.length > dedupTokenLengthMax) {
    throw new RangeError(`datapoints insert: dedup token length must be in [1, ${dedupTokenLengthMax}], got ${token.length}`);
  }
}
