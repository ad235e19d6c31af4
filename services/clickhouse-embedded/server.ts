import type { Server } from "bun";
import { opsRoutes } from "../../src/http/ops-routes.ts";
import type { Registry } from "../../src/observability/metrics.ts";
import { ClickHouseHandler, type ClickHouseHandlerOptions } from "./clickhouse-handler.ts";
import { okResponse } from "./responses.ts";

export interface EmbeddedServerOptions extends ClickHouseHandlerOptions {
  host: string;
  port: number;
  registry: Registry;
}

/** Paths ClickHouse answers with a plain "Ok." (liveness and replica checks). */
const okPaths = new Set(["/ping", "/replicas_status"]);
/** Our own operations paths; ClickHouse's client never uses them. */
const opsPaths = new Set(["/health", "/ready", "/metrics"]);

/**
 * One Bun server on one port: ClickHouse's HTTP interface at `/`, `/ping` and
 * `/replicas_status`, plus /health, /ready and /metrics for operations.
 */
export function startEmbeddedServer(options: EmbeddedServerOptions): Server<undefined> {
  const ops = opsRoutes({
    registry: options.registry,
    checks: [{ name: "chdb", check: () => options.engine.isOpen }],
  });
  const clickhouse = new ClickHouseHandler(options);
  return Bun.serve({
    hostname: options.host,
    port: options.port,
    maxRequestBodySize: options.bodyBytesMax,
    idleTimeout: options.keepAliveTimeoutS,
    async fetch(request, server) {
      const { pathname } = new URL(request.url);
      if (okPaths.has(pathname)) return okResponse(clickhouse.server);
      if (opsPaths.has(pathname)) return await ops.handle(request);
      if (pathname !== "/") return new Response(`There is no handle ${pathname}\n`, { status: 404 });
      // A long query or a large insert must not be cut by the keep-alive idle timer.
      server.timeout(request, 0);
      return await clickhouse.handle(request);
    },
  });
}
