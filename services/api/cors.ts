import { Elysia } from "elysia";
import { openAccess } from "../../src/http/route-security.ts";

/**
 * Cross-origin access for browsers on other sites (a Grafana, a team's own page): off
 * unless origins are configured (API_CORS_ORIGINS). A configured origin's requests
 * get `Access-Control-Allow-Origin` and the headers a client may read; its preflights
 * (OPTIONS with Access-Control-Request-Method) are answered here, without a token,
 * with the methods and request headers the API takes. Any other origin gets no CORS
 * header, so the browser keeps the answer from its page. Credentials (cookies) are
 * never allowed: clients send tokens in Authorization, which a preflight permits.
 */

export interface CorsPolicy {
  /** Exact origins (scheme://host[:port]) allowed, or "*" for any. */
  origins: readonly string[] | "*";
  /** How long a browser may reuse a preflight's answer. */
  maxAgeS: number;
}

export const corsMethods = ["GET", "HEAD", "POST"] as const;
/** Request headers a cross-origin request may carry (beyond the CORS-safelisted ones). */
export const corsRequestHeaders = ["accept", "authorization", "content-type", "last-event-id", "cache-control"];
/** Response headers a cross-origin page may read (beyond the safelisted ones). */
export const corsExposedHeaders = ["x-request-id", "x-telemetry-source", "retry-after", "content-disposition"];
const originPattern = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$|^https?:\/\/\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/** API_CORS_ORIGINS: empty (off), `*`, or comma-separated origins; throws on anything else. */
export function parseCorsOrigins(text: string, maxAgeS = 600): CorsPolicy | undefined {
  const entries = text
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  if (entries.length === 0) return undefined;
  if (entries.includes("*")) {
    if (entries.length > 1) throw new Error("API_CORS_ORIGINS: * allows every origin; list no others with it");
    return { origins: "*", maxAgeS };
  }
  for (const entry of entries) {
    if (!originPattern.test(entry)) {
      throw new Error(
        `API_CORS_ORIGINS: ${JSON.stringify(entry)} is not an origin (scheme://host[:port], no path), e.g. https://grafana.example.com`,
      );
    }
  }
  return { origins: entries.map((entry) => entry.toLowerCase()), maxAgeS };
}

function allowedOrigin(policy: CorsPolicy, origin: string): string | undefined {
  if (policy.origins === "*") return "*";
  return policy.origins.includes(origin.toLowerCase()) ? origin : undefined;
}

/** The answer to a preflight: 204, with the permissions only when origin, method and headers are allowed. */
export function preflightResponse(policy: CorsPolicy, request: Request): Response {
  const headers = new Headers({ vary: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers" });
  const allowed = allowedOrigin(policy, request.headers.get("origin") ?? "");
  const method = (request.headers.get("access-control-request-method") ?? "").toUpperCase();
  const asked = (request.headers.get("access-control-request-headers") ?? "")
    .split(",")
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== "");
  const methodAllowed = (corsMethods as readonly string[]).includes(method);
  const headersAllowed = asked.every((name) => corsRequestHeaders.includes(name));
  if (allowed !== undefined && methodAllowed && headersAllowed) {
    headers.set("access-control-allow-origin", allowed);
    headers.set("access-control-allow-methods", corsMethods.join(", "));
    headers.set("access-control-allow-headers", corsRequestHeaders.join(", "));
    headers.set("access-control-max-age", String(policy.maxAgeS));
  }
  return new Response(null, { status: 204, headers });
}

/** `response` with the CORS headers `request`'s origin gets (none without a policy). */
export function withCors(policy: CorsPolicy | undefined, request: Request, response: Response): Response {
  if (policy !== undefined) applyCors(policy, request, response.headers);
  return response;
}

/** The headers an allowed origin's answer carries. */
function applyCors(policy: CorsPolicy, request: Request, headers: Headers): void {
  const origin = request.headers.get("origin");
  headers.append("vary", "Origin");
  if (origin === null) return;
  const allowed = allowedOrigin(policy, origin);
  if (allowed === undefined) return;
  headers.set("access-control-allow-origin", allowed);
  headers.set("access-control-expose-headers", corsExposedHeaders.join(", "));
}

/**
 * Installed first (app.ts), for every route and every answer. Preflights are a route of
 * their own, `OPTIONS /*`, declared open to the route guard like /health: a browser
 * sends them without a token, and they answer permissions only, never data. Every
 * other request still meets the guard, so a preflight's 204 lets no token-less request
 * through. The headers go on answers of every kind, errors and event streams included
 * (the guard's refusals get them in app.ts: they leave before this hook).
 */
export function corsPlugin(policy: CorsPolicy | undefined) {
  const plugin = new Elysia({ name: "cors" });
  if (policy === undefined) return plugin;
  return plugin
    .options("/*", ({ request }) => preflightResponse(policy, request), {
      detail: { hide: true, ...openAccess },
    })
    .mapResponse({ as: "global" }, ({ request, response, set }) => {
      // A preflight's answer carries exactly the permissions preflightResponse gave.
      if (request.method === "OPTIONS") return;
      if (response instanceof Response) {
        applyCors(policy, request, response.headers);
        return response;
      }
      const headers = new Headers();
      applyCors(policy, request, headers);
      for (const [name, value] of headers) set.headers[name] = value;
    });
}
