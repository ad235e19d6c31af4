import { ClickHouseError } from "@clickhouse/client";

/**
 * ClickHouse error codes that mean "these bytes are not valid rows for this table":
 * retrying the same batch cannot succeed, so a collector must find and set aside the
 * bad records (dead letters) instead of retrying forever.
 */
const dataErrorCodes = new Set([
  "6", // CANNOT_PARSE_TEXT
  "26", // CANNOT_PARSE_QUOTED_STRING
  "27", // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  "32", // ATTEMPT_TO_READ_AFTER_EOF
  "33", // CANNOT_READ_ALL_DATA (a RowBinary body cut inside a row)
  "38", // CANNOT_PARSE_DATE
  "41", // CANNOT_PARSE_DATETIME
  "53", // TYPE_MISMATCH
  "69", // ARGUMENT_OUT_OF_BOUND
  "70", // CANNOT_CONVERT_TYPE
  "72", // CANNOT_PARSE_NUMBER
  "117", // INCORRECT_DATA
  "131", // TOO_LARGE_STRING_SIZE
  "321", // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
  "469", // VIOLATED_CONSTRAINT (datapoints: uuid, metric, finite value)
]);

export type InsertFailure = "data" | "transient";

/**
 * "data" when ClickHouse refused the rows themselves; "transient" for everything else
 * (down, timeouts, too many parts, memory): retry those with backoff.
 */
export function classifyInsertError(error: unknown): InsertFailure {
  return error instanceof ClickHouseError && dataErrorCodes.has(error.code) ? "data" : "transient";
}
