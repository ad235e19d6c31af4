import { Elysia } from "elysia";
import packageJson from "../../package.json" with { type: "json" };
import { bearerSchemes } from "../../src/http/route-security.ts";
import { swaggerUi } from "../../src/http/swagger-ui.ts";
import { apiModels } from "./api-models.ts";

export const swaggerUiPath = "/swagger";
export const openApiPath = "/swagger/json";

const description = `REST API of the GPU telemetry pipeline: DCGM datapoints per GPU, stored in ClickHouse.

* Times are RFC 3339. Query bounds accept any offset and optional fractional seconds; answers are UTC with milliseconds.
* Lists are paginated with an opaque \`cursor\`: pass the previous page's \`next_cursor\` back, with the same other parameters, until it is null.
* Every error is JSON \`{ error, message, details, request_id }\`: 400 bad input (details name each parameter), 401 no bearer token or one the API does not accept, 404 unknown GPU, 503 ClickHouse unreachable (with Retry-After), 500 unexpected.
* Data routes need a bearer token with scope \`read\` (\`Authorization: Bearer <token>\`) unless the deployment leaves read open (API_READ_OPEN); \`/health\`, \`/ready\`, \`/metrics\` and this document are open.`;

const tags = [
  { name: "gpus", description: "The GPU registry" },
  { name: "telemetry", description: "Datapoints and downsampled series of one GPU" },
  { name: "fleet", description: "The latest values of the whole fleet, and its live stream" },
  { name: "hosts", description: "Hosts with GPUs" },
  { name: "metrics", description: "The DCGM metric catalog" },
  { name: "graphql", description: "The same data as GraphQL, at /graphql" },
  { name: "operations", description: "Liveness, readiness and Prometheus metrics" },
];

/** Swagger UI at /swagger and the OpenAPI 3.1 document at /swagger/json, generated from the routes. */
export function openApiPlugin() {
  // A local hook: it covers only the plugin's own routes (a global mapResponse would
  // also see unmatched requests and swallow their 404 body).
  return new Elysia({ name: "openapi" })
    .onAfterHandle(({ path, response }) => {
      if (path !== openApiPath || typeof response !== "object" || response === null) return;
      return cleanOpenApiDocument(response as OpenApiDocument);
    })
    .use(
      swaggerUi({
        path: swaggerUiPath,
        documentation: {
          info: { title: "GPU Telemetry API", version: packageJson.version, description },
          tags,
          components: {
            securitySchemes: bearerSchemes({ read: "every data route (API_READ_TOKENS or API_TOKENS_DIR)" }),
          },
        },
      }),
    );
}

type JsonSchema = Record<string, unknown> & { anyOf?: JsonSchema[]; properties?: Record<string, JsonSchema> };

interface OpenApiParameter {
  description?: string;
  schema?: JsonSchema;
}

interface OpenApiOperation {
  parameters?: OpenApiParameter[];
  responses?: Record<string, { content?: Record<string, { schema?: JsonSchema }> } & Record<string, unknown>>;
}

interface OpenApiDocument {
  openapi?: string;
  paths?: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

/**
 * Fixes to @elysiajs/openapi 1.4's output so the document validates and reads well:
 * once a route has been called, its integer query parameters show Elysia's internal
 * string-to-number coercion union instead of the declared integer; inline schemas keep their `$id` (a JSON Schema $id may not be a fragment, and these
 * are no documents of their own); a parameter's description sits in its schema, where
 * Swagger UI does not show it; a union of literals loses its description and default
 * when it becomes an enum (restored here from the models); and `openapi` comes first.
 * The plugin caches the document it hands out, so this must be idempotent.
 */
export function cleanOpenApiDocument<D extends OpenApiDocument>(document: D): D {
  for (const operations of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      for (const response of Object.values(operation.responses ?? {})) {
        for (const media of Object.values(response.content ?? {})) {
          if (media.schema?.$id !== undefined) media.schema = withoutId(media.schema);
        }
      }
      for (const parameter of operation.parameters ?? []) {
        if (parameter.schema !== undefined) parameter.schema = simplifyParameterSchema(parameter.schema);
        liftDescription(parameter);
      }
    }
  }
  const components = document.components;
  if (components?.schemas !== undefined) {
    // Copies: these objects may be the live models Elysia validates with (and resolves $ref by $id).
    const entries = Object.entries(components.schemas).map(([name, schema]) => [name, restoreEnums(name, schema)]);
    document.components = { ...components, schemas: Object.fromEntries(entries) };
  }
  const { openapi, ...rest } = document;
  return { openapi, ...rest } as D;
}

/** Elysia's string-to-integer coercion union, shown as the integer it declares. */
function simplifyParameterSchema(schema: JsonSchema): JsonSchema {
  const members = schema.anyOf;
  if (members === undefined) return schema;
  const { anyOf: _members, ...outer } = schema;
  const integer = members.find((member) => member.type === "integer");
  const coercion = members.some((member) => member.type === "string" && member.format === "integer");
  if (integer === undefined || !coercion) return schema;
  return { ...outer, ...integer };
}

function withoutId(schema: JsonSchema): JsonSchema {
  const { $id: _id, ...rest } = schema;
  return rest;
}

function liftDescription(parameter: OpenApiParameter): void {
  const schema = parameter.schema;
  if (schema === undefined || typeof schema.description !== "string") return;
  parameter.description ??= schema.description;
  const { description: _description, ...rest } = schema;
  parameter.schema = rest;
}

/** Description and default of the model's literal unions, which the generator drops. */
function restoreEnums(name: string, schema: JsonSchema): JsonSchema {
  const copy = withoutId(schema);
  const model = (apiModels as Record<string, { properties?: Record<string, JsonSchema> }>)[name];
  if (model?.properties === undefined || copy.properties === undefined) return copy;
  const properties = { ...copy.properties };
  for (const [key, declared] of Object.entries(model.properties)) {
    const emitted = properties[key];
    if (emitted?.enum === undefined || declared.anyOf === undefined) continue;
    const { description, default: fallback } = declared;
    properties[key] = {
      ...emitted,
      ...(description === undefined ? {} : { description }),
      ...(fallback === undefined ? {} : { default: fallback }),
    };
  }
  return { ...copy, properties };
}

/** The document as committed to openapi.json: stable key order from the code, two-space indent. */
export async function renderOpenApi(app: { handle: (request: Request) => Promise<Response> }): Promise<string> {
  const response = await app.handle(new Request(`http://localhost${openApiPath}`));
  if (response.status !== 200) throw new Error(`GET ${openApiPath} answered ${response.status}`);
  return `${JSON.stringify(await response.json(), null, 2)}\n`;
}
