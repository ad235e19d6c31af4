import type { ErrorBody } from "../broker-protocol/api-schemas.ts";
import {
  AuthorizationHeader,
  ContentTypeHeader,
  jsonContentType,
  RetryAfterHeader,
  RetryAfterMsHeader,
} from "../broker-protocol/headers.ts";
import type { RouteBody, RouteRequest, RouteResponse, RouteSpec } from "../broker-protocol/routes.ts";
import type { BearerToken, BrokerConnection } from "./connection.ts";

export type { BearerToken, BrokerConnection };

/**
 * An error answer from the broker, or a network failure (status 0). `retryable`
 * says whether the same request may succeed later; `retryAfterMs` is the broker's
 * slow-down hint.
 */
export class BrokerClientError extends Error {
  override name = "BrokerClientError";

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs: number,
    readonly body: ErrorBody | undefined,
  ) {
    super(message);
  }
}

/** True for failures worth retrying at start-up: the broker is not up yet, or asks to wait. */
export function isRetryableError(error: unknown): boolean {
  return error instanceof BrokerClientError && error.retryable;
}

export interface BrokerHttpOptions extends BrokerConnection {
  /** Bound on one request (a fetch long-poll adds its wait to this). */
  requestTimeoutMs?: number;
}

/** Thin fetch wrapper: JSON in/out for control routes, raw bytes for produce/fetch. */
export class BrokerHttp {
  readonly baseUrl: string;
  readonly requestTimeoutMs: number;
  private readonly token: BearerToken | undefined;

  constructor(options: BrokerHttpOptions) {
    this.baseUrl = options.brokerUrl.replace(/\/+$/, "");
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.token = options.token;
  }

  /** Sends a request; a non-2xx answer or a network error throws BrokerClientError. */
  async request(
    request: Pick<RouteRequest, "method" | "target">,
    init: { body?: Uint8Array | string; contentType?: string; timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<Response> {
    const { method, target } = request;
    const headers: Record<string, string> = {};
    if (init.contentType !== undefined) headers[ContentTypeHeader] = init.contentType;
    if (this.token !== undefined) {
      headers[AuthorizationHeader] = `Bearer ${typeof this.token === "string" ? this.token : this.token()}`;
    }
    const timeout = AbortSignal.timeout(init.timeoutMs ?? this.requestTimeoutMs);
    const signal = init.signal === undefined ? timeout : AbortSignal.any([timeout, init.signal]);
    let response: Response;
    try {
      response = await fetch(this.baseUrl + target, { method, headers, body: init.body ?? null, signal });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new BrokerClientError(0, "network", `${method} ${target}: ${message}`, true, 0, undefined);
    }
    if (response.ok) return response;
    throw await errorFromResponse(method, target, response);
  }

  /** A JSON route: the body (when the route takes one) out, the route's response type back. */
  async json<R extends RouteSpec>(request: RouteRequest<R>, body?: RouteBody<R>): Promise<RouteResponse<R>> {
    const init = body === undefined ? {} : { body: JSON.stringify(body), contentType: jsonContentType };
    const response = await this.request(request, init);
    return (await response.json()) as RouteResponse<R>;
  }
}

export async function errorFromResponse(method: string, path: string, response: Response): Promise<BrokerClientError> {
  const text = await response.text().catch(() => "");
  let body: ErrorBody | undefined;
  try {
    body = JSON.parse(text) as ErrorBody;
  } catch {
    body = undefined;
  }
  const retryAfterMs = retryAfterFrom(response);
  const retryable = body?.retryable ?? (response.status === 429 || response.status >= 500);
  const code = body?.error ?? `http_${response.status}`;
  const message = `${method} ${path}: ${response.status} ${body?.message ?? text.slice(0, 200)}`;
  return new BrokerClientError(response.status, code, message, retryable, retryAfterMs, body);
}

function retryAfterFrom(response: Response): number {
  const precise = Number(response.headers.get(RetryAfterMsHeader));
  if (Number.isFinite(precise) && precise > 0) return precise;
  const seconds = Number(response.headers.get(RetryAfterHeader));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
}
