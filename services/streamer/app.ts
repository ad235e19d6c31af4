import { Elysia } from "elysia";
import { openServiceTokens, type ServiceTokens } from "../../src/auth/service-tokens.ts";
import { Admin } from "../../src/broker-client/admin.ts";
import type { BrokerConnection } from "../../src/broker-client/connection.ts";
import { opsRoutes, type ReadinessCheck } from "../../src/http/ops-routes.ts";
import { refusalRecorder } from "../../src/http/refusal-log.ts";
import { guardApp, type TokenLookup } from "../../src/http/route-guard.ts";
import { bearerSchemes } from "../../src/http/route-security.ts";
import { swaggerUi } from "../../src/http/swagger-ui.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { Registry } from "../../src/observability/metrics.ts";
import type { StreamerConfig } from "./config.ts";
import { type UploadRouteOptions, uploadRoute } from "./upload-route.ts";

export interface StreamerAppOptions {
  registry: Registry;
  logger: Logger;
  broker: BrokerConnection;
  /** Tokens of scope upload; the upload answers 401 to anyone else. */
  uploadTokens: TokenLookup;
  /** True once the streamer is a member of its group (for /ready). */
  joined: () => boolean;
  readyTimeoutMs: number;
  upload: UploadRouteOptions;
}

export const streamerScopes = ["upload"] as const;

/** The streamer's HTTP surface: /health, /ready, /metrics, /swagger and the CSV upload (scope upload). */
export function createStreamerApp(options: StreamerAppOptions) {
  const app = streamerRoutes(options);
  guardApp(app, {
    realm: "streamer",
    tokens: options.uploadTokens,
    refuse: (refusal) => Response.json({ error: refusal.code, message: refusal.message }, { status: refusal.status }),
    onRefused: refusalRecorder(options.registry, options.logger),
  });
  return app;
}

/** The tokens of scope upload from the settings; none configured means no upload is accepted (said at start-up). */
export function openUploadTokens(config: StreamerConfig, logger: Logger): ServiceTokens {
  const tokens = openServiceTokens({
    scopes: streamerScopes,
    variables: { upload: { name: "STREAMER_UPLOAD_TOKENS", text: config.STREAMER_UPLOAD_TOKENS } },
    directory: config.STREAMER_TOKENS_DIR,
    reloadMs: config.STREAMER_TOKENS_RELOAD_MS,
    logger,
  });
  if (tokens.store.size === 0) {
    logger.warn({}, "no upload token configured (STREAMER_UPLOAD_TOKENS, STREAMER_TOKENS_DIR): uploads answer 401");
  }
  return tokens;
}

function streamerRoutes(options: StreamerAppOptions) {
  const broker = new Admin(options.broker);
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
          components: {
            securitySchemes: bearerSchemes({ upload: "stream a CSV into the broker (STREAMER_UPLOAD_TOKENS)" }),
          },
        },
      }),
    )
    .use(opsRoutes({ registry: options.registry, checks }))
    .use(uploadRoute(options.upload));
}
