import type { ErrorDetail } from "./errors.ts";

/** What we read from one of Elysia's validation errors (a TypeBox ValueError). */
export interface SchemaError {
  path: string;
  message: string;
  value?: unknown;
  schema?: unknown;
}

export const validationDetailsMax = 10;

/**
 * Turns schema errors into details a person can act on. Elysia's messages for
 * query coercion read "Expected union value"; the schema says what was wanted,
 * so the problem is written from it ("an integer from 1 to 10000, got \"abc\"").
 */
export function validationDetails(errors: readonly SchemaError[], query: URLSearchParams): ErrorDetail[] {
  const byField = new Map<string, ErrorDetail>();
  for (const error of errors) {
    const field = error.path.replace(/^\//, "").split("/")[0] || fieldHolding(query, error.value);
    if (byField.has(field)) continue;
    byField.set(field, { field, problem: describeProblem(error) });
    if (byField.size >= validationDetailsMax) break;
  }
  return [...byField.values()];
}

/**
 * Elysia checks a coerced number (e.g. limit=0) or an array item on its own and
 * reports a path without the parameter; the parameter holding that value is the one.
 */
function fieldHolding(query: URLSearchParams, value: unknown): string {
  for (const [name, text] of query) {
    if (typeof value === "number" && text.trim() !== "" && Number(text) === value) return name;
    if (typeof value === "string" && (text === value || text.split(",").includes(value))) return name;
  }
  return "request";
}

function describeProblem(error: SchemaError): string {
  const wanted = describeSchema(error.schema);
  const got = error.value === undefined ? "nothing" : JSON.stringify(error.value).slice(0, 80);
  if (wanted === undefined) return `${error.message.toLowerCase()}, got ${got}`;
  return `must be ${wanted}, got ${got}`;
}

interface SchemaShape {
  type?: string;
  const?: unknown;
  enum?: unknown[];
  anyOf?: SchemaShape[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  minLength?: number;
  maxItems?: number;
  items?: SchemaShape;
}

function describeSchema(schema: unknown): string | undefined {
  if (typeof schema !== "object" || schema === null) return undefined;
  const shape = schema as SchemaShape;
  const constants = (shape.anyOf ?? []).filter((member) => member.const !== undefined).map((member) => member.const);
  if (constants.length > 0) return `one of ${constants.join(", ")}`;
  if (shape.enum !== undefined) return `one of ${shape.enum.join(", ")}`;
  const integer = shape.type === "integer" || (shape.anyOf ?? []).some((member) => member.type === "integer");
  if (integer) return `an integer${range(shape)}`;
  const array = shape.type === "array" ? shape : (shape.anyOf ?? []).find((member) => member.type === "array");
  if (array !== undefined) return `at most ${array.maxItems ?? "a few"} values${itemLength(array.items)}`;
  if (shape.type === "string") return `a string of ${shape.minLength ?? 0}..${shape.maxLength ?? "any"} characters`;
  return undefined;
}

function range(shape: SchemaShape): string {
  if (shape.minimum !== undefined && shape.maximum !== undefined) return ` from ${shape.minimum} to ${shape.maximum}`;
  if (shape.minimum !== undefined) return ` of at least ${shape.minimum}`;
  if (shape.maximum !== undefined) return ` of at most ${shape.maximum}`;
  return "";
}

function itemLength(items: SchemaShape | undefined): string {
  return items?.maxLength === undefined ? "" : ` of at most ${items.maxLength} characters each`;
}
