import { type Static, Type } from "@sinclair/typebox";
import { componentId } from "./openapi-ids.ts";

/** One thing wrong with the request: which parameter, and what about it. */
export const ErrorDetail = Type.Object(
  {
    field: Type.String({ description: "the parameter at fault, e.g. start_time, metric, cursor, id" }),
    problem: Type.String({ description: "what is wrong with it and what is accepted" }),
  },
  { additionalProperties: false },
);
export type ErrorDetail = Static<typeof ErrorDetail>;

function errorBody<const Code extends string>(code: Code, description: string) {
  return Type.Object(
    {
      error: Type.Literal(code),
      message: Type.String({ description: "one sentence a person can act on" }),
      details: Type.Array(ErrorDetail),
      request_id: Type.String({ description: "quote it when reporting a problem; also in the x-request-id header" }),
    },
    { $id: componentId(`${pascal(code)}Error`), description, additionalProperties: false },
  );
}

function pascal(code: string): string {
  return code
    .split("_")
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("");
}

export const BadRequestError = errorBody("bad_request", "The request is malformed; details name each bad parameter");
export const NotFoundError = errorBody("not_found", "No such GPU (or route)");
export const InternalError = errorBody("internal", "Unexpected failure; logged with the request id");
export const UnavailableError = Type.Object(
  {
    ...errorBody("unavailable", "").properties,
    retry_after_s: Type.Integer({ minimum: 1, description: "seconds to wait before retrying (also Retry-After)" }),
  },
  {
    $id: componentId("UnavailableError"),
    description: "ClickHouse is unreachable; retry later",
    additionalProperties: false,
  },
);

export const UnauthorizedError = Type.Object(
  {
    ...errorBody("missing_token", "").properties,
    error: Type.Union([Type.Literal("missing_token"), Type.Literal("invalid_token")]),
  },
  {
    $id: componentId("UnauthorizedError"),
    description:
      "No bearer token, or one this API does not accept (scope read; the answer carries WWW-Authenticate: Bearer)",
    additionalProperties: false,
  },
);

export type ErrorCode = "bad_request" | "not_found" | "unavailable" | "internal" | "missing_token" | "invalid_token";

const statusByCode: Record<ErrorCode, number> = {
  bad_request: 400,
  not_found: 404,
  unavailable: 503,
  internal: 500,
  missing_token: 401,
  invalid_token: 401,
};

/** An error a handler throws on purpose; the error handler turns it into the JSON body. */
export class ApiError extends Error {
  override name = "ApiError";
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
    this.status = statusByCode[code];
  }
}

export function badRequest(field: string, problem: string): ApiError {
  return new ApiError("bad_request", `Invalid ${field}: ${problem}`, [{ field, problem }]);
}

export function notFound(message: string, details: ErrorDetail[] = []): ApiError {
  return new ApiError("not_found", message, details);
}
