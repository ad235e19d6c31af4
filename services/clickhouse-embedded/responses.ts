import type { EngineResult } from "./engine.ts";
import type { ClickHouseHttpError } from "./errors.ts";
import { encodeBody, pickResponseCodec } from "./http-compression.ts";
import type { QueryPlan } from "./query-translation.ts";

/** What every response says about the server. */
export interface ServerIdentity {
  displayName: string;
  timezone: string;
  version: string;
  keepAliveTimeoutS: number;
}

const binaryFormatPrefixes = [
  "Parquet",
  "Arrow",
  "ORC",
  "Avro",
  "Native",
  "RowBinary",
  "Protobuf",
  "MsgPack",
  "BSON",
  "CapnProto",
];

/** Content-Type for an output format, following ClickHouse's choices for the common families. */
export function contentTypeOf(format: string): string {
  if (format.startsWith("JSON")) return "application/json; charset=UTF-8";
  if (format.startsWith("CSV")) return "text/csv; charset=UTF-8; header=absent";
  if (format.startsWith("TabSeparated") || format.startsWith("TSV")) return "text/tab-separated-values; charset=UTF-8";
  if (binaryFormatPrefixes.some((prefix) => format.startsWith(prefix))) return "application/octet-stream";
  return "text/plain; charset=UTF-8";
}

/** X-ClickHouse-Summary: every value a decimal string, as ClickHouse sends them. */
export function summaryHeader(result: EngineResult): string {
  return JSON.stringify({
    read_rows: String(result.rowsRead),
    read_bytes: String(result.bytesRead),
    written_rows: String(result.rowsWritten),
    written_bytes: String(result.bytesWritten),
    total_rows_to_read: String(result.rowsRead),
    result_rows: String(result.rowsWritten),
    result_bytes: String(result.bytes.byteLength),
    elapsed_ns: String(result.elapsedNs),
  });
}

function identityHeaders(server: ServerIdentity): Record<string, string> {
  return {
    "X-ClickHouse-Server-Display-Name": server.displayName,
    "X-ClickHouse-Timezone": server.timezone,
    "Keep-Alive": `timeout=${server.keepAliveTimeoutS}`,
  };
}

/** ClickHouse's answer to a bare GET / (and /ping). */
export function okResponse(server: ServerIdentity): Response {
  return new Response("Ok.\n", { headers: { ...identityHeaders(server), "Content-Type": "text/html; charset=UTF-8" } });
}

/** A ClickHouse exception: text body, X-ClickHouse-Exception-Code, ClickHouse's status for it. */
export function errorResponse(
  server: ServerIdentity,
  error: ClickHouseHttpError,
  queryId: string | undefined,
): Response {
  const headers: Record<string, string> = {
    ...identityHeaders(server),
    "Content-Type": "text/plain; charset=UTF-8",
    "X-ClickHouse-Exception-Code": String(error.code),
  };
  if (queryId !== undefined) headers["X-ClickHouse-Query-Id"] = queryId;
  return new Response(error.body(server.version), { status: error.httpStatus, headers });
}

/** A query result, compressed when the client asked with enable_http_compression=1. */
export function resultResponse(
  server: ServerIdentity,
  plan: QueryPlan,
  result: EngineResult,
  acceptEncoding: string | null,
): Response {
  const headers: Record<string, string> = {
    ...identityHeaders(server),
    "Content-Type": contentTypeOf(plan.outputFormat),
    "X-ClickHouse-Query-Id": plan.queryId,
    "X-ClickHouse-Format": plan.outputFormat,
    "X-ClickHouse-Summary": summaryHeader(result),
  };
  const codec = plan.compressionEnabled ? pickResponseCodec(acceptEncoding) : undefined;
  if (codec === undefined || result.bytes.byteLength === 0) return new Response(result.bytes, { headers });
  headers["Content-Encoding"] = codec;
  return new Response(encodeBody(result.bytes, codec), { headers });
}
