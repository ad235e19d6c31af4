import { Elysia, t } from "elysia";
import {
  type DocumentNode,
  execute,
  type GraphQLError,
  type GraphQLFormattedError,
  getOperationAST,
  parse,
  printSchema,
  specifiedRules,
  validate,
} from "graphql";
import { openAccess } from "../../../src/http/route-security.ts";
import type { Logger } from "../../../src/observability/logger.ts";
import { type ApiContext, apiModelsPlugin } from "../api-context.ts";
import { readAccess } from "../api-models.ts";
import { ApiError, type ErrorCode } from "../errors.ts";
import { OverloadedError } from "../query-gate.ts";
import type { FleetReader } from "../routes/fleet-routes.ts";
import { gpuCursorCodec } from "../routes/gpu-routes.ts";
import { telemetryCursorCodec } from "../routes/telemetry-routes.ts";
import { isUnavailableError } from "../unavailable.ts";
import { Loaders } from "./loaders.ts";
import { graphqlLimits, queryShape, shapeProblem } from "./query-limits.ts";
import { type GraphqlContext, rootValue } from "./root.ts";
import { graphqlSchema } from "./schema.ts";

export interface GraphqlRoutesOptions {
  readFleet: FleetReader;
  logger: Logger;
  requestId: (request: Request) => string;
}

interface GraphqlRequest {
  query: string;
  variables?: Record<string, unknown> | null | undefined;
  operationName?: string | null | undefined;
}

const validationErrorsMax = 10;

const errorDoc = (description: string) => ({
  description,
  content: { "application/json": { schema: { $ref: "#/components/schemas/GraphqlResponse" } } },
});

const responsesDoc = {
  "200": errorDoc("The result: data, and errors of fields that failed (the rest of data is still there)"),
  "401": {
    description: "A bearer token with scope read is needed (when read is not open)",
    content: { "application/json": { schema: { $ref: "#/components/schemas/UnauthorizedError" } } },
  },
  "400": errorDoc(
    "The query does not parse or validate, is over a limit (size, depth, fields), or an argument is out of bounds",
  ),
  "503": errorDoc("ClickHouse is unreachable or busy; Retry-After says when to retry"),
};

/**
 * GraphQL at /graphql (GET and POST, GraphQL over HTTP): parse with a token bound,
 * validate, check the query's shape, execute with this request's loaders. A request
 * that cannot run is a 400 with `errors` and no `data`; one whose fields fail because
 * of their arguments is a 400 too, one that found ClickHouse unavailable a 503; the
 * errors carry `extensions.code` (bad_request, unavailable, internal) as the REST
 * errors' `error`. No GraphiQL page: it would load from a CDN; GET /graphql/schema
 * gives the schema for any client.
 */
export function graphqlRoutes(context: ApiContext, options: GraphqlRoutesOptions) {
  const gpuCursor = gpuCursorCodec(context.cursorKey);
  const telemetryCursor = telemetryCursorCodec(context.cursorKey);
  const schemaText = printSchema(graphqlSchema);
  const run = async (body: GraphqlRequest, request: Request): Promise<Response> => {
    const prepared = prepare(body);
    if ("errors" in prepared) return reply(400, { errors: prepared.errors });
    const contextValue: GraphqlContext = {
      api: context,
      loaders: new Loaders(context, telemetryCursor),
      readFleet: options.readFleet,
      gpuCursor,
    };
    const result = await execute({
      schema: graphqlSchema,
      document: prepared.document,
      rootValue,
      contextValue,
      variableValues: body.variables ?? undefined,
      operationName: body.operationName ?? undefined,
    });
    const errors = (result.errors ?? []).map((error) => formatError(error, options, request));
    const status = statusOf(errors, result.data !== undefined && result.data !== null);
    const payload = errors.length === 0 ? { data: result.data } : { data: result.data ?? null, errors };
    const response = reply(status, payload);
    if (status === 503) response.headers.set("retry-after", String(context.limits.retryAfterS));
    return response;
  };
  return new Elysia({ name: "graphql-routes" })
    .use(apiModelsPlugin)
    .get(
      "/graphql",
      ({ query, request }) => {
        const variables = parseVariables(query.variables);
        if (variables instanceof Response) return variables;
        return run({ query: query.query, variables, operationName: query.operationName }, request);
      },
      {
        query: t.Object({
          query: t.String({ minLength: 1, maxLength: graphqlLimits.queryCharsMax, description: "the GraphQL query" }),
          variables: t.Optional(t.String({ maxLength: graphqlLimits.queryCharsMax, description: "a JSON object" })),
          operationName: t.Optional(
            t.String({ maxLength: 256, description: "which operation of the document to run" }),
          ),
        }),
        detail: {
          ...readAccess,
          tags: ["graphql"],
          summary: "GraphQL query, in the URL",
          description:
            "The same data as the REST routes under the same limits; the schema is at GET /graphql/schema. " +
            `Queries of at most ${graphqlLimits.queryCharsMax} characters, ${graphqlLimits.depthMax} levels and ` +
            `${graphqlLimits.fieldsMax} fields (fragments expanded); page sizes and windows as in REST; over a list ` +
            "of GPUs, each field is one ClickHouse query for the whole list.",
          responses: responsesDoc,
        },
      },
    )
    .post("/graphql", ({ body, request }) => run(body, request), {
      parse: "json",
      body: "GraphqlRequest",
      detail: {
        ...readAccess,
        tags: ["graphql"],
        summary: "GraphQL query",
        description:
          "GraphQL over HTTP: a JSON body { query, variables, operationName }; queries only (there are no mutations). " +
          "Same limits as GET /graphql.",
        responses: responsesDoc,
      },
    })
    .get(
      "/graphql/schema",
      () => new Response(schemaText, { headers: { "content-type": "text/plain; charset=utf-8" } }),
      {
        detail: {
          ...openAccess,
          tags: ["graphql"],
          summary: "The GraphQL schema (SDL)",
          responses: {
            "200": {
              description: "The schema in GraphQL's schema language",
              content: { "text/plain": { schema: { type: "string" } } },
            },
          },
        },
      },
    );
}

/** Parsed, valid, within the limits and a query; or the errors that say why not. */
function prepare(body: GraphqlRequest): { document: DocumentNode } | { errors: GraphQLFormattedError[] } {
  let document: DocumentNode;
  try {
    document = parse(body.query, { maxTokens: graphqlLimits.tokensMax });
  } catch (error) {
    return { errors: [clientError((error as GraphQLError).toJSON?.() ?? { message: String(error) })] };
  }
  const invalid = validate(graphqlSchema, document, specifiedRules, { maxErrors: validationErrorsMax });
  if (invalid.length > 0) return { errors: invalid.map((error) => clientError(error.toJSON())) };
  const operation = getOperationAST(document, body.operationName ?? undefined);
  if (operation === null || operation === undefined) {
    const message = body.operationName
      ? `no operation named ${JSON.stringify(body.operationName)} in the document`
      : "the document has several operations: name the one to run (operationName)";
    return { errors: [clientError({ message })] };
  }
  if (operation.operation !== "query") return { errors: [clientError({ message: "only queries are served" })] };
  const problem = shapeProblem(queryShape(document, body.operationName ?? undefined));
  if (problem !== undefined) return { errors: [clientError({ message: `Query too large: ${problem}` })] };
  return { document };
}

function clientError(error: GraphQLFormattedError): GraphQLFormattedError {
  return { ...error, extensions: { ...error.extensions, code: "bad_request" } };
}

function parseVariables(text: string | undefined): Record<string, unknown> | undefined | Response {
  if (text === undefined || text === "") return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // Answered below.
  }
  return reply(400, { errors: [clientError({ message: "variables must be a JSON object" })] });
}

/**
 * The error as the client sees it: our errors keep their code and details, an
 * unreachable or busy ClickHouse is `unavailable`, and anything else is `internal`
 * with only the request id (logged with the cause), as the REST errors are.
 */
function formatError(error: GraphQLError, options: GraphqlRoutesOptions, request: Request): GraphQLFormattedError {
  const formatted = error.toJSON();
  const original = error.originalError;
  // Without a path the request failed before any field ran: its variables do not fit their types.
  if (original === undefined || original === null || error.path === undefined) return clientError(formatted);
  if (original instanceof ApiError) {
    return { ...formatted, extensions: { code: original.code, details: original.details } };
  }
  if (original instanceof OverloadedError || isUnavailableError(original)) {
    const message = "ClickHouse is unreachable or overloaded; retry later";
    return { ...formatted, message, extensions: { code: "unavailable" } };
  }
  const requestId = options.requestId(request);
  options.logger.error({ requestId, err: original, path: error.path }, "graphql field failed");
  const message = `Unexpected error; it was logged with request id ${requestId}`;
  return { ...formatted, message, extensions: { code: "internal" } };
}

function statusOf(errors: readonly GraphQLFormattedError[], hasData: boolean): number {
  const codes = new Set(errors.map((error) => error.extensions?.code as ErrorCode | undefined));
  if (codes.has("unavailable")) return 503;
  if (codes.has("bad_request")) return 400;
  if (!hasData && errors.length > 0) return codes.has("internal") ? 500 : 400;
  return 200;
}

function reply(status: number, payload: unknown): Response {
  return new Response(JSON.stringify(payload), { status, headers: { "content-type": "application/json" } });
}
