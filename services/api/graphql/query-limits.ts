import { type DocumentNode, type FragmentDefinitionNode, Kind, type SelectionSetNode } from "graphql";

/**
 * Bounds on one GraphQL request, checked before it runs: its text, its tokens, how deep
 * its selections nest and how many fields it selects once fragments are expanded
 * (aliases count: each is a field resolved again). Together with the REST API's own
 * bounds on every field's arguments (page sizes, windows) and the ClickHouse query gate,
 * a request's cost is bounded however it is written.
 */
export const graphqlLimits = {
  queryCharsMax: 16_384,
  tokensMax: 4_000,
  depthMax: 10,
  fieldsMax: 500,
} as const;

export interface QueryShape {
  depth: number;
  fields: number;
}

/**
 * Depth and field count of the operation to run, fragments expanded; the walk stops as
 * soon as either is over its limit (a fragment spread many times cannot blow it up).
 * The document must have passed validation (so fragments exist and do not cycle).
 */
export function queryShape(document: DocumentNode, operationName: string | undefined): QueryShape {
  const fragments = new Map<string, FragmentDefinitionNode>();
  let operation: SelectionSetNode | undefined;
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    if (definition.kind === Kind.OPERATION_DEFINITION) {
      if (operationName === undefined || definition.name?.value === operationName) {
        operation ??= definition.selectionSet;
      }
    }
  }
  const shape: QueryShape = { depth: 0, fields: 0 };
  if (operation === undefined) return shape;
  const stack: { set: SelectionSetNode; depth: number }[] = [{ set: operation, depth: 1 }];
  while (stack.length > 0) {
    const { set, depth } = stack.pop() as { set: SelectionSetNode; depth: number };
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        shape.fields += 1;
        shape.depth = Math.max(shape.depth, depth);
        if (selection.selectionSet !== undefined) stack.push({ set: selection.selectionSet, depth: depth + 1 });
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        stack.push({ set: selection.selectionSet, depth });
      } else {
        const fragment = fragments.get(selection.name.value);
        if (fragment !== undefined) stack.push({ set: fragment.selectionSet, depth });
      }
      if (shape.fields > graphqlLimits.fieldsMax || shape.depth > graphqlLimits.depthMax) return shape;
    }
  }
  return shape;
}

/** What is over a limit, as a message for the client; undefined when the shape is within them. */
export function shapeProblem(shape: QueryShape): string | undefined {
  if (shape.depth > graphqlLimits.depthMax) {
    return `the query nests more than ${graphqlLimits.depthMax} levels deep`;
  }
  if (shape.fields > graphqlLimits.fieldsMax) {
    return `the query selects more than ${graphqlLimits.fieldsMax} fields (fragments expanded, aliases counted)`;
  }
  return undefined;
}
