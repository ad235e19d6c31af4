import type { Logger } from "../../src/observability/logger.ts";
import { type AuthOptions, checkAuth } from "./auth.ts";
import type { Engine, EngineResult } from "./engine.ts";
import { endpointError, fromEngineError } from "./errors.ts";
import type { JobRunner } from "./executor-pool.ts";
import { decodeBody } from "./http-compression.ts";
import type { EndpointMetrics, RequestKind } from "./metrics.ts";
import { type HttpQueryInput, type QueryPlan, translateRequest } from "./query-translation.ts";
import { errorResponse, okResponse, resultResponse, type ServerIdentity } from "./responses.ts";

export interface ClickHouseHandlerOptions {
  engine: Engine;
  /** Queries, DDL and SETs: one connection (parameterized statements must not run in parallel). */
  executor: JobRunner;
  /** Inserts; the query executor when absent. */
  insertExecutor?: JobRunner;
  /** Requests with readonly=1 or 2 (queries and inserts alike) run here, on a connection held at that level. */
  readonlyExecutors?: { 1: JobRunner; 2: JobRunner };
  metrics: EndpointMetrics;
  logger: Logger;
  auth: AuthOptions;
  bodyBytesMax: number;
  keepAliveTimeoutS: number;
  displayName: string;
}

/** Answers `/` (GET and POST) the way ClickHouse's HTTP interface does. */
export class ClickHouseHandler {
  readonly server: ServerIdentity;

  constructor(private readonly options: ClickHouseHandlerOptions) {
    this.server = {
      displayName: options.displayName,
      timezone: options.engine.timezone,
      version: options.engine.version,
      keepAliveTimeoutS: options.keepAliveTimeoutS,
    };
  }

  async handle(request: Request): Promise<Response> {
    const startedMs = performance.now();
    const url = new URL(request.url);
    let plan: QueryPlan | undefined;
    try {
      if (request.method !== "GET" && request.method !== "POST") {
        throw endpointError("UNSUPPORTED_METHOD", `HTTP method ${request.method} is not supported`);
      }
      checkAuth(request.headers, url.searchParams, this.options.auth);
      if (request.method === "GET" && !url.searchParams.has("query")) return okResponse(this.server);
      const input = await readInput(request, url, this.options.bodyBytesMax);
      const bodyReadMs = performance.now() - startedMs;
      plan = translateRequest(input);
      const result = await this.execute(plan, request.signal);
      this.record(kindOf(plan), 200, startedMs, result);
      this.options.logger.debug(
        {
          queryId: plan.queryId,
          kind: plan.kind,
          bodyBytes: input.body.byteLength,
          bodyReadMs: Math.round(bodyReadMs),
          engineMs: Math.round(result.elapsedNs / 1e6),
          totalMs: Math.round(performance.now() - startedMs),
        },
        "query done",
      );
      return resultResponse(this.server, plan, result, request.headers.get("accept-encoding"));
    } catch (caught) {
      return this.fail(caught, plan, startedMs);
    }
  }

  private execute(plan: QueryPlan, signal: AbortSignal): Promise<EngineResult> {
    const readonly = plan.readonly === 0 ? undefined : this.readonlyRunner(plan.readonly);
    if (plan.kind === "empty-insert") {
      if (plan.readonly !== 0) throw endpointError("READONLY", "Cannot execute query in readonly mode");
      return Promise.resolve(emptyResult());
    }
    if (plan.kind === "insert") {
      const run = (engine: Engine) => engine.insert({ prefix: plan.prefix, body: plan.body });
      const runner = readonly ?? this.options.insertExecutor ?? this.options.executor;
      return runner.submit({ context: plan.context, run, signal });
    }
    const run = (engine: Engine) => engine.query({ sql: plan.sql, format: plan.defaultFormat, params: plan.params });
    return (readonly ?? this.options.executor).submit({ context: plan.context, run, signal, sql: plan.sql });
  }

  private readonlyRunner(level: 1 | 2): JobRunner {
    const runner = this.options.readonlyExecutors?.[level];
    if (runner === undefined) throw endpointError("READONLY", "This endpoint serves no readonly connection");
    return runner;
  }

  private fail(caught: unknown, plan: QueryPlan | undefined, startedMs: number): Response {
    const error = fromEngineError(caught);
    this.record(plan === undefined ? "other" : kindOf(plan), error.httpStatus, startedMs);
    const level = error.httpStatus >= 500 ? "warn" : "debug";
    this.options.logger[level](
      { queryId: plan?.queryId, code: error.code, status: error.httpStatus, err: error.message },
      "query failed",
    );
    return errorResponse(this.server, error, plan?.queryId);
  }

  private record(kind: RequestKind, status: number, startedMs: number, result?: EngineResult): void {
    const { metrics } = this.options;
    metrics.requests.inc({ kind, status: String(status) });
    metrics.durationSeconds.observe({ kind }, (performance.now() - startedMs) / 1000);
    if (result === undefined) return;
    metrics.rowsRead.inc(result.rowsRead);
    if (kind !== "insert") return;
    metrics.rowsWritten.inc(result.rowsWritten);
    metrics.insertRows.observe(result.rowsWritten);
  }
}

function kindOf(plan: QueryPlan): RequestKind {
  return plan.kind === "query" ? "query" : "insert";
}

async function readInput(request: Request, url: URL, bodyBytesMax: number): Promise<HttpQueryInput> {
  const contentType = request.headers.get("content-type") ?? "";
  if (request.method === "POST" && contentType.toLowerCase().startsWith("multipart/form-data")) {
    const form = await request.formData();
    const formFields = new Map<string, string>();
    for (const [key, value] of form) if (typeof value === "string") formFields.set(key, value);
    return { searchParams: url.searchParams, body: new Uint8Array(0), formFields };
  }
  const raw = request.method === "POST" ? await request.bytes() : new Uint8Array(0);
  if (raw.byteLength > bodyBytesMax) {
    throw endpointError(
      "BAD_ARGUMENTS",
      `Request body of ${raw.byteLength} bytes exceeds bodyBytesMax ${bodyBytesMax}`,
    );
  }
  return {
    searchParams: url.searchParams,
    body: decodeBody(raw, request.headers.get("content-encoding"), bodyBytesMax),
  };
}

function emptyResult(): EngineResult {
  return { bytes: new Uint8Array(0), rowsRead: 0, bytesRead: 0, rowsWritten: 0, bytesWritten: 0, elapsedNs: 0 };
}
