import { openServiceTokens, type ServiceTokens } from "../../src/auth/service-tokens.ts";
import { ConfigError } from "../../src/config/env.ts";
import type { TokenLookup } from "../../src/http/route-guard.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { ApiConfig } from "./config.ts";

/** Who may read: the tokens of scope read, and whether read is left open to anyone. */
export interface ApiAccess {
  tokens: TokenLookup;
  readOpen: boolean;
}

export const apiScopes = ["read"] as const;

/**
 * The API's access from its settings. Read closed with no token configured would
 * refuse everyone: a configuration error. Read open is said at start-up, once, at warn.
 */
export function openApiAccess(config: ApiConfig, logger: Logger): { access: ApiAccess; tokens: ServiceTokens } {
  const tokens = openServiceTokens({
    scopes: apiScopes,
    variables: { read: { name: "API_READ_TOKENS", text: config.API_READ_TOKENS } },
    directory: config.API_TOKENS_DIR,
    reloadMs: config.API_TOKENS_RELOAD_MS,
    logger,
  });
  if (!config.API_READ_OPEN && tokens.store.size === 0) {
    tokens.stop();
    throw new ConfigError(
      "API_READ_OPEN=false but no read token is configured: set API_READ_TOKENS or API_TOKENS_DIR (or API_READ_OPEN=true)",
    );
  }
  if (config.API_READ_OPEN) {
    logger.warn(
      { host: config.API_HOST, port: config.API_PORT },
      "API_READ_OPEN=true: scope read is open, the data routes answer anyone who can reach this address without a token",
    );
  }
  logger.info({ tokenCounts: tokens.store.counts(), readOpen: config.API_READ_OPEN }, "bearer tokens");
  return { access: { tokens: tokens.store, readOpen: config.API_READ_OPEN }, tokens };
}
