import type { Static, TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";

/** A response body already checked against its schema and turned into JSON text. */
export interface SerializedJson {
  text: string;
}

export interface JsonSerializer<S extends TSchema> {
  serialize(value: Static<S>): SerializedJson;
}

/**
 * For cached answers: the body is validated and stringified once when the cache is
 * filled, and each hit returns the text as a Response (Elysia neither re-validates
 * nor re-serializes a Response), which is most of the cost of a cached request.
 * `references` are the models the schema points at with Type.Ref.
 */
export function jsonSerializer<S extends TSchema>(schema: S, references: TSchema[] = []): JsonSerializer<S> {
  const checker = TypeCompiler.Compile(schema, references);
  return {
    serialize(value) {
      if (!checker.Check(value)) {
        const first = checker.Errors(value).First();
        throw new Error(`response does not match ${String(schema.$id)}: ${first?.path} ${first?.message}`);
      }
      return { text: JSON.stringify(value) };
    },
  };
}

export function jsonResponse(body: SerializedJson): Response {
  return new Response(body.text, { headers: { "content-type": "application/json" } });
}
