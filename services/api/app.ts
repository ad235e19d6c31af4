import type { ClickHouseClient } from "@clickhouse/client";
import { Elysia } from "elysia";
import { ping } from "../../src/clickhouse/ping.ts";
import type { RowsClient } from "../../src/clickhouse/typed-query.ts";
import { opsRoutes } from "../../src/http/ops-routes.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { Registry } from "../../src/observability/metrics.ts";
import { type ApiContext, type ApiLimits, apiLimitsDefault } from "./api-context.ts";
import { randomCursorKey } from "./cursor-codec.ts";
import { errorHandler } from "./error-handler.ts";
import { openApiPlugin } from "./openapi-document.ts";
import { QueryGate } from "./query-gate.ts";
import { requestObserver } from "./request-observer.ts";
import { catalogRoutes } from "./routes/catalog-routes.ts";
import { gpuRoutes } from "./routes/gpu-routes.ts";
import { summaryRoutes } from "./routes/summary-routes.ts";
import { telemetryRoutes } from "./routes/telemetry-routes.ts";

export interface ApiAppOptions {
  /** A client whose default database holds the telemetry tables. */
  clickhouse: ClickHouseClient;
  /** Same server and database, for the hot reads (src/clickhouse/fetch-reader.ts); default: `clickhouse`. */
  reader?: RowsClient;
  logger: Logger;
  registry: Registry;
  /** Epoch milliseconds; defaults to Date.now. */
  clock?: () => number;
  limits?: Partial<ApiLimits>;
  /** HMAC key of page cursors; default a random one (cursors then work with this process only). */
  cursorKey?: Uint8Array;
}

/**
 * The whole API as one Elysia app, without a socket: main.ts listens with it and
 * tests call `app.handle(new Request(...))`. Order matters: request ids and the error
 * handler are installed before the routes they cover.
 */
export function createApiApp(options: ApiAppOptions) {
  const limits: ApiLimits = { ...apiLimitsDefault, ...options.limits };
  const queries = new QueryGate({
    inFlightMax: limits.clickhouseInFlightMax,
    queueLengthMax: limits.clickhouseQueueLengthMax,
    waitMsMax: limits.clickhouseWaitMsMax,
    registry: options.registry,
  });
  const context: ApiContext = {
    clickhouse: options.clickhouse,
    reader: options.reader ?? options.clickhouse,
    clock: options.clock ?? Date.now,
    limits,
    queries,
    registry: options.registry,
    cursorKey: options.cursorKey ?? randomCursorKey(),
  };
  const observer = requestObserver({ logger: options.logger, registry: options.registry });
  const readiness = {
    name: "clickhouse",
    check: () => withTimeout(ping(options.clickhouse), limits.readyTimeoutMs),
  };
  return new Elysia({ name: "api" })
    .use(observer.plugin)
    .use(errorHandler({ logger: options.logger, requestId: observer.requestId, retryAfterS: limits.retryAfterS }))
    .use(openApiPlugin())
    .use(opsRoutes({ registry: options.registry, checks: [readiness] }))
    .use(gpuRoutes(context))
    .use(telemetryRoutes(context))
    .use(summaryRoutes(context))
    .use(catalogRoutes(context));
}

export type ApiApp = ReturnType<typeof createApiApp>;

function withTimeout(check: Promise<boolean>, timeoutMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  return Promise.race([check, expired]).finally(() => clearTimeout(timer));
}
