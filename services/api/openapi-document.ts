import { swagger } from "@elysiajs/swagger";
import { Elysia } from "elysia";
import packageJson from "../../package.json" with { type: "json" };
import { bearerSchemes } from "../../src/http/route-security.ts";

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
  { name: "hosts", description: "Hosts with GPUs" },
  { name: "metrics", description: "The DCGM metric catalog" },
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
      swagger({
        provider: "swagger-ui",
        path: swaggerUiPath,
        specPath: openApiPath,
        documentation: {
          // Elysia's schemas are JSON Schema (type: "null", $id), which OpenAPI 3.1 adopts.
          openapi: "3.1.0",
          info: { title: "GPU Telemetry API", version: packageJson.version, description },
          tags,
          components: {
            securitySchemes: bearerSchemes({ read: "every data route (API_READ_TOKENS or API_TOKENS_DIR)" }),
          },
        } as never,
      }),
    );
}

type JsonSchema = Record<string, unknown> & { anyOf?: JsonSchema[] };

interface OpenApiOperation {
  parameters?: { schema?: JsonSchema }[];
  responses?: Record<string, Record<string, unknown>>;
}

interface OpenApiDocument {
  paths?: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

/**
 * Fixes to @elysiajs/swagger 1.3's output so the document validates and reads well:
 * it copies each model's `$id` into the Response Object (not allowed there) and keeps
 * it in components (a JSON Schema $id may not be a fragment); routes without a
 * response schema (/metrics, plain text) lack the required description; and query
 * parameters show Elysia's internal string-to-number coercion union instead of the
 * declared integer, and literal unions instead of an enum.
 */
export function cleanOpenApiDocument<D extends OpenApiDocument>(document: D): D {
  for (const operations of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        delete response.$id;
        if (typeof response.description !== "string") response.description = defaultDescription(status);
      }
      for (const parameter of operation.parameters ?? []) {
        if (parameter.schema !== undefined) parameter.schema = simplifyParameterSchema(parameter.schema);
      }
    }
  }
  const components = document.components;
  if (components?.schemas !== undefined) {
    // Copies: these objects are the live models Elysia validates with (and resolves $ref by $id).
    const entries = Object.entries(components.schemas).map(([name, { $id: _id, ...schema }]) => [name, schema]);
    document.components = { ...components, schemas: Object.fromEntries(entries) };
  }
  return document;
}

function simplifyParameterSchema(schema: JsonSchema): JsonSchema {
  const members = schema.anyOf;
  if (members === undefined) return schema;
  const { anyOf: _members, ...outer } = schema;
  const integer = members.find((member) => member.type === "integer");
  const coercion = members.some((member) => member.type === "string" && member.format === "integer");
  if (integer !== undefined && coercion) {
    const { description: _description, ...declared } = integer;
    return { ...outer, ...declared };
  }
  if (members.every((member) => member.const !== undefined && member.type === "string")) {
    return { ...outer, type: "string", enum: members.map((member) => member.const) };
  }
  return schema;
}

function defaultDescription(status: string): string {
  return status === "200" ? "OK" : `HTTP ${status}`;
}

/** The document as committed to openapi.json: stable key order from the code, two-space indent. */
export async function renderOpenApi(app: { handle: (request: Request) => Promise<Response> }): Promise<string> {
  const response = await app.handle(new Request(`http://localhost${openApiPath}`));
  if (response.status !== 200) throw new Error(`GET ${openApiPath} answered ${response.status}`);
  return `${JSON.stringify(await response.json(), null, 2)}\n`;
}
