/**
 * ClickHouse-shaped errors: the text body `Code: N. DB::Exception: ... (NAME) (version V)`,
 * the X-ClickHouse-Exception-Code header, and the HTTP status ClickHouse's own
 * exceptionCodeToHTTPStatus picks for that error. `@clickhouse/client` parses the body
 * into a ClickHouseError with `.code` and `.type`.
 */

/** Codes this endpoint raises itself (the engine's own errors carry theirs). */
export const ErrorCode = {
  BAD_ARGUMENTS: 36,
  SYNTAX_ERROR: 62,
  UNKNOWN_SETTING: 115,
  UNKNOWN_COMPRESSION_METHOD: 89,
  TIMEOUT_EXCEEDED: 159,
  TOO_MANY_SIMULTANEOUS_QUERIES: 202,
  AUTHENTICATION_FAILED: 516,
  READONLY: 164,
  INTO_OUTFILE_NOT_ALLOWED: 358,
  UNKNOWN_TYPE_OF_QUERY: 78,
  UNSUPPORTED_METHOD: 1,
  ABORTED: 236,
} as const;

export type ErrorName = keyof typeof ErrorCode;

/** Error names ClickHouse answers with 400 (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp). */
const badRequestNames = new Set([
  "BAD_ARGUMENTS",
  "CANNOT_COMPILE_REGEXP",
  "CANNOT_PARSE_TEXT",
  "CANNOT_PARSE_ESCAPE_SEQUENCE",
  "CANNOT_PARSE_QUOTED_STRING",
  "CANNOT_PARSE_DATE",
  "CANNOT_PARSE_DATETIME",
  "CANNOT_PARSE_NUMBER",
  "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING",
  "CANNOT_PARSE_IPV4",
  "CANNOT_PARSE_IPV6",
  "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
  "CANNOT_PARSE_UUID",
  "DUPLICATE_COLUMN",
  "ILLEGAL_COLUMN",
  "UNKNOWN_ELEMENT_IN_AST",
  "UNKNOWN_TYPE_OF_AST_NODE",
  "THERE_IS_NO_COLUMN",
  "TOO_DEEP_AST",
  "TOO_BIG_AST",
  "UNEXPECTED_AST_STRUCTURE",
  "SYNTAX_ERROR",
  "INCORRECT_DATA",
  "TYPE_MISMATCH",
  "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
]);

/** Error names ClickHouse answers with 404. */
const notFoundNames = new Set([
  "UNKNOWN_TABLE",
  "UNKNOWN_FUNCTION",
  "UNKNOWN_IDENTIFIER",
  "UNKNOWN_TYPE",
  "UNKNOWN_STORAGE",
  "UNKNOWN_DATABASE",
  "UNKNOWN_SETTING",
  "UNKNOWN_DIRECTION_OF_SORTING",
  "UNKNOWN_AGGREGATE_FUNCTION",
  "UNKNOWN_FORMAT",
  "UNKNOWN_DATABASE_ENGINE",
  "UNKNOWN_TYPE_OF_QUERY",
  "UNKNOWN_ROLE",
]);

const otherStatusByName: Record<string, number> = {
  REQUIRED_PASSWORD: 401,
  UNKNOWN_USER: 403,
  WRONG_PASSWORD: 403,
  AUTHENTICATION_FAILED: 403,
  SET_NON_GRANTED_ROLE: 403,
  ACCESS_DENIED: 403,
  READONLY: 403,
  QUERY_IS_TOO_LARGE: 413,
  NOT_IMPLEMENTED: 501,
  SOCKET_TIMEOUT: 503,
  CANNOT_OPEN_FILE: 503,
  HTTP_LENGTH_REQUIRED: 411,
  TIMEOUT_EXCEEDED: 408,
  CANNOT_SCHEDULE_TASK: 503,
  UNSUPPORTED_MEDIA_TYPE: 415,
  // ClickHouse itself answers 500 here; a full queue is load shedding, and 503 tells
  // clients and proxies that a retry later is the right reaction.
  TOO_MANY_SIMULTANEOUS_QUERIES: 503,
};

/** The HTTP status ClickHouse uses for an error name; 500 for everything unlisted. */
export function httpStatusForError(name: string): number {
  if (badRequestNames.has(name)) return 400;
  if (notFoundNames.has(name)) return 404;
  return otherStatusByName[name] ?? 500;
}

/** An error with ClickHouse's code and name, ready to be sent as a ClickHouse HTTP error. */
export class ClickHouseHttpError extends Error {
  override name = "ClickHouseHttpError";
  constructor(
    readonly code: number,
    readonly errorName: string,
    /** The message without the `Code: N. DB::Exception:` prefix and `(NAME)` suffix. */
    readonly detail: string,
  ) {
    super(`Code: ${code}. DB::Exception: ${detail}. (${errorName})`);
  }

  get httpStatus(): number {
    return httpStatusForError(this.errorName);
  }

  /** The body ClickHouse sends: one line ending with the server version. */
  body(serverVersion: string): string {
    return `${this.message} (version ${serverVersion})\n`;
  }
}

/** Builds an endpoint-raised error by name, so code and name can never disagree. */
export function endpointError(name: ErrorName, detail: string): ClickHouseHttpError {
  return new ClickHouseHttpError(ErrorCode[name], name, detail);
}

// `Code: 62. DB::Exception: <detail>. (SYNTAX_ERROR)`, possibly followed by ` (version ...)`.
// The detail is greedy so a `(1)` or `(SELECT)` inside it is not taken for the name.
const engineMessagePattern = /^Code: (\d+)\. DB::Exception: ([\s\S]*) \(([A-Z][A-Z0-9_]*)\)(?: \(version [^)]*\))?\s*$/;
/** The engine sometimes wraps its own message once more; unwrap at most this many layers. */
const nestingDepthMax = 3;

/** Turns whatever the engine threw into a ClickHouseHttpError, keeping its code and name. */
export function fromEngineError(error: unknown): ClickHouseHttpError {
  if (error instanceof ClickHouseHttpError) return error;
  const message = error instanceof Error ? error.message : String(error);
  let match = engineMessagePattern.exec(message.trim());
  if (match === null) {
    return new ClickHouseHttpError(1002, "UNKNOWN_EXCEPTION", message.trim() || "unknown engine error");
  }
  const [, code, , errorName] = match;
  let detail = match[2] ?? "";
  for (let depth = 0; depth < nestingDepthMax; depth++) {
    match = engineMessagePattern.exec(detail.replace(/\.$/, ""));
    if (match === null) break;
    detail = match[2] ?? "";
  }
  return new ClickHouseHttpError(Number(code), errorName ?? "UNKNOWN_EXCEPTION", detail.replace(/\.$/, "").trim());
}
