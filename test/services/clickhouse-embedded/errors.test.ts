import { describe, expect, test } from "bun:test";
import { ClickHouseError, parseError } from "@clickhouse/client";
import {
  ClickHouseHttpError,
  endpointError,
  fromEngineError,
  httpStatusForError,
} from "../../../services/clickhouse-embedded/errors.ts";

describe("fromEngineError", () => {
  test("keeps code, name and detail of an engine message", () => {
    const error = fromEngineError(
      new Error(
        "Code: 60. DB::Exception: Unknown table expression identifier 'nope' in scope SELECT * FROM nope. (UNKNOWN_TABLE)",
      ),
    );
    expect([error.code, error.errorName, error.httpStatus]).toEqual([60, "UNKNOWN_TABLE", 404]);
    expect(error.detail).toBe("Unknown table expression identifier 'nope' in scope SELECT * FROM nope");
  });

  test("a parenthesised token inside the detail is not taken for the name", () => {
    const error = fromEngineError(
      new Error(
        "Code: 62. DB::Exception: Syntax error: failed at position 7 (1): 1. Expected one of: FROM. (SYNTAX_ERROR)",
      ),
    );
    expect([error.code, error.errorName, error.httpStatus]).toEqual([62, "SYNTAX_ERROR", 400]);
    expect(error.detail).toBe("Syntax error: failed at position 7 (1): 1. Expected one of: FROM");
  });

  test("unwraps a message the engine nested in itself", () => {
    const error = fromEngineError(
      new Error(
        "Code: 108. DB::Exception: Code: 108. DB::Exception: No data to insert. (NO_DATA_TO_INSERT) (version 26.7.2.1). (NO_DATA_TO_INSERT)",
      ),
    );
    expect([error.code, error.errorName, error.detail]).toEqual([108, "NO_DATA_TO_INSERT", "No data to insert"]);
  });

  test("anything else becomes UNKNOWN_EXCEPTION with status 500", () => {
    const error = fromEngineError(new TypeError("boom"));
    expect([error.code, error.errorName, error.httpStatus, error.detail]).toEqual([
      1002,
      "UNKNOWN_EXCEPTION",
      500,
      "boom",
    ]);
  });
});

describe("httpStatusForError", () => {
  test("follows ClickHouse's exceptionCodeToHTTPStatus", () => {
    expect(httpStatusForError("SYNTAX_ERROR")).toBe(400);
    expect(httpStatusForError("CANNOT_PARSE_INPUT_ASSERTION_FAILED")).toBe(400);
    expect(httpStatusForError("UNKNOWN_DATABASE")).toBe(404);
    expect(httpStatusForError("UNKNOWN_SETTING")).toBe(404);
    expect(httpStatusForError("AUTHENTICATION_FAILED")).toBe(403);
    expect(httpStatusForError("TIMEOUT_EXCEEDED")).toBe(408);
    expect(httpStatusForError("TOO_MANY_SIMULTANEOUS_QUERIES")).toBe(503);
    expect(httpStatusForError("FUNCTION_THROW_IF_VALUE_IS_NON_ZERO")).toBe(500);
  });
});

describe("ClickHouseHttpError body", () => {
  test("parses back into the client's ClickHouseError with the same code and name", () => {
    const error = endpointError("TOO_MANY_SIMULTANEOUS_QUERIES", "Too many simultaneous queries: 256 queued");
    const body = error.body("26.7.2.1");
    expect(body).toBe(
      "Code: 202. DB::Exception: Too many simultaneous queries: 256 queued. (TOO_MANY_SIMULTANEOUS_QUERIES) (version 26.7.2.1)\n",
    );
    const parsed = parseError(body);
    expect(parsed).toBeInstanceOf(ClickHouseError);
    expect([(parsed as ClickHouseError).code, (parsed as ClickHouseError).type]).toEqual([
      "202",
      "TOO_MANY_SIMULTANEOUS_QUERIES",
    ]);
  });

  test("an error built by hand keeps its fields", () => {
    const error = new ClickHouseHttpError(81, "UNKNOWN_DATABASE", "Database x does not exist");
    expect(error.message).toBe("Code: 81. DB::Exception: Database x does not exist. (UNKNOWN_DATABASE)");
    expect(error.httpStatus).toBe(404);
  });
});
