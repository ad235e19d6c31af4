import { type ErrorBody, type ErrorCode, ErrorCodeStatus } from "../../src/broker-protocol/api-schemas.ts";
import {
  ContentTypeHeader,
  jsonContentType,
  RetryAfterHeader,
  RetryAfterMsHeader,
} from "../../src/broker-protocol/headers.ts";

const retryableCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "slow_down",
  "disk_full",
  "shutting_down",
  "rebalance_in_progress",
  "internal",
]);

/** An error the broker answers as JSON `{error, message, retryable}` with the code's status. */
export class BrokerHttpError extends Error {
  override name = "BrokerHttpError";
  readonly status: number;
  readonly retryable: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: Partial<Pick<ErrorBody, "logStartOffset" | "highWatermark" | "retryAfterMs">> = {},
    override: { status?: number; retryable?: boolean } = {},
  ) {
    super(message);
    this.status = override.status ?? ErrorCodeStatus[code];
    this.retryable = override.retryable ?? retryableCodes.has(code);
  }

  body(): ErrorBody {
    return { error: this.code, message: this.message, retryable: this.retryable, ...this.extra };
  }
}

export function isRetryableCode(code: ErrorCode): boolean {
  return retryableCodes.has(code);
}

/** The Response for an error; slow-down answers carry retry-after (seconds, rounded up). */
export function errorResponse(error: BrokerHttpError): Response {
  const headers: Record<string, string> = { [ContentTypeHeader]: jsonContentType };
  if (error.extra.retryAfterMs !== undefined) {
    headers[RetryAfterHeader] = String(Math.max(1, Math.ceil(error.extra.retryAfterMs / 1000)));
    headers[RetryAfterMsHeader] = String(error.extra.retryAfterMs);
  }
  return new Response(JSON.stringify(error.body()), { status: error.status, headers });
}
