import { Elysia } from "elysia";
import { Admin } from "../../src/broker-client/admin.ts";
import { opsRoutes, type ReadinessCheck } from "../../src/http/ops-routes.ts";
import { swaggerUi } from "../../src/http/swagger-ui.ts";
import type { Registry } from "../../src/observability/metrics.ts";
import { type UploadRouteOptions, uploadRoute } from "./upload-route.ts";

export interface StreamerAppOptions {
  registry: Registry;
  brokerUrl: string;
  /** True once the streamer is a member of its group (for /ready). */
  joined: () => boolean;
  readyTimeoutMs: number;
  upload: UploadRouteOptions;
}

/** The streamer's HTTP surface: /health, /ready, /metrics, /swagger and the CSV upload. */
export function createStreamerApp(options: StreamerAppOptions) {
  const broker = new Admin({ brokerUrl: options.brokerUrl });
  const checks: ReadinessCheck[] = [
    { name: "broker", check: () => broker.answers(options.readyTimeoutMs) },
    { name: "group", check: () => options.joined() },
  ];
  return new Elysia({ name: "streamer" })
    .use(
      swaggerUi({
        path: "/swagger",
        documentation: {
          info: {
            title: "Telemetry streamer",
            version: "1",
            description: "CSV upload and operations routes of one streamer",
          },
          tags: [
            { name: "upload", description: "Stream a CSV into the broker once" },
            { name: "operations", description: "Liveness, readiness and Prometheus metrics" },
          ],
        },
      }),
    )
    .use(opsRoutes({ registry: options.registry, checks }))
    .use(uploadRoute(options.upload));
}
