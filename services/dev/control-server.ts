import { TokenStore } from "../../src/auth/token-store.ts";
import { tokenDigest } from "../../src/auth/token-syntax.ts";
import { oversizedRequest } from "../../src/http/request-limits.ts";
import { type GuardedRoute, RouteGuard } from "../../src/http/route-guard.ts";
import type { ProcessStatus } from "./process-supervisor.ts";
import type { DevStack } from "./stack.ts";
import type { StackFigures } from "./status-panel.ts";

export interface ControlServerOptions {
  port: number;
  stack: DevStack;
  status: () => { processes: ProcessStatus[]; figures: StackFigures | undefined };
  /** The dev control token (dev-secrets.ts): every route needs it. */
  token: string;
}

/** The control endpoint's routes and the scope each needs: the route guard and the 401/403 tests read this. */
export const controlRoutes: readonly GuardedRoute[] = [
  { method: "GET", path: "/status", access: ["control"] },
  { method: "POST", path: "/scale/:kind", access: ["control"] },
];

/**
 * A tiny local endpoint so a second terminal (or a test) can see the stack and
 * scale it: `GET /status`, `POST /scale/streamer?count=3`, with the dev control
 * token (`bun run dev:scale` reads it from the secrets directory).
 */
export function startControlServer(options: ControlServerOptions) {
  const guard = controlGuard(options.token);
  return Bun.serve({
    hostname: "127.0.0.1",
    port: options.port,
    fetch: async (request) => oversizedRequest(request) ?? guard.check(request) ?? (await answer(options, request)),
  });
}

/** The guard of the control routes, accepting one token. */
export function controlGuard(token: string): RouteGuard {
  const tokens = new TokenStore(["control"]);
  tokens.replace("control", "dev-control-token", [{ digest: tokenDigest(token), limit: undefined }]);
  return new RouteGuard(controlRoutes, {
    realm: "dev-control",
    tokens,
    refuse: (refusal) => Response.json({ error: refusal.code, message: refusal.message }, { status: refusal.status }),
  });
}

async function answer(options: ControlServerOptions, request: Request): Promise<Response> {
  const url = new URL(request.url, "http://127.0.0.1");
  if (request.method === "GET" && url.pathname === "/status") return Response.json(options.status());
  const match = /^\/scale\/(streamer|collector)$/.exec(url.pathname);
  if (request.method !== "POST" || match === null) {
    return Response.json(
      { error: "not_found", message: "use GET /status or POST /scale/{streamer|collector}?count=N" },
      { status: 404 },
    );
  }
  const kind = match[1] === "streamer" ? "streamer" : "collector";
  const count = Number(url.searchParams.get("count"));
  try {
    return Response.json({ kind, count: await options.stack.scale(kind, count) });
  } catch (error) {
    return Response.json({ error: "bad_request", message: (error as Error).message }, { status: 400 });
  }
}
