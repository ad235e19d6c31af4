import { Elysia } from "elysia";
import { ErrorBody } from "../../src/broker-protocol/api-schemas.ts";
import { binaryContentType, FetchHeader } from "../../src/broker-protocol/headers.ts";
import { brokerRoutes, groupLimitParam } from "../../src/broker-protocol/routes.ts";
import { opsRoutes, type ReadinessCheck } from "../../src/http/ops-routes.ts";
import { guardApp, type Refusal, type TokenLookup } from "../../src/http/route-guard.ts";
import { bearerSchemes } from "../../src/http/route-security.ts";
import { swaggerUi } from "../../src/http/swagger-ui.ts";
import type { Registry } from "../../src/observability/metrics.ts";
import type { GroupCoordinator } from "../groups/group-coordinator.ts";
import { adminRoutes } from "./admin-routes.ts";
import type { BrokerContext } from "./broker-context.ts";
import { toHttpError } from "./error-mapping.ts";
import { handleFetch } from "./fetch-route.ts";
import { groupRoutes } from "./group-routes.ts";
import { BrokerHttpError, errorResponse } from "./http-error.ts";
import { handleProduce } from "./produce-route.ts";
import { routeDetail, routeSchemas } from "./route-schemas.ts";

const produceRoute = brokerRoutes.produce;
const fetchRoute = brokerRoutes.fetch;

export interface BrokerAppOptions {
  context: BrokerContext;
  registry: Registry;
  checks: ReadinessCheck[];
  /** The consumer-group coordinator behind the /v1/groups routes. */
  groups: GroupCoordinator;
  /** The tokens accepted; undefined (BROKER_AUTH=none) leaves every route open. */
  tokens: TokenLookup | undefined;
}

const fetchResponseDoc = {
  "200": {
    description: "whole record batches as stored, possibly empty (end of log after the wait)",
    headers: {
      [FetchHeader.highWatermark]: { schema: { type: "integer" }, description: "one past the last offset" },
      [FetchHeader.logStartOffset]: { schema: { type: "integer" }, description: "first offset stored" },
      [FetchHeader.nextOffset]: { schema: { type: "integer" }, description: "offset to fetch next" },
      [FetchHeader.batchCount]: { schema: { type: "integer" }, description: "whole batches in the body" },
    },
    content: { [binaryContentType]: { schema: { type: "string", format: "binary" } } },
  },
} as const;

const scopeDescriptions = {
  produce: "produce records, allocate producer ids, read topic metadata",
  consume: "join consumer groups, heartbeat, fetch, commit (an entry may limit it to named groups)",
  admin: "create and delete topics, delete groups, reset offsets, read topic and group metadata",
};

/**
 * The broker's HTTP API: produce, fetch, topics, groups, plus /swagger and ops routes,
 * every route guarded by the scope the route table gives it.
 */
export function createBrokerApp(options: BrokerAppOptions) {
  const app = brokerRoutesApp(options);
  const guard = guardApp(app, {
    realm: "broker",
    tokens: options.tokens,
    limitParam: groupLimitParam,
    refuse: (refusal) => errorResponse(new BrokerHttpError(refusal.code, refusal.message)),
    onRefused: (refusal, route) => onRefused(options.context, refusal, route),
  });
  return { app, guardedRoutes: guard.routes };
}

function onRefused(context: BrokerContext, refusal: Refusal, route: string): void {
  context.metrics.errors.inc({ route: routeOf(route), code: refusal.code });
  context.logger.debug({ route, status: refusal.status, code: refusal.code }, "request refused");
}

function brokerRoutesApp(options: BrokerAppOptions) {
  const { context } = options;
  const documentation = {
    info: { title: "Telemetry broker", version: "1" },
    components: { securitySchemes: bearerSchemes(scopeDescriptions) },
  };
  return new Elysia({ name: "broker" })
    .use(swaggerUi({ path: "/swagger", documentation }))
    .onError(({ code, error, path }) => onError(context, code, error, path))
    .use(opsRoutes({ registry: options.registry, checks: options.checks }))
    .route(
      produceRoute.method,
      produceRoute.path,
      ({ params, request }) => timed(context, "produce", () => handleProduce(context, params.topic, request)),
      {
        ...routeSchemas(produceRoute),
        parse: "none",
        response: { 200: produceRoute.response, 413: ErrorBody, 429: ErrorBody, 503: ErrorBody },
        detail: routeDetail(produceRoute),
      },
    )
    .route(
      fetchRoute.method,
      fetchRoute.path,
      ({ params, query, request }) =>
        timed(context, "fetch", () =>
          handleFetch(
            context,
            {
              topic: params.topic,
              partition: params.partition,
              offset: query.offset,
              maxBytes: query.max_bytes,
              waitMs: query.wait_ms,
            },
            request,
          ),
        ),
      {
        ...routeSchemas(fetchRoute),
        detail: routeDetail(fetchRoute, {
          responses: { ...fetchResponseDoc, "416": { description: "offset out of range (body names the range)" } },
        }),
      },
    )
    .use(adminRoutes(context, options.groups))
    .use(groupRoutes(context, options.groups));
}

async function timed(context: BrokerContext, route: string, run: () => Promise<Response>): Promise<Response> {
  const startedMs = performance.now();
  let status = 500;
  try {
    const response = await run();
    status = response.status;
    return response;
  } catch (error) {
    status = toHttpError(error, context.limits.retryAfterMs).status;
    throw error;
  } finally {
    const seconds = (performance.now() - startedMs) / 1000;
    context.metrics.requestSeconds.observe({ route, status: String(status) }, seconds);
  }
}

function onError(context: BrokerContext, code: string | number, error: unknown, path: string): Response {
  if (code === "VALIDATION" || code === "PARSE") {
    const message = error instanceof Error ? firstLine(error.message) : String(error);
    context.metrics.errors.inc({ route: routeOf(path), code: "bad_request" });
    return errorResponse(new BrokerHttpError("bad_request", message));
  }
  if (code === "NOT_FOUND") {
    return Response.json({ error: "not_found", message: `no route ${path}`, retryable: false }, { status: 404 });
  }
  const httpError = toHttpError(error, context.limits.retryAfterMs);
  if (httpError.code === "internal") context.logger.error({ err: error, path }, "request failed");
  context.metrics.errors.inc({ route: routeOf(path), code: httpError.code });
  return errorResponse(httpError);
}

function firstLine(message: string): string {
  try {
    const parsed = JSON.parse(message) as { property?: string; message?: string; summary?: string };
    return `${parsed.property ?? ""} ${parsed.summary ?? parsed.message ?? ""}`.trim();
  } catch {
    return message.split("\n")[0] ?? message;
  }
}

function routeOf(path: string): string {
  if (path.endsWith("/produce")) return "produce";
  if (path.endsWith("/fetch")) return "fetch";
  if (path.startsWith(brokerRoutes.listGroups.path)) return "groups";
  return "admin";
}
