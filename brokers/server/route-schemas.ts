import { type TObject, type TSchema, Type } from "@sinclair/typebox";
import { replaceSchemaType, t } from "elysia";
import { binaryContentType } from "../../src/broker-protocol/headers.ts";
import type { RouteSpec } from "../../src/broker-protocol/routes.ts";
import { requiresScope } from "../../src/http/route-security.ts";

/**
 * The Elysia side of the protocol's route table: a route's schemas as a hook, and
 * its Swagger text. The protocol's schemas are plain TypeBox; path and query values
 * arrive as text, and Elysia by itself converts only `Number` schemas there, not
 * TypeBox integers, so their integers become Elysia's text-accepting `t.Integer`
 * (same bounds, same decoded number) and their booleans `t.BooleanString`
 * ("true"/"false").
 */

type SchemaHook<R extends RouteSpec> = (R extends { params: infer P } ? { params: P } : unknown) &
  (R extends { query: infer Q } ? { query: Q } : unknown) &
  (R extends { body: infer B } ? { body: B } : unknown);

/** `params`, `query` and `body` of a route, ready for a route's hook. */
export function routeSchemas<R extends RouteSpec>(route: R): SchemaHook<R> {
  const hook: Record<string, TSchema> = {};
  if (route.params !== undefined) hook.params = fromText(route.params);
  if (route.query !== undefined) hook.query = fromText(route.query);
  if (route.body !== undefined) hook.body = route.body;
  return hook as SchemaHook<R>;
}

const binaryContent = { [binaryContentType]: { schema: { type: "string", format: "binary" } } } as const;

/**
 * Swagger's grouping and summary of a route (and its binary request body), its scopes
 * as the OpenAPI security the route guard reads back, plus what only the broker documents.
 */
export function routeDetail(route: RouteSpec, extra: Record<string, unknown> = {}) {
  const requestBody = route.binary === "request" ? { requestBody: { required: true, content: binaryContent } } : {};
  return { tags: [route.tag], summary: route.summary, ...requiresScope(...route.scopes), ...requestBody, ...extra };
}

/** The same object schema with every integer accepting its decimal text, every boolean "true"/"false". */
export function fromText<S extends TObject>(schema: S): S {
  return replaceSchemaType(schema, [
    { from: Type.Integer(), to: (integer) => t.Integer(integer) },
    { from: Type.Boolean(), to: (boolean) => t.BooleanString(boolean) },
  ]) as S;
}
