import { ClickHouseError } from "@clickhouse/client";

/** Socket-level failures: ClickHouse is down, restarting or unreachable. */
const networkErrorCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "ConnectionRefused",
  "ConnectionClosed",
]);

/** Server-side codes that mean "overloaded or temporarily unable", not "your query is wrong". */
const transientClickHouseCodes = new Set([
  "159", // TIMEOUT_EXCEEDED
  "202", // TOO_MANY_SIMULTANEOUS_QUERIES
  "209", // SOCKET_TIMEOUT
  "210", // NETWORK_ERROR
  "241", // MEMORY_LIMIT_EXCEEDED
  "242", // TABLE_IS_READ_ONLY
  "252", // TOO_MANY_PARTS
]);

const transientMessagePattern = /socket hang up|timeout error|connect(ion)? (refused|reset|closed)|unable to connect/i;

/** Whether a failed ClickHouse call should become a 503 with a retry hint rather than a 500. */
export function isUnavailableError(error: unknown): boolean {
  if (error instanceof ClickHouseError) return transientClickHouseCodes.has(error.code);
  if (!(error instanceof Error)) return false;
  if (hasNetworkCode(error) || transientMessagePattern.test(error.message)) return true;
  const cause = (error as Error & { cause?: unknown }).cause;
  return cause instanceof Error && cause !== error && hasNetworkCode(cause);
}

function hasNetworkCode(error: Error): boolean {
  const code = (error as Error & { code?: unknown }).code;
  return typeof code === "string" && networkErrorCodes.has(code);
}
