import { randomUUID } from "node:crypto";
import { defaultDatabase, isSettingName, type RequestContext } from "./connection-state.ts";
import { endpointError } from "./errors.ts";

/** One ClickHouse HTTP request in the terms the engine understands. */
export type QueryPlan = QueryPlanBase & (QueryPlanQuery | QueryPlanInsert | QueryPlanEmptyInsert);

interface QueryPlanBase {
  queryId: string;
  context: RequestContext;
  /** Format of the response body (X-ClickHouse-Format). */
  outputFormat: string;
  /** The client sent enable_http_compression=1. */
  compressionEnabled: boolean;
  /** ClickHouse's readonly level asked for (0 none, 1 reads only, 2 reads and settings): runs on a connection held at it. */
  readonly: ReadonlyLevel;
}

export type ReadonlyLevel = 0 | 1 | 2;

interface QueryPlanQuery {
  kind: "query";
  sql: string;
  /** Format used when the SQL has no FORMAT clause (ClickHouse's default_format). */
  defaultFormat: string;
  params: Record<string, string>;
}

/** `INSERT ... FORMAT X` in the URL and the rows in the body: the body goes to the engine untouched. */
interface QueryPlanInsert {
  kind: "insert";
  prefix: string;
  body: Uint8Array;
}

/** An insert with an empty body: ClickHouse inserts nothing and answers OK. */
interface QueryPlanEmptyInsert {
  kind: "empty-insert";
  prefix: string;
}

export interface HttpQueryInput {
  searchParams: URLSearchParams;
  /** Request body after decompression; empty for GET. */
  body: Uint8Array;
  /** Fields of a multipart/form-data body (query and param_* sent by the client that way). */
  formFields?: ReadonlyMap<string, string>;
}

/** Query-string keys that belong to the HTTP layer, not to the query's settings. */
const httpOnlyKeys = new Set([
  "query",
  "query_id",
  "database",
  "default_format",
  "session_id",
  "session_timeout",
  "session_check",
  "user",
  "password",
  "quota_key",
  "compress",
  "decompress",
  "buffer_size",
  "wait_end_of_query",
  "role",
  "stacktrace",
  "client_protocol_version",
  "enable_http_compression",
  "http_zlib_compression_level",
  "send_progress_in_http_headers",
  "http_headers_progress_interval_ms",
  "http_response_buffer_size",
  "http_native_compression_disable_checksumming_on_decompress",
  "add_http_cors_header",
  "cancel_http_readonly_queries_on_client_close",
  "http_wait_end_of_query",
  "http_write_exception_in_output_format",
  "http_response_headers",
  "max_http_get_redirects",
  // Not a setting of the shared connection (it could never be reset): the request runs on a read-only connection.
  "readonly",
  "profile",
]);

const paramPrefix = "param_";
const outfilePattern = /outfile/i;
const infilePattern = /infile/i;
const setStatementPattern = /^\s*SET\s/i;
const insertPattern = /^\s*INSERT\s+INTO\b/i;
const trailingFormatPattern = /\bFORMAT\s+([A-Za-z][A-Za-z0-9_]*)(\s+SETTINGS\b[^;]*)?\s*;?\s*$/i;
const defaultOutputFormat = "TabSeparated";

/** Reads a ClickHouse HTTP request the way ClickHouse's HTTPHandler does. */
export function translateRequest(input: HttpQueryInput): QueryPlan {
  const { searchParams } = input;
  const fields = collectFields(input);
  const base: QueryPlanBase = {
    queryId: fields.get("query_id") || randomUUID(),
    context: { database: fields.get("database") || defaultDatabase, settings: settingsOf(fields) },
    outputFormat: defaultOutputFormat,
    compressionEnabled: searchParams.get("enable_http_compression") === "1",
    readonly: readonlyOf(fields.get("readonly")),
  };
  refuseSettingsWhenReadonly(base);
  const urlQuery = fields.get("query") ?? "";
  refuseClientFileClauses(urlQuery);
  const defaultFormat = fields.get("default_format") || defaultOutputFormat;
  const params = paramsOf(fields);
  const bodyIsQuery = input.formFields !== undefined;
  if (!bodyIsQuery && Object.keys(params).length === 0 && isInsertWithFormat(urlQuery)) {
    const prefix = urlQuery.trim();
    if (input.body.byteLength === 0) return { ...base, kind: "empty-insert", prefix };
    return { ...base, kind: "insert", prefix, body: input.body };
  }
  const bodyText = bodyIsQuery ? "" : new TextDecoder().decode(input.body);
  // ClickHouse reads the query from the URL first and continues with the body.
  const sql = [urlQuery, bodyText].filter((part) => part.trim() !== "").join("\n");
  if (sql.trim() === "") throw endpointError("SYNTAX_ERROR", "Empty query");
  refuseClientFileClauses(bodyText);
  if (base.readonly === 1 && setStatementPattern.test(sql)) {
    throw endpointError("READONLY", "Cannot modify settings in readonly mode: SET is not allowed with readonly=1");
  }
  const outputFormat = trailingFormatPattern.exec(sql)?.[1] ?? defaultFormat;
  return { ...base, outputFormat, kind: "query", sql, defaultFormat, params };
}

function readonlyOf(value: string | undefined): ReadonlyLevel {
  if (value === undefined || value === "" || value === "0") return 0;
  if (value === "1") return 1;
  if (value === "2") return 2;
  throw endpointError("BAD_ARGUMENTS", `Setting readonly must be 0, 1 or 2, got ${JSON.stringify(value.slice(0, 20))}`);
}

/** readonly=1 forbids changing any setting, those in the URL included (readonly=2 allows them). */
function refuseSettingsWhenReadonly(base: QueryPlanBase): void {
  if (base.readonly !== 1) return;
  const [name] = base.context.settings.keys();
  if (name !== undefined) throw endpointError("READONLY", `Cannot modify '${name}' setting in readonly mode`);
}

/**
 * INTO OUTFILE and FROM INFILE are carried out by clickhouse-local as a client, before
 * access control sees the query, so they would read and write any file this process
 * can; a ClickHouse server refuses both over HTTP. A keyword cannot be escaped, quoted
 * or split in ClickHouse SQL, so text without the word cannot hold the clause: the
 * check refuses any request whose SQL contains it at all (a string or name containing
 * "infile" is refused too, which no query of this pipeline does).
 */
function refuseClientFileClauses(sql: string): void {
  if (outfilePattern.test(sql)) throw endpointError("INTO_OUTFILE_NOT_ALLOWED", "INTO OUTFILE is not allowed");
  if (infilePattern.test(sql)) {
    throw endpointError("UNKNOWN_TYPE_OF_QUERY", "Query has infile and was send directly to server");
  }
}

function collectFields(input: HttpQueryInput): Map<string, string> {
  const fields = new Map<string, string>();
  for (const [key, value] of input.searchParams) fields.set(key, value);
  for (const [key, value] of input.formFields ?? []) fields.set(key, value);
  return fields;
}

function isInsertWithFormat(query: string): boolean {
  return insertPattern.test(query) && trailingFormatPattern.test(query);
}

function paramsOf(fields: ReadonlyMap<string, string>): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [key, value] of fields) {
    if (key.startsWith(paramPrefix)) params[key.slice(paramPrefix.length)] = value;
  }
  return params;
}

function settingsOf(fields: ReadonlyMap<string, string>): Map<string, string> {
  const settings = new Map<string, string>();
  for (const [key, value] of fields) {
    if (key.startsWith(paramPrefix) || httpOnlyKeys.has(key)) continue;
    if (!isSettingName(key))
      throw endpointError("UNKNOWN_SETTING", `Setting ${JSON.stringify(key)} is not a valid name`);
    settings.set(key, value);
  }
  return settings;
}
