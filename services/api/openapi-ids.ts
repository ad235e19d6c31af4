/**
 * Named models carry this $id so that a nested Type.Ref(...) both resolves during
 * validation and points at the right place in the generated OpenAPI document.
 */
export function componentId(name: string): string {
  return `#/components/schemas/${name}`;
}

/** The model name back from an $id (what routes pass as `response: { 200: name }`). */
export function componentName(id: string): string {
  const prefix = "#/components/schemas/";
  if (!id.startsWith(prefix)) throw new Error(`not a component $id: ${id}`);
  return id.slice(prefix.length);
}
