import { oversizedRequest } from "../../src/http/request-limits.ts";
import type { ProcessStatus } from "./process-supervisor.ts";
import type { DevStack } from "./stack.ts";
import type { StackFigures } from "./status-panel.ts";

export interface ControlServerOptions {
  port: number;
  stack: DevStack;
  status: () => { processes: ProcessStatus[]; figures: StackFigures | undefined };
}

/**
 * A tiny local endpoint so a second terminal (or a test) can see the stack and
 * scale it: `GET /status`, `POST /scale/streamer?count=3`.
 */
export function startControlServer(options: ControlServerOptions) {
  return Bun.serve({
    hostname: "127.0.0.1",
    port: options.port,
    fetch: async (request) => {
      const oversized = oversizedRequest(request);
      if (oversized !== undefined) return oversized;
      const url = new URL(request.url);
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
    },
  });
}
