import type { AnyElysia } from "elysia";
import type { Grant } from "../auth/token-store.ts";
import { declaredAccess, type RouteAccess } from "./route-security.ts";

/**
 * The one check of bearer tokens for every route of a service. It runs first, before
 * the body is read, parsed or validated: a caller without the right token learns
 * nothing but 401 or 403. It matches the request against the routes' own templates
 * (the same templates the app routes with), so what it authorizes is what the app
 * will serve; a path no route matches is answered 404 here, so a spelling the router
 * might read differently cannot slip past unchecked.
 *
 *   no token, or not `Bearer <token>`    401  WWW-Authenticate: Bearer realm="…"
 *   a token no list holds                 401  … error="invalid_token"
 *   a token without the route's scope     403  … error="insufficient_scope", scope="…"
 *   (or limited to other groups than the route's `:group`)
 */

export interface GuardedRoute {
  method: string;
  /** Path template: `:name` segments, a trailing `*`. */
  path: string;
  access: RouteAccess;
}

export type RefusalCode = "missing_token" | "invalid_token" | "insufficient_scope" | "not_found";

export interface Refusal {
  status: 401 | 403 | 404;
  code: RefusalCode;
  message: string;
  /** insufficient_scope: the scopes of which one would do. */
  scopes?: readonly string[];
}

export interface TokenLookup {
  grantsOf(token: string): Grant[];
}

export interface RouteGuardOptions {
  /** Names the service in WWW-Authenticate. */
  realm: string;
  /** Undefined turns the check off (a broker started with BROKER_AUTH=none): every route is open. */
  tokens: TokenLookup | undefined;
  /** Scopes left open on purpose (the API's `read` in dev): their routes need no token. */
  openScopes?: readonly string[];
  /** A path parameter whose value a limited grant must list (the broker's `group`). */
  limitParam?: string;
  /**
   * A cookie that may carry the token when no Authorization header does: for a browser's
   * EventSource, which cannot set headers (the API's dashboard). Checked the same way.
   */
  tokenCookie?: string;
  /** The service's own error body for a refusal. */
  refuse: (refusal: Refusal, request: Request) => Response;
  /** Counted and logged by the service (never with the token). */
  onRefused?: (refusal: Refusal, route: string) => void;
}

interface CompiledRoute {
  route: GuardedRoute;
  segments: string[];
  /** Index of the limit parameter's segment, or -1. */
  limitIndex: number;
}

interface Presented {
  kind: "none" | "token";
  token: string;
}

const bearerPattern = /^Bearer +(\S+)\s*$/i;

export class RouteGuard {
  private readonly byMethod = new Map<string, CompiledRoute[]>();

  constructor(
    /** Every route this guard checks, with its access (the 401/403 tests walk these). */
    readonly routes: readonly GuardedRoute[],
    private readonly options: RouteGuardOptions,
  ) {
    for (const route of routes) {
      const segments = splitPath(route.path);
      const limitIndex = options.limitParam === undefined ? -1 : segments.indexOf(`:${options.limitParam}`);
      const list = this.byMethod.get(route.method.toUpperCase()) ?? [];
      list.push({ route, segments, limitIndex });
      this.byMethod.set(route.method.toUpperCase(), list);
    }
    for (const list of this.byMethod.values()) list.sort((a, b) => compareSpecificity(a.segments, b.segments));
  }

  /** A refusal to send instead of serving the request, or undefined to serve it. */
  check(request: Request): Response | undefined {
    const path = routedPath(request.url);
    const method = request.method === "HEAD" ? "GET" : request.method;
    const match = this.match(method, path);
    if (match === undefined) {
      return this.refuse(
        { status: 404, code: "not_found", message: `no route ${request.method} ${path}` },
        request,
        path,
      );
    }
    const { route } = match.compiled;
    if (this.options.tokens === undefined || route.access === "open") return undefined;
    if (route.access.some((scope) => this.options.openScopes?.includes(scope))) return undefined;
    const presented = bearerOf(request, this.options.tokenCookie);
    const needs = route.access.join(" or ");
    if (presented.kind === "none") {
      const message = `${request.method} ${route.path} needs a bearer token with scope ${needs} (Authorization: Bearer <token>)`;
      return this.refuse({ status: 401, code: "missing_token", message }, request, route.path);
    }
    const grants = this.options.tokens.grantsOf(presented.token);
    if (grants.length === 0) {
      const message = "the bearer token is not one this service accepts";
      return this.refuse({ status: 401, code: "invalid_token", message }, request, route.path);
    }
    const problem = scopeProblem(grants, route.access, match.limit);
    if (problem === undefined) return undefined;
    const refusal = { status: 403, code: "insufficient_scope", message: problem, scopes: route.access } as const;
    return this.refuse(refusal, request, route.path);
  }

  private match(method: string, path: string): { compiled: CompiledRoute; limit: LimitedBy } | undefined {
    const segments = splitPath(path);
    for (const compiled of this.byMethod.get(method) ?? []) {
      if (!segmentsMatch(compiled.segments, segments)) continue;
      if (compiled.limitIndex < 0) return { compiled, limit: { applies: false } };
      const raw = segments[compiled.limitIndex];
      return { compiled, limit: { applies: true, value: raw === undefined ? undefined : decoded(raw) } };
    }
    return undefined;
  }

  private refuse(refusal: Refusal, request: Request, route: string): Response {
    this.options.onRefused?.(refusal, route);
    const response = this.options.refuse(refusal, request);
    const challenge = challengeOf(this.options.realm, refusal);
    if (challenge !== undefined) response.headers.set("www-authenticate", challenge);
    return response;
  }
}

/**
 * Whether the route names what a limited grant is limited to (its `:group`), and the
 * value (undefined when the segment does not decode: no limit can list it).
 */
type LimitedBy = { applies: false } | { applies: true; value: string | undefined };

/** Why the grants do not cover the route, or undefined when one does. */
function scopeProblem(grants: readonly Grant[], scopes: readonly string[], limit: LimitedBy) {
  const inScope = grants.filter((grant) => scopes.includes(grant.scope));
  if (inScope.length === 0) return `the token lacks scope ${scopes.join(" or ")}`;
  const covers = (grant: Grant) =>
    grant.limit === undefined || !limit.applies || (limit.value !== undefined && grant.limit.has(limit.value));
  if (inScope.some(covers)) return undefined;
  const value = limit.applies ? (limit.value ?? "") : "";
  return `the token's ${inScope[0]?.scope} scope is limited to other groups than "${value}"`;
}

/** RFC 6750's challenge: who asks, and what was wrong with the token. */
function challengeOf(realm: string, refusal: Refusal): string | undefined {
  if (refusal.code === "missing_token") return `Bearer realm="${realm}"`;
  if (refusal.code === "invalid_token") return `Bearer realm="${realm}", error="invalid_token"`;
  if (refusal.code === "insufficient_scope") {
    return `Bearer realm="${realm}", error="insufficient_scope", scope="${(refusal.scopes ?? []).join(" ")}"`;
  }
  return undefined;
}

/** The bearer token of a request: its Authorization header's `Bearer <token>`, else the token cookie's value. */
function bearerOf(request: Request, tokenCookie: string | undefined): Presented {
  const header = request.headers.get("authorization");
  const token = header === null ? undefined : bearerPattern.exec(header)?.[1];
  if (token !== undefined) return { kind: "token", token };
  const cookie = tokenCookie === undefined ? undefined : cookieValue(request.headers.get("cookie"), tokenCookie);
  return cookie === undefined || cookie === "" ? { kind: "none", token: "" } : { kind: "token", token: cookie };
}

/** One cookie's value from a Cookie header (URL-decoded), or undefined. */
function cookieValue(header: string | null, name: string): string | undefined {
  if (header === null) return undefined;
  for (const pair of header.split(";")) {
    const separator = pair.indexOf("=");
    if (separator < 0 || pair.slice(0, separator).trim() !== name) continue;
    return decoded(pair.slice(separator + 1).trim());
  }
  return undefined;
}

/**
 * The path exactly as Elysia routes it: from the first "/" at or after index 11 of the
 * URL (it skips "https://" and a host of at least three characters that way; without
 * one, from the start: Bun's URL of a request without a Host header is the bare path).
 * A request with a shorter Host header is routed by what follows, and the check must
 * see the path the router will serve, not the one a URL parser would.
 */
export function routedPath(url: string): string {
  const start = Math.max(0, url.indexOf("/", 11));
  const queryStart = url.indexOf("?", start + 1);
  return queryStart < 0 ? url.slice(start) : url.slice(start, queryStart);
}

function splitPath(path: string): string[] {
  // The router treats "/a/" as "/a".
  const trimmed = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  return trimmed.split("/").slice(1);
}

function segmentsMatch(template: readonly string[], segments: readonly string[]): boolean {
  const wildcard = template.at(-1) === "*";
  if (wildcard ? segments.length < template.length - 1 : segments.length !== template.length) return false;
  for (let index = 0; index < template.length; index += 1) {
    const part = template[index]!;
    if (part === "*") return true;
    const segment = segments[index]!;
    if (part.startsWith(":") ? segment === "" : part !== segment) return false;
  }
  return true;
}

/** Static segments before parameters before wildcards, position by position: the router's preference. */
function compareSpecificity(a: readonly string[], b: readonly string[]): number {
  const rank = (part: string | undefined) => (part === undefined ? 3 : part === "*" ? 2 : part.startsWith(":") ? 1 : 0);
  for (let index = 0; index < Math.max(a.length, b.length); index += 1) {
    const difference = rank(a[index]) - rank(b[index]);
    if (difference !== 0) return difference;
  }
  return 0;
}

function decoded(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** Paths the Swagger plugin serves (UI and document): open, like the operations routes. */
export const swaggerPaths: readonly string[] = ["/swagger", "/swagger/json"];

/**
 * Every route of an Elysia app with the access its detail declares. A route that
 * declares none is a programming error that must not reach a socket: this throws.
 */
export function routesOf(
  app: { routes: readonly { method: string; path: string; hooks?: unknown }[] },
  publicPaths: readonly string[] = swaggerPaths,
): GuardedRoute[] {
  return app.routes.map((route) => {
    if (publicPaths.includes(route.path)) return { method: route.method, path: route.path, access: "open" as const };
    const access = declaredAccess((route.hooks as { detail?: unknown } | undefined)?.detail);
    if (access === undefined) {
      throw new Error(`route ${route.method} ${route.path} declares no security (requiresScope or openAccess)`);
    }
    return { method: route.method, path: route.path, access };
  });
}

/**
 * Guards an Elysia app: call after every route is registered. The check runs as a
 * request hook (after the ones already installed, e.g. request ids), before routing,
 * parsing and validation, so `app.handle` in tests is guarded like the socket.
 */
export function guardApp(app: AnyElysia, options: RouteGuardOptions & { publicPaths?: readonly string[] }): RouteGuard {
  const guard = new RouteGuard(routesOf(app, options.publicPaths), options);
  app.onRequest(({ request }) => guard.check(request));
  return guard;
}
