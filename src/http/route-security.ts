/**
 * How a route declares who may call it: its OpenAPI `security` field, in the route's
 * `detail`. Each scope is a bearer security scheme of its own name, so a route
 * accepting `consume` or `admin` declares `[{consume: []}, {admin: []}]` (OpenAPI's
 * "any one of"), and an open route (/health, /ready, /metrics) declares `[]`. The
 * route guard (route-guard.ts) reads these declarations back from the app's routes,
 * so the document and the check cannot disagree, and a route that declares nothing
 * stops the process at start-up instead of being served unchecked.
 */

export type SecurityRequirement = Record<string, string[]>;

/** A route any token holding one of `scopes` may call. */
export function requiresScope(...scopes: readonly string[]): { security: SecurityRequirement[] } {
  if (scopes.length === 0) throw new Error("requiresScope needs at least one scope");
  return { security: scopes.map((scope) => ({ [scope]: [] })) };
}

/** A route anyone may call (operations routes, scraped by Prometheus and probed by Kubernetes). */
export const openAccess: { security: SecurityRequirement[] } = { security: [] };

/** What a route accepts: the scopes of which one suffices, or "open". */
export type RouteAccess = readonly string[] | "open";

/** The access a route's detail declares; undefined when it declares none. */
export function declaredAccess(detail: unknown): RouteAccess | undefined {
  if (typeof detail !== "object" || detail === null) return undefined;
  const security = (detail as { security?: unknown }).security;
  if (!Array.isArray(security)) return undefined;
  if (security.length === 0) return "open";
  const scopes = security.flatMap((requirement) =>
    typeof requirement === "object" && requirement !== null ? Object.keys(requirement) : [],
  );
  if (scopes.length === 0) throw new Error(`a security requirement names no scope: ${JSON.stringify(security)}`);
  return scopes;
}

/** OpenAPI `components.securitySchemes`: one HTTP bearer scheme per scope, described for people. */
export function bearerSchemes(scopes: Record<string, string>) {
  return Object.fromEntries(
    Object.entries(scopes).map(([scope, description]) => [
      scope,
      { type: "http" as const, scheme: "bearer", description: `A token with scope \`${scope}\`: ${description}` },
    ]),
  );
}
