import { Elysia, ValidationError } from "elysia";
import type { Logger } from "../../src/observability/logger.ts";
import { ApiError, type ErrorCode, type ErrorDetail } from "./errors.ts";
import { OverloadedError } from "./query-gate.ts";
import { isUnavailableError } from "./unavailable.ts";
import { type SchemaError, validationDetails } from "./validation-details.ts";

export interface ErrorHandlerOptions {
  logger: Logger;
  requestId: (request: Request) => string;
  /** Sent as Retry-After and retry_after_s when ClickHouse is unreachable. */
  retryAfterS: number;
}

interface ErrorBody {
  error: ErrorCode;
  message: string;
  details: ErrorDetail[];
  request_id: string;
  retry_after_s?: number;
}

/**
 * Every failure leaves as the same JSON shape: Elysia's own validation errors are
 * reshaped, ApiErrors keep their status, an unreachable ClickHouse is a 503 with a
 * retry hint, and anything else a 500 that only says which request id to look up.
 * No stack trace or SQL ever reaches the client.
 */
export function errorHandler(options: ErrorHandlerOptions) {
  return new Elysia({ name: "error-handler" }).onError({ as: "global" }, ({ code, error, request, route, set }) => {
    const requestId = options.requestId(request);
    const reply = (status: number, body: Omit<ErrorBody, "request_id">): ErrorBody => {
      set.status = status;
      set.headers["content-type"] = "application/json";
      return { ...body, request_id: requestId };
    };
    if (error instanceof ApiError && error.code === "unavailable") {
      set.headers["retry-after"] = String(options.retryAfterS);
      const body = { error: error.code, message: error.message, details: error.details };
      return reply(error.status, { ...body, retry_after_s: options.retryAfterS });
    }
    if (error instanceof ApiError) {
      return reply(error.status, { error: error.code, message: error.message, details: error.details });
    }
    const schemaErrors = requestSchemaErrors(code, error);
    if (schemaErrors !== undefined) {
      const details = validationDetails(schemaErrors, new URL(request.url).searchParams);
      const summary = details.map((detail) => `${detail.field} ${detail.problem}`).join("; ") || "see /swagger";
      return reply(400, { error: "bad_request", message: `Invalid request: ${summary}`, details });
    }
    if (code === "NOT_FOUND") {
      const message = `No route ${request.method} ${new URL(request.url).pathname}; the API is described at /swagger`;
      return reply(404, { error: "not_found", message, details: [] });
    }
    if (code === "PARSE") {
      return reply(400, { error: "bad_request", message: "The request could not be parsed", details: [] });
    }
    if (error instanceof OverloadedError) {
      options.logger.warn({ requestId, route, reason: error.message }, "clickhouse concurrency limit reached");
      set.headers["retry-after"] = String(options.retryAfterS);
      const message = `Too many requests are waiting for ClickHouse; retry in ${options.retryAfterS} s`;
      return reply(503, { error: "unavailable", message, details: [], retry_after_s: options.retryAfterS });
    }
    if (isUnavailableError(error)) {
      options.logger.warn({ requestId, route, err: describe(error) }, "clickhouse unavailable");
      set.headers["retry-after"] = String(options.retryAfterS);
      const message = `ClickHouse is unreachable or overloaded; retry in ${options.retryAfterS} s`;
      return reply(503, { error: "unavailable", message, details: [], retry_after_s: options.retryAfterS });
    }
    options.logger.error({ requestId, route, code, err: error }, "unexpected error");
    const message = `Unexpected error; it was logged with request id ${requestId}`;
    return reply(500, { error: "internal", message, details: [] });
  });
}

/**
 * The schema errors of a request that failed validation, or undefined for any other
 * failure. A response that fails its schema is our bug (a 500), not the client's.
 * Elysia reports most failures as a ValidationError, but an array query parameter
 * whose item fails (e.g. metric too long) arrives as TypeBox's TransformDecodeCheckError.
 */
function requestSchemaErrors(code: unknown, error: unknown): SchemaError[] | undefined {
  if (error instanceof ValidationError) return error.type === "response" ? undefined : error.all;
  if (code !== "VALIDATION" || typeof error !== "object" || error === null) return undefined;
  const inner = (error as { error?: Partial<SchemaError> }).error;
  if (inner === undefined || typeof inner.message !== "string") return [];
  return [{ path: "", message: inner.message, value: inner.value, schema: inner.schema }];
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
